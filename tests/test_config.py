"""Settings: file < environment < flags, credentials, warnings and clear errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from scenario_tui.config import ConfigError, default_config_path, load_settings, write_private


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_no_credentials_means_sandbox_and_says_so() -> None:
    settings, warnings = load_settings()
    assert settings.use_sandbox and settings.credentials is None and warnings == []
    assert settings.mode_reason().startswith("SANDBOX: no credentials")
    assert "SCENARIO_API_KEY" in settings.mode_reason()


@pytest.mark.parametrize("prefix", ["SCENARIO_API", "SCENARIO_SDK_API"])
def test_credentials_from_either_env_naming(prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"{prefix}_KEY", "k1")
    monkeypatch.setenv(f"{prefix}_SECRET", "s1")
    settings, _ = load_settings()
    assert settings.credentials == ("k1", "s1") and not settings.use_sandbox
    assert settings.mode_reason().startswith("LIVE")
    assert "s1" not in repr(settings) and "k1" not in settings.mode_reason()


def test_half_credentials_fall_back_to_sandbox_with_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENARIO_API_KEY", "k1")
    settings, _ = load_settings()
    assert settings.use_sandbox and "no secret" in settings.mode_reason()


def test_sandbox_flag_wins_over_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENARIO_API_KEY", "k1")
    monkeypatch.setenv("SCENARIO_API_SECRET", "s1")
    settings, _ = load_settings(sandbox=True)
    assert settings.use_sandbox and "--sandbox" in settings.mode_reason()


def test_priority_flags_over_env_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path / "c.toml", 'output_dir = "/from/file"\nconfirm_above = 5\nbase_url = "https://file.example/v1"\n')
    settings, _ = load_settings(cfg)
    assert settings.output_dir == Path("/from/file") and settings.confirm_above == 5
    monkeypatch.setenv("SCENARIO_TUI_OUTPUT_DIR", "/from/env")
    monkeypatch.setenv("SCENARIO_BASE_URL", "https://env.example/v1/")
    settings, _ = load_settings(cfg)
    assert settings.output_dir == Path("/from/env") and settings.base_url == "https://env.example/v1"
    settings, _ = load_settings(cfg, output_dir=Path("/from/flag"))
    assert settings.output_dir == Path("/from/flag") and settings.confirm_above == 5


def test_config_path_from_env_and_default_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path / "elsewhere.toml", "confirm_above = 7\n")
    monkeypatch.setenv("SCENARIO_TUI_CONFIG", str(cfg))
    assert load_settings()[0].confirm_above == 7
    monkeypatch.delenv("SCENARIO_TUI_CONFIG")
    default = default_config_path()
    default.parent.mkdir(parents=True)
    write(default, "confirm_above = 9\n")
    assert load_settings()[0].confirm_above == 9


def test_defaults_table_is_checked_against_the_parameter_model(tmp_path: Path) -> None:
    ok = write(tmp_path / "ok.toml", "[defaults]\nstrength = 0.6\nnumSamples = 2\nscheduler = \"LCMScheduler\"\n")
    assert load_settings(ok)[0].defaults == {"strength": 0.6, "numSamples": 2, "scheduler": "LCMScheduler"}
    bad = write(tmp_path / "bad.toml", "[defaults]\nstrength = 3\n")
    with pytest.raises(ConfigError, match=r"bad.toml: defaults: Strength: must be between 0.01 and 1"):
        load_settings(bad)
    unknown = write(tmp_path / "unknown.toml", "[defaults]\nsteps = 30\n")
    with pytest.raises(ConfigError, match="unknown parameter.*steps.*API names"):
        load_settings(unknown)


def test_malformed_file_gives_file_line_and_reason(tmp_path: Path) -> None:
    cfg = write(tmp_path / "broken.toml", 'confirm_above = 5\nsandbox = = true\n')
    with pytest.raises(ConfigError, match=r"broken.toml: .*line 2"):
        load_settings(cfg)


@pytest.mark.parametrize(("text", "message"), [
    ("colour = 1\n", "colour: Extra inputs are not permitted"),
    ('image_protocol = "ascii"\n', "image_protocol"),
    ('base_url = "http://api.example/v1"\n', "base_url: .*https://"),
    ("poll_interval = 5\npoll_max_interval = 1\n", "poll_max_interval must not be below poll_interval"),
])
def test_bad_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path / "c.toml", text))


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "nope.toml")


def test_secret_in_a_file_others_can_read_is_warned_about(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", 'api_key = "k"\napi_secret = "s3cr3t"\n', mode=0o644)
    settings, warnings = load_settings(cfg)
    assert settings.credentials == ("k", "s3cr3t")
    assert len(warnings) == 1 and "chmod 600" in warnings[0] and "s3cr3t" not in warnings[0]
    cfg.chmod(0o600)
    assert load_settings(cfg)[1] == []


def test_write_private_creates_owner_only_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "state.json"
    write_private(target, "{}")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600 and target.read_text() == "{}"


@pytest.mark.parametrize("url", [
    "https://api.cloud.scenario.com/v1", "http://127.0.0.1:8787/v1", "http://127.9.8.7/v1", "http://localhost:1/v1",
    "http://LOCALHOST/v1", "http://[::1]:8787/v1", "https://example.com:8443/v1/",
])
def test_base_url_is_https_or_plain_http_to_a_loopback_host(url: str) -> None:
    assert load_settings(base_url=url)[0].base_url == url.rstrip("/")


@pytest.mark.parametrize("url", [
    "http://localhost.evil.com/v1", "http://127.0.0.1.evil.com/v1", "http://127.0.0.1@evil.com/v1",
    "http://api.cloud.scenario.com/v1", "http://10.0.0.1/v1", "ftp://127.0.0.1/v1", "https:///v1", "api.example/v1",
    "http://[::2]/v1", "https://example.com:99999/v1", "",
])
def test_base_url_that_is_not_https_or_loopback_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="base_url: "):
        load_settings(base_url=url)


@pytest.mark.parametrize("key", ["confirm_above", "poll_interval", "poll_max_interval", "sandbox_job_seconds",
                                 "follow_timeout", "max_download_mb"])
@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_numeric_settings_must_be_finite(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(write(tmp_path / "c.toml", f"{key} = {value}\n"))


@pytest.mark.parametrize("path", [Path("/dev/zero"), Path("/dev/null"), None])
def test_a_config_path_that_is_not_a_regular_file_is_refused(tmp_path: Path, path: Path | None) -> None:
    target = path or tmp_path  # a directory
    with pytest.raises(ConfigError, match=f"{target}: not a regular file"):
        load_settings(target)


def test_a_huge_config_file_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (2**20 + 1))
    with pytest.raises(ConfigError, match="big.toml: larger than 1 MiB"):
        load_settings(big)


def test_deeply_nested_toml_names_the_file(tmp_path: Path) -> None:
    deep = write(tmp_path / "deep.toml", "defaults = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ConfigError, match="deep.toml: nested too deeply"):
        load_settings(deep)


@pytest.mark.parametrize(("text", "message"), [
    ("confirm_above = 5\npoll_interval = inf\n", r"c.toml: poll_interval: .*finite.* \(line 2\)"),
    ("\n\n[defaults]\nstrength = 3\n", r"c.toml: defaults: Strength: .* \(line 3\)"),
    ("poll_interval = 5\n\npoll_max_interval = 1\n", r"c.toml: poll_max_interval must not be below .* \(line 3\)"),
    ("sandbox = true\n'colour' = 1\n", r"c.toml: colour: Extra inputs .* \(line 2\)"),
])
def test_a_bad_value_in_the_file_names_its_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path / "c.toml", text))


def test_a_bad_value_from_the_environment_or_a_flag_names_where_it_came_from(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENARIO_TUI_POLL_INTERVAL", "nan")
    with pytest.raises(ConfigError, match=r"^environment SCENARIO_TUI_POLL_INTERVAL: poll_interval: .*finite"):
        load_settings()
    monkeypatch.delenv("SCENARIO_TUI_POLL_INTERVAL")
    monkeypatch.setenv("SCENARIO_BASE_URL", "http://example.com/v1")
    with pytest.raises(ConfigError, match=r"^environment SCENARIO_BASE_URL: base_url: "):
        load_settings()
    with pytest.raises(ConfigError, match=r"^command line: base_url: "):
        load_settings(base_url="http://example.com/v1")


def test_a_table_setting_in_the_environment_that_is_not_json_names_the_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENARIO_TUI_DEFAULTS", "strength=0.5")
    with pytest.raises(ConfigError, match=r"^environment SCENARIO_TUI_DEFAULTS: not valid JSON"):
        load_settings()


def test_an_output_folder_with_a_nul_character_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"c.toml: output_dir: .*NUL.* \(line 1\)"):
        load_settings(write(tmp_path / "c.toml", 'output_dir = "o\\u0000ut"\n'))


@pytest.mark.parametrize(("key", "value"), [("poll_interval", "601"), ("poll_max_interval", "3601"),
                                            ("follow_timeout", "3e6"), ("sandbox_job_seconds", "1e5")])
def test_waits_have_an_upper_bound(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"{key}: Input should be less than or equal to .* \(line 1\)"):
        load_settings(write(tmp_path / "c.toml", f"{key} = {value}\n"))
