"""Bad input from the user: files, flags, config files and the environment, through the real commands.

Every case must end with a documented exit code (mostly 2, saying why), pay for nothing, crash nowhere,
write nothing outside the output folder and put no control character on the terminal (file names and
config keys are echoed back, and may carry escape sequences).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.faults.fakeapi import ESCAPES, FakeAPI
from tests.faults.harness import Harness, record

OK, BAD = 0, 2
ARGV_ESCAPES = ESCAPES.replace("\0", "")  # what an argument or a variable can hold


@dataclass
class Bad:
    name: str
    argv: Callable[[Harness], list[str]]
    codes: set[int] = field(default_factory=lambda: {BAD})
    env: dict[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()  # the harness's own settings, so the file's value is the one used


def gen(*extra: str) -> Callable[[Harness], list[str]]:
    return lambda w: w.generate(*extra)


def gen_with(flag: str, value: Callable[[Harness], str]) -> Callable[[Harness], list[str]]:
    """The generate command with ``flag`` replaced (or added) by a value made in the world."""

    def argv(w: Harness) -> list[str]:
        args = w.generate()
        if flag in args:
            args[args.index(flag) + 1] = value(w)
        else:
            args += [flag, value(w)]
        return args

    return argv


def gen_without(*flags: str) -> Callable[[Harness], list[str]]:
    def argv(w: Harness) -> list[str]:
        args = w.generate()
        for flag in flags:
            i = args.index(flag)
            del args[i:i + 2]
        return args

    return argv


def file_in(w: Harness, name: str, content: bytes) -> str:
    path = w.tmp / "in" / name
    path.write_bytes(content)
    return str(path)


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG header for a huge image (a decompression bomb's first bytes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = b"IDAT" + zlib.compress(b"\0" * 64)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
            + struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat))
            + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))


def _fifo(w: Harness) -> str:
    path = w.tmp / "in" / "fifo.png"
    os.mkfifo(path)
    return str(path)


def _loop(w: Harness) -> str:
    path = w.tmp / "in" / "loop.png"
    path.symlink_to(path)
    return str(path)


def _a_file(w: Harness) -> str:
    return file_in(w, "not-a-folder", b"x")


def _mask_of_another_size(w: Harness) -> str:
    from tests.conftest import make_mask

    return str(make_mask(w.tmp / "in" / "small-mask.png", (32, 32)))


def config(text: str | bytes) -> Callable[[Harness], list[str]]:
    """``models`` with ``--config`` a file of this content."""

    def argv(w: Harness) -> list[str]:
        path = w.tmp / "in" / "config.toml"
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        path.chmod(0o600)
        return ["--config", str(path), "models", "--json"]

    return argv


def config_then_generate(text: str) -> Callable[[Harness], list[str]]:
    def argv(w: Harness) -> list[str]:
        path = w.tmp / "in" / "config.toml"
        path.write_text(text.replace("{tmp}", str(w.tmp)))
        path.chmod(0o600)
        args = w.generate()
        i = args.index("--output-dir")
        return ["--config", str(path), *args[:i], *args[i + 2:]]

    return argv


def models() -> Callable[[Harness], list[str]]:
    return lambda w: ["models", "--json"]


FILES = [
    Bad("image missing", gen_with("--image", lambda w: str(w.tmp / "in" / "nope.png"))),
    Bad("image a directory", gen_with("--image", lambda w: str(w.tmp / "in"))),
    Bad("image empty", gen_with("--image", lambda w: file_in(w, "empty.png", b""))),
    Bad("image is text", gen_with("--image", lambda w: file_in(w, "text.png", b"hello, world\n" * 10))),
    Bad("image truncated", gen_with("--image", lambda w: file_in(w, "cut.png", w.image.read_bytes()[:60]))),
    Bad("image /dev/zero", gen_with("--image", lambda w: "/dev/zero")),
    Bad("image a fifo", gen_with("--image", _fifo)),
    Bad("image a symlink loop", gen_with("--image", _loop)),
    Bad("image a decompression bomb", gen_with("--image", lambda w: file_in(w, "bomb.png",
                                                                             _png_claiming(60_000, 60_000)))),
    Bad("image name too long", gen_with("--image", lambda w: "x" * 5000 + ".png")),
    Bad("image name with escapes", gen_with("--image", lambda w: str(w.tmp / "in" / f"in{ARGV_ESCAPES}.png"))),
    Bad("image name without extension", gen_with("--image", lambda w: "myinput")),
    Bad("mask missing", gen_with("--mask", lambda w: str(w.tmp / "in" / "nomask.png"))),
    Bad("mask of another size", gen_with("--mask", _mask_of_another_size)),
    Bad("mask not an image", gen_with("--mask", lambda w: file_in(w, "mask.txt", b"\x00\x01" * 100))),
    Bad("ref missing", gen_with("--ref", lambda w: str(w.tmp / "in" / "noref.png"))),
    Bad("ref mistyped without extension", gen_with("--ref", lambda w: "refimage")),
    Bad("refs mixing a file and an asset id", lambda w: [*w.generate(), "--ref", "asset_abc123"]),
    Bad("deprecated reference missing", gen_with("--ip-adapter-image", lambda w: "gone.png")),
    Bad("output folder is a file", gen_with("--output-dir", _a_file)),
    Bad("output folder under a file", gen_with("--output-dir", lambda w: str(Path(_a_file(w)) / "sub"))),
    Bad("output folder in /proc", gen_with("--output-dir", lambda w: "/proc/self/nope/out")),
    Bad("config a directory", lambda w: ["--config", str(w.tmp), "models"]),
    Bad("mask like /dev/zero", lambda w: ["mask", "--like", "/dev/zero", str(w.out / "m.png")]),
    Bad("mask from a missing file", lambda w: ["mask", "--from", "nope.png", str(w.out / "m.png")]),
    Bad("mask written over a folder", lambda w: ["mask", "--size", "8x8", str(w.tmp / "in")]),
    Bad("mask written into /proc", lambda w: ["mask", "--size", "8x8", "/proc/self/nope/m.png"]),
]

FLAGS = [
    Bad("max-cost nan", gen("--max-cost", "nan")),
    Bad("max-cost inf", gen("--max-cost", "inf")),
    Bad("max-cost negative", gen("--max-cost", "-1")),
    Bad("max-cost letters", gen("--max-cost", "abc")),
    Bad("num-samples 0", gen_with("--num-samples", lambda w: "0")),
    Bad("num-samples 1000", gen_with("--num-samples", lambda w: "1000")),
    Bad("num-samples letters", gen_with("--num-samples", lambda w: "many")),
    Bad("num-samples fraction", gen_with("--num-samples", lambda w: "1.5")),
    Bad("strength 2", gen("--strength", "2")),
    Bad("strength nan", gen("--strength", "nan")),
    Bad("strength -inf", gen("--strength", "-inf")),
    Bad("guidance overflow", gen("--guidance", "1e400")),
    Bad("seed negative", gen_with("--seed", lambda w: "-1")),
    Bad("seed letters", gen_with("--seed", lambda w: "abc")),
    Bad("seed huge", gen_with("--seed", lambda w: "9" * 40)),
    Bad("width not a multiple", gen("--width", "13", "--height", "512")),
    Bad("width negative", gen("--width", "-512", "--height", "512")),
    Bad("concept malformed", gen("--concept", "bad")),
    Bad("concept scale nan", gen("--concept", "model_x:nan")),
    Bad("ip-adapter scale letters", gen("--ip-adapter-scales", "x")),
    Bad("ip-adapter scale 5", gen("--ip-adapter-scales", "5")),
    Bad("scheduler unknown", gen("--scheduler", "Bogus")),
    Bad("unknown flag", gen("--frobnicate")),
    Bad("prompt with escapes", gen_with("--prompt", lambda w: f"a lighthouse{ESCAPES}"), {OK, BAD}),
    Bad("prompt of 100k characters", gen_with("--prompt", lambda w: "a" * 100_000), {OK, BAD}),
    Bad("base-url plain http", lambda w: ["--base-url", "http://evil.test/v1", "models"]),
    Bad("base-url not a url", lambda w: ["--base-url", "not a url", "models"]),
    Bad("base-url port out of range", lambda w: ["--base-url", "https://h.test:99999/v1", "models"]),
    Bad("base-url lookalike loopback", lambda w: ["--base-url", "http://localhost.evil.com/v1", "models"]),
    Bad("model empty", gen_with("--model", lambda w: "")),
    Bad("jobs limit letters", lambda w: ["jobs", "--limit", "abc"]),
    Bad("jobs limit negative", lambda w: ["jobs", "--limit", "-5"], {OK}),
    Bad("jobs show unknown", lambda w: ["jobs", "show", f"nope{ESCAPES}"]),
    Bad("cancel unknown", lambda w: ["cancel", "job_unknown", "--json"]),
    Bad("sandbox port -1", lambda w: ["sandbox", "--port", "-1"]),
    Bad("sandbox port 70000", lambda w: ["sandbox", "--port", "70000"]),
    Bad("sandbox port letters", lambda w: ["sandbox", "--port", "http"]),
    Bad("image protocol unknown", lambda w: ["--image-protocol", "braille", "models"]),
    Bad("no image", gen_without("--image")),
    Bad("no reference", gen_without("--ref")),
    Bad("no command argument", lambda w: ["jobs", "show"]),
    Bad("mask of 100000x100000", lambda w: ["mask", "--size", "100000x100000", str(w.out / "m.png")]),
    Bad("mask rect nan", lambda w: ["mask", "--size", "8x8", "--rect", "nan,0,1,1", str(w.out / "m.png")]),
    Bad("mask feather 1e30", lambda w: ["mask", "--size", "8x8", "--feather", "1e30", str(w.out / "m.png")]),
]

CONFIGS = [
    Bad("config not TOML", config("sandbox = = true\n")),
    Bad("config /dev/zero", lambda w: ["--config", "/dev/zero", "models"]),
    Bad("config nested too deeply", config("x = " + "[" * 5000 + "]" * 5000 + "\n")),
    Bad("config unknown key", config("colour = 1\n")),
    Bad("config key with escapes", config(f'"k{ESCAPES.replace(chr(0), "")}" = 1\n'.encode("unicode_escape")
                                          .replace(b"\\\\", b"\\"))),
    Bad("config wrong type", config('poll_interval = "fast"\n')),
    Bad("config poll_interval inf", config("poll_interval = inf\n")),
    Bad("config poll_interval 0", config("poll_interval = 0\n")),
    Bad("config poll_interval negative", config("poll_interval = -1\n")),
    Bad("config poll_interval a year", config("poll_interval = 3.2e7\n")),
    Bad("config follow_timeout a century", config("follow_timeout = 3.2e9\n"), unset=("SCENARIO_TUI_FOLLOW_TIMEOUT",)),
    Bad("config follow_timeout 0", config("follow_timeout = 0\n"), unset=("SCENARIO_TUI_FOLLOW_TIMEOUT",)),
    Bad("config max_download_mb huge", config("max_download_mb = 1e9\n"), unset=("SCENARIO_TUI_MAX_DOWNLOAD_MB",)),
    Bad("config base_url http", config('base_url = "http://api.example.com/v1"\n'), unset=("SCENARIO_BASE_URL",)),
    Bad("config output_dir with a NUL", config_then_generate('output_dir = "{tmp}/o\\u0000ut"\n')),
    Bad("config defaults unknown", config("[defaults]\nsteps = 30\n")),
    Bad("config defaults out of range", config("[defaults]\nstrength = 5\n")),
    Bad("config not UTF-8", config(b"sandbox = true\n# \xff\xfe\n")),
    Bad("config over 1 MiB", config("# " + "x" * 2**20 + "\n")),
    Bad("config keymap not a table", config("keymap = 5\n")),
    Bad("config missing", lambda w: ["--config", str(w.tmp / "none.toml"), "models"]),
    Bad("config poll_max below poll", config("poll_interval = 5\npoll_max_interval = 1\n")),
    Bad("config output_dir in /proc", config_then_generate('output_dir = "/proc/self/nope"\n')),
    Bad("config output_dir a file", config_then_generate('output_dir = "{tmp}/in/input.png"\n')),
]

ENVIRONMENT = [
    Bad("env poll interval inf", models(), env={"SCENARIO_TUI_POLL_INTERVAL": "inf"}),
    Bad("env poll interval letters", models(), env={"SCENARIO_TUI_POLL_INTERVAL": "soon"}),
    Bad("env base url http", models(), env={"SCENARIO_BASE_URL": "http://x.test/v1"}),
    Bad("env config missing", models(), env={"SCENARIO_TUI_CONFIG": "/nonexistent/c.toml"}),
    Bad("env config /dev/zero", models(), env={"SCENARIO_TUI_CONFIG": "/dev/zero"}),
    Bad("env max download 0", models(), env={"SCENARIO_TUI_MAX_DOWNLOAD_MB": "0"}),
    Bad("env sandbox maybe", models(), env={"SCENARIO_TUI_SANDBOX": "maybe"}),
    Bad("env defaults not JSON", models(), env={"SCENARIO_TUI_DEFAULTS": "strength=0.5"}),
    Bad("env defaults out of range", models(), env={"SCENARIO_TUI_DEFAULTS": '{"strength": 9}'}),
    Bad("env keymap a list", models(), env={"SCENARIO_TUI_KEYMAP": "[1, 2]"}),
    Bad("env follow timeout negative", models(), env={"SCENARIO_TUI_FOLLOW_TIMEOUT": "-5"}),
    Bad("env image protocol unknown", models(), env={"SCENARIO_TUI_IMAGE_PROTOCOL": "braille"}),
    Bad("env output dir a file", gen_without("--output-dir"), env={"SCENARIO_TUI_OUTPUT_DIR": "/dev/null"}),
    Bad("env confirm_above nan", models(), env={"SCENARIO_TUI_CONFIRM_ABOVE": "nan"}),
    Bad("env value with escapes", models(), env={"SCENARIO_TUI_POLL_INTERVAL": f"1{ARGV_ESCAPES}"}),
]


def test_there_are_sixty_bad_inputs() -> None:
    names = [b.name for b in FILES + FLAGS + CONFIGS + ENVIRONMENT]
    assert len(set(names)) == len(names) >= 60


@pytest.mark.parametrize("cases", [FILES, FLAGS, CONFIGS, ENVIRONMENT], ids=["files", "flags", "config", "env"])
def test_bad_input(world: Harness, monkeypatch: pytest.MonkeyPatch, cases: list[Bad]) -> None:
    failures = []
    for case in cases:
        api = FakeAPI()
        with monkeypatch.context() as env:
            for name, value in case.env.items():
                env.setenv(name, value)
            for name in case.unset:
                env.delenv(name)
            outcome = world.run(api, case.argv(world))
        record(outcome, bad_input=True)
        paid = api.generate_posts and outcome.code != OK
        said = outcome.err.strip() or outcome.code == OK
        if outcome.problems or outcome.code not in case.codes or paid or not said:
            failures.append((case.name, outcome.code, outcome.problems, outcome.err[-600:]))
    assert failures == [], "\n".join(f"{n}: exit {c}, {p}, {e}" for n, c, p, e in failures)
