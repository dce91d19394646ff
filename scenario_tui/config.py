"""Settings: built-in defaults < TOML file < environment < command-line flags."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from platformdirs import user_config_path, user_data_path, user_pictures_path
from pydantic import AliasChoices, Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from scenario_tui.core.api import DEFAULT_BASE_URL
from scenario_tui.core.boundary import is_loopback
from scenario_tui.core.params import PARAM_INFO, check

APP_NAME = "scenario-tui"
CONFIG_ENV = "SCENARIO_TUI_CONFIG"
ImageProtocol = Literal["auto", "sixel", "kitty", "halfcell", "unicode", "none"]

MAX_CONFIG_BYTES = 2**20
_file_data: ContextVar[dict[str, Any]] = ContextVar("_file_data", default={})


class ConfigError(Exception):
    """The configuration can't be used; the message names the file and what is wrong."""


def default_config_path() -> Path:
    return user_config_path(APP_NAME) / "config.toml"


def data_dir() -> Path:
    return user_data_path(APP_NAME)


class _TomlSource(PydanticBaseSettingsSource):
    """The already-parsed config file, below the environment in priority."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover - unused
        return _file_data.get().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_file_data.get())


class Settings(BaseSettings):
    """Everything configurable. Field names are also the keys of the TOML file."""

    model_config = SettingsConfigDict(env_prefix="SCENARIO_TUI_", extra="forbid", populate_by_name=True)

    api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("api_key", "SCENARIO_API_KEY", "SCENARIO_SDK_API_KEY"),
        description="Scenario API key (Workspace settings > API keys).",
    )
    api_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("api_secret", "SCENARIO_API_SECRET", "SCENARIO_SDK_API_SECRET"),
        description="Scenario API secret.",
    )
    base_url: str = Field(
        DEFAULT_BASE_URL, validation_alias=AliasChoices("base_url", "SCENARIO_BASE_URL"),
        description="API base URL (https).",
    )
    sandbox: bool = Field(False, description="Use the built-in simulator even when credentials are set.")
    output_dir: Path = Field(default_factory=lambda: user_pictures_path() / APP_NAME,
                             description="Where results and their parameters are saved.")
    image_protocol: ImageProtocol = Field("auto", description="Terminal graphics for previews.")
    confirm_above: float = Field(20.0, ge=0, allow_inf_nan=False, description="Ask before submitting a job quoted above this many CU.")
    poll_interval: float = Field(1.0, gt=0, le=600, allow_inf_nan=False, description="First wait between job status checks, seconds.")
    poll_max_interval: float = Field(8.0, gt=0, le=3600, allow_inf_nan=False, description="Longest wait between job status checks, seconds.")
    follow_timeout: float = Field(24 * 3600.0, gt=0, le=30 * 24 * 3600, allow_inf_nan=False,
                                  description="How long one job is followed before it is left running on the "
                                              "server for a later resume, seconds.")
    sandbox_job_seconds: float = Field(6.0, ge=0, le=3600, allow_inf_nan=False, description="How long a sandbox job takes.")
    max_download_mb: float = Field(200.0, gt=0, le=4096, allow_inf_nan=False,
                                   description="Largest result download accepted, in MiB.")
    upload_inputs: bool = Field(True, description="Upload the input image and references once as hidden assets and "
                                                  "refer to them by id (false: send them inline every time).")
    context_crop: bool = Field(False, description="scenario-tui generate: send only the mask's box (plus "
                                                  "crop_padding) of the input image and paste the result back into "
                                                  "the whole image; references are not cropped.")
    crop_padding: int = Field(32, ge=0, le=4096, description="Pixels of context kept around the mask's box when "
                                                           "context_crop is on.")
    defaults: dict[str, Any] = Field(default_factory=dict,
                                     description="Default parameter values, by API name (e.g. strength = 0.6).")
    keymap: dict[str, Any] = Field(default_factory=dict,  # checked by the TUI: a bad entry is a warning
                                   description="Keys by binding id, e.g. submit = \"ctrl+s\" (ids in the help screen).")
    _config_file: Path | None = PrivateAttr(None)

    @property
    def config_file(self) -> Path | None:
        """The config file the settings were read from, if one was (to name it in warnings)."""
        return self._config_file

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _TomlSource(settings_cls)

    @field_validator("base_url")
    @classmethod
    def _https(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        try:
            url = urlsplit(v)
            host = url.hostname
            url.port  # noqa: B018 - raises on a port that is not a number in range
        except ValueError as exc:
            raise ValueError(f"not a usable URL ({exc})") from None
        if not host:
            raise ValueError("must be a URL such as https://api.cloud.scenario.com/v1")
        if url.scheme != "https" and not (url.scheme == "http" and is_loopback(host)):
            raise ValueError("must start with https:// (plain http only for a loopback host: 127.0.0.0/8, ::1 "
                             "or localhost)")
        return v

    @field_validator("output_dir")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        if "\0" in str(v):
            raise ValueError("a folder name can't hold a NUL character")
        return v.expanduser()

    @field_validator("defaults")
    @classmethod
    def _known_params(cls, v: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(v) - set(PARAM_INFO))
        if unknown:
            raise ValueError(f"unknown parameter(s): {', '.join(unknown)} (use the API names, e.g. numSamples)")
        bad = [str(p) for p in check(v).errors if p.field in v]
        if bad:
            raise ValueError("; ".join(bad))
        return v

    @property
    def credentials(self) -> tuple[str, str] | None:
        if self.api_key and self.api_secret:
            return self.api_key.get_secret_value(), self.api_secret.get_secret_value()
        return None

    @property
    def use_sandbox(self) -> bool:
        return self.sandbox or self.credentials is None

    def mode_reason(self) -> str:
        """One line saying which backend is used and why (never shows a secret)."""
        if self.sandbox:
            return "SANDBOX: simulated API (--sandbox); nothing is sent to Scenario and nothing is charged."
        if self.api_key and not self.api_secret:
            return "SANDBOX: an API key is set but no secret (SCENARIO_API_SECRET); using the offline simulator."
        if self.api_secret and not self.api_key:
            return "SANDBOX: an API secret is set but no key (SCENARIO_API_KEY); using the offline simulator."
        if self.credentials is None:
            return ("SANDBOX: no credentials, so this is the offline simulator. Set SCENARIO_API_KEY and "
                    "SCENARIO_API_SECRET (or api_key/api_secret in the config file) to use Scenario.")
        return f"LIVE: Scenario API at {self.base_url}"


def read_config_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """Parse the TOML file; return its data and warnings. Missing file = empty.

    Only a regular file of at most ``MAX_CONFIG_BYTES`` is read (not a directory, /dev/zero or a FIFO).
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return {}, []
    except OSError as exc:
        raise ConfigError(f"{path}: can't be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path}: not a regular file")
    if info.st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 2**20} MiB, not a config file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, []
    except OSError as exc:
        raise ConfigError(f"{path}: can't be read ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None  # tomllib's text carries "(at line N, column M)"
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config file") from None
    warnings = []
    if "api_secret" in data and os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.append(f"{path} holds your API secret and other users can read it: run chmod 600 {path}")
    return data, warnings


def load_settings(config_path: Path | None = None, **overrides: Any) -> tuple[Settings, list[str]]:
    """Build the settings from file, environment and flags; return them with warnings for stderr.

    Raises ``ConfigError`` with the file, key and reason when something is wrong.
    """
    explicit = config_path or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    path = (explicit or default_config_path()).expanduser()
    if explicit and not path.exists():
        raise ConfigError(f"{path}: no such config file")
    data, warnings = read_config_file(path)
    token = _file_data.set(data)
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:  # a table setting in the environment that is not JSON
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"SCENARIO_TUI_{field.group(1).upper()}" if field else "a SCENARIO_TUI_ variable"
        raise ConfigError(f"environment {name}: not valid JSON (a table setting is given as a JSON object, "
                          'e.g. {"strength": 0.6})') from None
    except ValidationError as exc:
        problems = [(str(e["loc"][0]) if e["loc"] else "", e["msg"].removeprefix("Value error, "), e["loc"])
                    for e in exc.errors()]
        raise ConfigError("; ".join(_where(path, data, key, overrides) + f"{'.'.join(map(str, loc)) or 'settings'}: "
                                    f"{msg}" + _line(path, data, key) for key, msg, loc in problems)) from None
    finally:
        _file_data.reset(token)
    if settings.poll_max_interval < settings.poll_interval:
        raise ConfigError(f"{path}: poll_max_interval must not be below poll_interval"
                          + _line(path, data, "poll_max_interval"))
    settings._config_file = path if data else None
    return settings, warnings


def _where(path: Path, data: dict[str, Any], key: str, overrides: dict[str, Any]) -> str:
    """Where a bad value came from: a flag, the environment (by variable), else the config file."""
    if overrides.get(key) is not None:
        return "command line: "
    if key not in data:
        field = Settings.model_fields.get(key)
        alias = field.validation_alias if field else None
        names = [n for n in (alias.choices if isinstance(alias, AliasChoices) else []) if isinstance(n, str)]
        for name in [f"SCENARIO_TUI_{key.upper()}", *names]:
            if name in os.environ:
                return f"environment {name}: "
    return f"{path}: "


def _line(path: Path, data: dict[str, Any], key: str) -> str:
    """`` (line N)``: where ``key`` is set (or its table starts) in the config file, when it is set there."""
    if key not in data:
        return ""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    pattern = re.compile(rf"""^\s*(\[\s*{re.escape(key)}\s*\]|["']?{re.escape(key)}["']?\s*[=.])""")
    return next((f" (line {n})" for n, text in enumerate(lines, 1) if pattern.match(text)), "")


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
