"""What the terminal can draw, asked once before the app starts, and ``scenario-tui doctor``.

Queries are sent in rounds, each ending with DA1 (``CSI c``), which every terminal answers; a
round therefore ends as soon as the DA1 reply arrives, and after a bounded timeout otherwise.
Only queries a terminal is known to ignore quietly are sent blind (DA1, XTVERSION, the cell
size); the rest are sent only once an answer says the terminal understands them:

* XTSMGRAPHICS (colour registers) only to terminals that report sixel in DA1;
* the kitty graphics query (an APC string, printed as text by rxvt-unicode and taken as the
  window name by tmux) only to terminals that name themselves kitty, ghostty or WezTerm, and
  never inside tmux or screen.

No Textual import here: the doctor command stays fast. Everything shown to the user from the
environment or from terminal replies goes through :func:`clean` first.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

ASSUMED_CELL = (10, 20)
"""Pixels per cell when nothing says otherwise (a VT340's)."""
DEFAULT_REGISTERS = 256
KITTY_PLACEHOLDERS = (0, 28)
"""kitty version that understands unicode placeholders (the ``U=1`` key)."""
ROUND_TIMEOUT = 0.5
"""Longest wait for one round of answers (SSH links can be slow); a terminal that answers DA1 ends it sooner."""

_DA1 = re.compile(rb"\x1b\[\?([\d;]*)c")
_XTVERSION = re.compile(rb"\x1bP>\|(.*?)\x1b\\", re.S)
_GRAPHICS = re.compile(rb"\x1b\[\?1;(\d+);(\d+)S")
_CELL = re.compile(rb"\x1b\[6;(\d+);(\d+)t")
_KITTY = re.compile(rb"\x1b_G(.*?)\x1b\\", re.S)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_KITTY_QUERY_ID = 31
_ENV = ("TERM", "TERM_PROGRAM", "TERM_PROGRAM_VERSION", "COLORTERM", "TMUX", "STY", "SSH_CONNECTION", "SSH_TTY",
        "KITTY_WINDOW_ID", "TEXTUAL_CELL_WIDTH", "TEXTUAL_CELL_HEIGHT")


def clean(text: str | None) -> str | None:
    """``text`` with control characters shown as ``\\xNN``: an env value or reply can't reach the terminal raw."""
    if text is None:
        return None
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


@dataclass
class Probe:
    """What was found out about the terminal. Strings are as received; show them through :func:`clean`."""

    env: dict[str, str] = field(default_factory=dict)
    stdin_tty: bool = False
    stdout_tty: bool = False
    da1: list[int] | None = None
    xtversion: str | None = None
    kitty: str | None = None
    kitty_note: str = "not asked"
    registers: int | None = None
    registers_note: str = "not asked"
    cell: tuple[int, int] = ASSUMED_CELL
    cell_source: str = "assumed (VT340 size)"
    size: tuple[int, int] | None = None
    queries: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def tty(self) -> bool:
        return self.stdin_tty and self.stdout_tty

    @property
    def multiplexer(self) -> str | None:
        if self.env.get("TMUX"):
            return "tmux"
        if self.env.get("STY"):
            return "screen"
        term = self.env.get("TERM", "")
        if term.startswith("tmux"):
            return "tmux"
        if term.startswith("screen"):
            return "screen"
        return None

    @property
    def ssh(self) -> bool:
        return bool(self.env.get("SSH_CONNECTION") or self.env.get("SSH_TTY"))

    @property
    def sixel(self) -> bool:
        return bool(self.da1) and 4 in (self.da1 or [])

    @property
    def kitty_version(self) -> tuple[int, ...] | None:
        """kitty's version from XTVERSION (``kitty(0.26.5)``), if it is kitty."""
        match = re.fullmatch(r"kitty\((\d+(?:\.\d+)*)\)", self.xtversion or "")
        return tuple(int(p) for p in match.group(1).split(".")) if match else None

    @property
    def terminal_name(self) -> str:
        """Lower-case name from XTVERSION, else TERM_PROGRAM, else TERM."""
        for value in (self.xtversion, self.env.get("TERM_PROGRAM"), self.env.get("TERM")):
            if value:
                return value.split("(")[0].split()[0].lower()
        return ""

    @property
    def kitty_like(self) -> bool:
        """Terminals that parse the kitty graphics query (APC) instead of printing it."""
        if self.multiplexer:
            return False
        name = self.terminal_name
        return (name in ("kitty", "ghostty", "wezterm") or bool(self.env.get("KITTY_WINDOW_ID"))
                or self.env.get("TERM") in ("xterm-kitty", "xterm-ghostty"))


@dataclass(frozen=True)
class Decision:
    protocol: str
    """sixel, kitty, halfcell, unicode or none."""
    reason: str


# --- asking the terminal -----------------------------------------------------------------------


def _read_until_da1(fd: int, timeout: float) -> bytes:
    import select

    deadline = time.monotonic() + timeout
    data = b""
    while not _DA1.search(data):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        readable, _, _ = select.select([fd], [], [], left)
        if not readable:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data


def _ask(fd_in: int, fd_out: int, queries: str, timeout: float) -> bytes:
    """Send ``queries`` followed by DA1 with echo off; the bytes received until DA1's answer (or the timeout)."""
    import termios

    old = termios.tcgetattr(fd_in)
    new = termios.tcgetattr(fd_in)
    new[3] &= ~(termios.ECHO | termios.ICANON)  # lflag: no echo, no line buffering
    new[6][termios.VMIN], new[6][termios.VTIME] = 1, 0
    termios.tcsetattr(fd_in, termios.TCSANOW, new)
    try:
        os.write(fd_out, (queries + "\x1b[c").encode("ascii"))
        return _read_until_da1(fd_in, timeout)
    finally:
        termios.tcsetattr(fd_in, termios.TCSANOW, old)


def window_size(fd: int) -> tuple[int, int, int, int] | None:
    """(columns, rows, pixel width, pixel height) from the kernel, or None."""
    import fcntl
    import struct
    import termios

    try:
        rows, columns, width, height = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except (OSError, ValueError):
        return None
    return columns, rows, width, height


def cell_from_env(env: Mapping[str, str]) -> tuple[int, int] | None:
    width, height = env.get("TEXTUAL_CELL_WIDTH", ""), env.get("TEXTUAL_CELL_HEIGHT", "")
    if width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0:
        return int(width), int(height)
    return None


def measure_cell(fd: int | None = None, env: Mapping[str, str] | None = None) -> tuple[tuple[int, int], str] | None:
    """The cell size in pixels without asking the terminal anything (safe while the app runs)."""
    env = os.environ if env is None else env
    if (cell := cell_from_env(env)) is not None:
        return cell, "TEXTUAL_CELL_WIDTH/HEIGHT"
    if fd is None:
        fd = _stdout_fd()
        if fd is None:
            return None
    size = window_size(fd)
    if size and all(size):
        columns, rows, width, height = size
        if width // columns and height // rows:
            return (width // columns, height // rows), "the kernel's window size (TIOCGWINSZ)"
    return None


def _stdout_fd() -> int | None:
    stream = sys.__stdout__
    try:
        return stream.fileno() if stream is not None else None
    except (OSError, ValueError):
        return None


def _isatty(stream: object) -> bool:
    try:
        return bool(stream is not None and stream.isatty())  # type: ignore[attr-defined]
    except (OSError, ValueError):
        return False


def read_replies(probe: Probe, data: bytes) -> None:
    """Fill ``probe`` from the bytes of one or more rounds of answers."""
    if (m := _DA1.search(data)) is not None:
        probe.da1 = [int(p) for p in m.group(1).split(b";") if p.isdigit()]
    if (m := _XTVERSION.search(data)) is not None:
        probe.xtversion = m.group(1).decode("utf-8", "replace")
    if (m := _GRAPHICS.search(data)) is not None:
        status, value = int(m.group(1)), int(m.group(2))
        if status == 0 and value > 1:
            probe.registers, probe.registers_note = value, "XTSMGRAPHICS"
        else:
            probe.registers_note = f"XTSMGRAPHICS refused (status {status})"
    if (m := _CELL.search(data)) is not None and probe.cell_source.startswith("assumed"):
        height, width = int(m.group(1)), int(m.group(2))
        if width and height:
            probe.cell, probe.cell_source = (width, height), "the terminal's answer to CSI 16 t"
    if (m := _KITTY.search(data)) is not None:
        probe.kitty = m.group(1).decode("utf-8", "replace").rpartition(";")[2]


def probe(env: Mapping[str, str] | None = None, timeout: float = ROUND_TIMEOUT) -> Probe:
    """Find out what the terminal on stdin/stdout can draw; sends nothing when either isn't a terminal."""
    started = time.monotonic()
    env = os.environ if env is None else env
    result = Probe(env={k: env[k] for k in _ENV if k in env})
    result.stdin_tty, result.stdout_tty = _isatty(sys.__stdin__), _isatty(sys.__stdout__)
    measured = measure_cell(_stdout_fd() if result.stdout_tty else -1, env)
    if measured is not None:
        result.cell, result.cell_source = measured
    if result.stdout_tty and (size := window_size(_stdout_fd() or 0)):
        result.size = size[0], size[1]
    if not result.tty:
        result.kitty_note = result.registers_note = "not asked: stdin or stdout is not a terminal"
        result.seconds = time.monotonic() - started
        return result
    assert sys.__stdin__ is not None and sys.__stdout__ is not None
    fd_in, fd_out = sys.__stdin__.fileno(), sys.__stdout__.fileno()
    sys.__stdout__.flush()
    try:
        first = "\x1b[>0q" + ("\x1b[16t" if result.cell_source.startswith("assumed") else "")
        result.queries.append("XTVERSION" + (", cell size" if "16t" in first else "") + ", DA1")
        read_replies(result, _ask(fd_in, fd_out, first, timeout))
        if result.da1 is None:
            result.registers_note = result.kitty_note = "not asked: the terminal didn't answer DA1"
        else:
            if result.sixel:
                result.queries.append("XTSMGRAPHICS, DA1")
                read_replies(result, _ask(fd_in, fd_out, "\x1b[?1;1;0S", timeout))
                if result.registers is None and result.registers_note == "not asked":
                    result.registers_note = "no answer to XTSMGRAPHICS"
            else:
                result.registers_note = "not asked: no sixel in DA1"
            if result.kitty_like:
                result.queries.append("kitty graphics, DA1")
                query = f"\x1b_Gi={_KITTY_QUERY_ID},s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"
                read_replies(result, _ask(fd_in, fd_out, query, timeout))
                result.kitty_note = "answered" if result.kitty is not None else "no answer"
            elif result.multiplexer:
                result.kitty_note = f"not asked: inside {result.multiplexer} the query would become the window name"
            else:
                result.kitty_note = "not asked: terminal not known to understand it (others print it as text)"
    except OSError as exc:
        result.kitty_note = f"terminal queries failed: {exc.strerror or exc}"
    result.seconds = time.monotonic() - started
    return result


# --- deciding -----------------------------------------------------------------------------------


def decide(probe: Probe, requested: str = "auto") -> Decision:
    """The protocol previews use, and why, for the terminal ``probe`` describes."""
    if requested == "none":
        return Decision("none", "image protocol set to none: previews list file paths")
    version = probe.kitty_version
    placeholders = version is None or version >= KITTY_PLACEHOLDERS
    if requested == "kitty" and not placeholders:
        return Decision("halfcell", f"kitty {'.'.join(map(str, version or ()))} can't show unicode placeholders "
                                    f"(needs >= {'.'.join(map(str, KITTY_PLACEHOLDERS))}): half-cell instead")
    if requested in ("sixel", "kitty", "halfcell", "unicode"):
        return Decision(requested, "chosen with --image-protocol or image_protocol in the config")
    if not probe.stdout_tty:
        return Decision("unicode", "stdout is not a terminal: plain text blocks")
    if not probe.stdin_tty:
        return Decision("halfcell", "stdin is not a terminal, so it can't be asked: coloured half-cells")
    if probe.multiplexer:
        return Decision("halfcell", f"inside {probe.multiplexer}: images would be torn by its redraws and "
                                    "textual-image 0.12 has no passthrough, so coloured half-cells")
    if probe.da1 is None:
        return Decision("halfcell", "the terminal didn't answer DA1 in time (slow link?): coloured half-cells")
    if probe.kitty == "OK":
        name = probe.terminal_name or "the terminal"
        if version is not None and placeholders or name == "ghostty":
            return Decision("kitty", f"kitty graphics answered OK and {name} shows unicode placeholders")
        if version is not None:
            lacks = f"kitty {'.'.join(map(str, version))} lacks unicode placeholders (needs >= 0.28)"
        else:
            lacks = f"{name} answers the kitty query but doesn't show its unicode placeholders"
        if probe.sixel:
            return Decision("sixel", f"{lacks}; DA1 reports sixel")
        return Decision("halfcell", f"{lacks}: coloured half-cells")
    if probe.sixel:
        return Decision("sixel", "DA1 reports sixel (attribute 4)")
    return Decision("halfcell", "no sixel in DA1 and no kitty graphics: coloured half-cells")


# --- the doctor command -------------------------------------------------------------------------


def report(probe: Probe, decision: Decision) -> dict[str, object]:
    """Everything the doctor shows, as JSON-ready data with every string cleaned."""
    env = {k: clean(v) for k, v in probe.env.items()}
    data: dict[str, object] = {
        "stdin_tty": probe.stdin_tty,
        "stdout_tty": probe.stdout_tty,
        "TERM": env.get("TERM"),
        "TERM_PROGRAM": env.get("TERM_PROGRAM"),
        "TERM_PROGRAM_VERSION": env.get("TERM_PROGRAM_VERSION"),
        "multiplexer": probe.multiplexer,
        "TMUX": env.get("TMUX"),
        "STY": env.get("STY"),
        "ssh": probe.ssh,
        "SSH_CONNECTION": env.get("SSH_CONNECTION"),
        "da1": probe.da1,
        "sixel": probe.sixel,
        "xtversion": clean(probe.xtversion),
        "kitty_graphics": clean(probe.kitty),
        "kitty_graphics_note": probe.kitty_note,
        "cell_pixels": list(probe.cell),
        "cell_source": probe.cell_source,
        "window_cells": list(probe.size) if probe.size else None,
        "colour_registers": probe.registers or DEFAULT_REGISTERS,
        "colour_registers_source": probe.registers_note if probe.registers else
        f"{probe.registers_note}; {DEFAULT_REGISTERS} assumed",
        "queries_sent": probe.queries,
        "query_seconds": round(probe.seconds, 3),
        "protocol": decision.protocol,
        "reason": decision.reason,
    }
    return data


def _text(data: Mapping[str, object]) -> str:
    def show(value: object) -> str:
        if value is None:
            return "(unset)"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return ";".join(map(str, value)) if value else "(none)"
        return str(value)

    tty = "stdin and stdout are terminals" if data["stdin_tty"] and data["stdout_tty"] else \
        (f"not a terminal (stdin: {'tty' if data['stdin_tty'] else 'not a tty'}, "
         f"stdout: {'tty' if data['stdout_tty'] else 'not a tty'}): nothing was asked")
    cell = data["cell_pixels"]
    width, height = cell if isinstance(cell, list) else ("?", "?")
    rows = [
        ("terminal", tty),
        ("TERM", show(data["TERM"])),
        ("TERM_PROGRAM", show(data["TERM_PROGRAM"]) + (f" {data['TERM_PROGRAM_VERSION']}"
                                                       if data["TERM_PROGRAM_VERSION"] else "")),
        ("multiplexer", show(data["multiplexer"]) if data["multiplexer"] else "none (TMUX and STY unset)"),
        ("SSH", "yes" + (f" ({data['SSH_CONNECTION']})" if data["SSH_CONNECTION"] else "") if data["ssh"] else "no"),
        ("DA1", ("?" + show(data["da1"]) + f"  (sixel: {show(data['sixel'])})") if data["da1"] is not None
         else "no answer" if data["stdin_tty"] and data["stdout_tty"] else "not asked"),
        ("XTVERSION", show(data["xtversion"]) if data["xtversion"] else
         "no answer" if data["stdin_tty"] and data["stdout_tty"] else "not asked"),
        ("kitty graphics", f"{data['kitty_graphics']}" if data["kitty_graphics"] else str(data["kitty_graphics_note"])),
        ("cell size", f"{width}×{height} px, from {data['cell_source']}"),
        ("window", "{}×{} cells".format(*data["window_cells"]) if data["window_cells"] else "unknown"),  # type: ignore[misc]
        ("colour registers", f"{data['colour_registers']} ({data['colour_registers_source']})"),
        ("queries sent", " · ".join(data["queries_sent"]) + f" in {data['query_seconds']} s"  # type: ignore[arg-type]
         if data["queries_sent"] else "none"),
        ("protocol", str(data["protocol"])),
        ("why", str(data["reason"])),
    ]
    label = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(label)}  {value}" for name, value in rows)


def doctor(json_output: bool = False, requested: str = "auto") -> int:
    """``scenario-tui doctor``: print what was detected and the protocol previews would use."""
    found = probe()
    data = report(found, decide(found, requested))
    if json_output:
        print(json.dumps(data, indent=2))
    else:
        print(_text(data))
    return 0


