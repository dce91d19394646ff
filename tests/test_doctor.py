"""``scenario-tui doctor`` and the terminal detection behind it, against scripted fake terminals on a pty."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from scenario_tui.ui import terminal
from scenario_tui.ui.terminal import Decision, Probe, decide

ROOT = Path(__file__).resolve().parent.parent
Answer = Callable[[bytes], bytes]

XTERM_VT340 = {b"\x1b[c": b"\x1b[?63;1;2;4;6;9;15;16;22;28c", b"\x1b[>0q": b"\x1bP>|XTerm(379)\x1b\\",
               b"\x1b[?1;1;0S": b"\x1b[?1;0;1024S"}
KITTY_026 = {b"\x1b[c": b"\x1b[?62;c", b"\x1b[>0q": b"\x1bP>|kitty(0.26.5)\x1b\\",
             b"\x1b_Gi=31": b"\x1b_Gi=31;OK\x1b\\"}
KITTY_035 = {**KITTY_026, b"\x1b[>0q": b"\x1bP>|kitty(0.35.2)\x1b\\"}
URXVT = {b"\x1b[c": b"\x1b[?1;2c"}  # answers DA1 only; would print an APC query as text


def scripted(replies: dict[bytes, bytes]) -> Answer:
    def answer(query: bytes) -> bytes:
        return b"".join(reply for asked, reply in replies.items() if asked in query)

    return answer


def run_in_pty(args: list[str], answer: Answer | None, env: dict[str, str] | None = None,
               deadline: float = 20.0) -> tuple[str, bytes, float]:
    """Run ``args`` on a pty whose other end is a fake terminal: (output text, every byte the program wrote, s)."""
    master, slave = pty.openpty()
    full_env = {**os.environ, "TERM": "xterm", **(env or {})}
    for name in ("TMUX", "STY", "SSH_CONNECTION", "SSH_TTY", "KITTY_WINDOW_ID", "TERM_PROGRAM"):
        if env is None or name not in env:
            full_env.pop(name, None)
    started = time.monotonic()
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=full_env, cwd=ROOT)
    os.close(slave)
    written = b""
    try:
        while time.monotonic() - started < deadline:
            readable, _, _ = select.select([master], [], [], 0.05)
            if readable:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the pty
                    break
                if not chunk:
                    break
                written += chunk
                if answer is not None and b"\x1b" in chunk:
                    os.write(master, answer(chunk))
            elif proc.poll() is not None:
                break
        proc.wait(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, (proc.stderr.read() if proc.stderr else b"").decode(errors="replace")
    text = re.sub(r"\x1b(\[[\d;?>]*[a-zA-Z]|_G.*?\x1b\\)", "", written.decode("utf-8", "replace"))
    return text.replace("\r\n", "\n"), written, elapsed


def doctor_json(answer: Answer | None, env: dict[str, str] | None = None) -> tuple[dict[str, object], bytes, float]:
    text, written, elapsed = run_in_pty([sys.executable, "-m", "scenario_tui", "doctor", "--json"], answer, env)
    return json.loads(text[text.index("{"):]), written, elapsed


def test_sixel_xterm_is_asked_its_registers_and_gets_sixel() -> None:
    data, written, _ = doctor_json(scripted(XTERM_VT340))
    assert data["protocol"] == "sixel"
    assert data["da1"] == [63, 1, 2, 4, 6, 9, 15, 16, 22, 28]
    assert data["xtversion"] == "XTerm(379)"
    assert data["colour_registers"] == 1024 and data["colour_registers_source"] == "XTSMGRAPHICS"
    assert b"\x1b_G" not in written, "xterm is not sent the kitty query"


def test_old_kitty_falls_back_to_half_cells_instead_of_empty_boxes() -> None:
    data, written, _ = doctor_json(scripted(KITTY_026))
    assert b"\x1b_G" in written and data["kitty_graphics"] == "OK"
    assert data["protocol"] == "halfcell"
    assert "0.28" in str(data["reason"])


def test_new_kitty_uses_the_kitty_protocol() -> None:
    data, _, _ = doctor_json(scripted(KITTY_035))
    assert data["protocol"] == "kitty"


def test_rxvt_is_never_sent_the_kitty_query_so_nothing_is_left_as_text() -> None:
    data, written, _ = doctor_json(scripted(URXVT), {"TERM": "rxvt-unicode-256color"})
    assert b"\x1b_G" not in written and b"\x1b[?1;1;0S" not in written
    assert data["protocol"] == "halfcell"


def test_inside_tmux_no_kitty_query_and_half_cells() -> None:
    replies = {b"\x1b[c": b"\x1b[?1;2;4c", b"\x1b[>0q": b"\x1bP>|tmux 3.3a\x1b\\"}
    data, written, _ = doctor_json(scripted(replies), {"TMUX": "/tmp/tmux-0/default,1,0", "TERM": "tmux-256color",
                                                       "KITTY_WINDOW_ID": "1"})
    assert b"\x1b_G" not in written, "the query would become the tmux window name"
    assert data["multiplexer"] == "tmux" and data["protocol"] == "halfcell"


def test_silent_terminal_ends_after_a_bounded_wait() -> None:
    data, _, elapsed = doctor_json(None)
    assert data["da1"] is None and data["protocol"] == "halfcell"
    assert "didn't answer" in str(data["reason"])
    assert elapsed < 10


def test_not_a_terminal_sends_nothing_and_says_so() -> None:
    out = subprocess.run([sys.executable, "-m", "scenario_tui", "doctor"], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=30, cwd=ROOT, check=True).stdout
    assert "not a terminal" in out and "\x1b" not in out
    assert re.search(r"^protocol +unicode$", out, re.M)
    data = json.loads(subprocess.run([sys.executable, "-m", "scenario_tui", "doctor", "--json"],
                                     stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
                                     cwd=ROOT, check=True).stdout)
    assert data["stdout_tty"] is False and data["queries_sent"] == []


def test_control_characters_from_the_environment_are_never_printed() -> None:
    hostile = "xterm\x1b]0;owned\x07\x9b2J"
    env = {**os.environ, "TERM": hostile, "TERM_PROGRAM": "\x1b[31mred"}
    for flags in ([], ["--json"]):
        out = subprocess.run([sys.executable, "-m", "scenario_tui", "doctor", *flags], stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=30, cwd=ROOT, env=env, check=True).stdout
        assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", out)
        assert "\\x1b]0;owned\\x07" in out.replace("\\\\", "\\")


def test_terminal_replies_are_cleaned_too() -> None:
    probe = Probe(stdin_tty=True, stdout_tty=True, da1=[1], xtversion="evil\x1b]2;title\x07")
    assert "\x1b" not in json.dumps(terminal.report(probe, decide(probe)), ensure_ascii=False)


@pytest.mark.parametrize(("probe", "protocol"), [
    (Probe(stdin_tty=True, stdout_tty=True, da1=[62], xtversion="kitty(0.28.0)", kitty="OK"), "kitty"),
    (Probe(stdin_tty=True, stdout_tty=True, da1=[62], xtversion="kitty(0.27.1)", kitty="OK"), "halfcell"),
    (Probe(stdin_tty=True, stdout_tty=True, da1=[62, 4], xtversion="WezTerm 20240203", kitty="OK"), "sixel"),
    (Probe(stdin_tty=True, stdout_tty=True, da1=[62], xtversion="ghostty 1.1.3", kitty="OK"), "kitty"),
    (Probe(stdin_tty=True, stdout_tty=True, da1=[62, 4], xtversion="kitty(0.26.5)", kitty="OK"), "sixel"),
    (Probe(stdin_tty=True, stdout_tty=True, da1=[64, 4]), "sixel"),
    (Probe(env={"STY": "1234.pts-0"}, stdin_tty=True, stdout_tty=True, da1=[64, 4]), "halfcell"),
    (Probe(stdin_tty=True, stdout_tty=True, da1=None), "halfcell"),
    (Probe(stdin_tty=False, stdout_tty=True), "halfcell"),
    (Probe(stdin_tty=True, stdout_tty=False), "unicode"),
])
def test_decide(probe: Probe, protocol: str) -> None:
    assert decide(probe).protocol == protocol


def test_explicit_choice_wins_except_kitty_that_cannot_show_it() -> None:
    old = Probe(stdin_tty=True, stdout_tty=True, da1=[62], xtversion="kitty(0.26.5)", kitty="OK")
    assert decide(old, "sixel") == Decision("sixel", "chosen with --image-protocol or image_protocol in the config")
    assert decide(old, "kitty").protocol == "halfcell"
    assert decide(Probe(), "kitty").protocol == "kitty"


def test_cell_size_comes_from_the_environment_override_first() -> None:
    assert terminal.measure_cell(-1, {"TEXTUAL_CELL_WIDTH": "9", "TEXTUAL_CELL_HEIGHT": "18"}) == (
        (9, 18), "TEXTUAL_CELL_WIDTH/HEIGHT")
    assert terminal.measure_cell(-1, {"TEXTUAL_CELL_WIDTH": "x"}) is None


def test_pty_pixel_size_gives_the_cell_size() -> None:
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 1000, 960))
        assert terminal.measure_cell(slave, {}) == ((10, 24), "the kernel's window size (TIOCGWINSZ)")
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        assert terminal.measure_cell(slave, {}) is None
    finally:
        os.close(master)
        os.close(slave)


CHOOSE = ("from scenario_tui.ui import images; cls = images.choose('auto'); from scenario_tui.ui import sixel; "
          "print('CHOSE', images.protocol_name(cls), sixel.registers(), images.cell_size())")


@pytest.mark.parametrize(("replies", "env", "expected"), [
    (URXVT, {"TERM": "rxvt-unicode-256color"}, "CHOSE half-cell 256"),
    (XTERM_VT340, None, "CHOSE sixel 1024"),
    (KITTY_026, {"TERM": "xterm-kitty"}, "CHOSE half-cell 256"),
    (KITTY_035, {"TERM": "xterm-kitty"}, "CHOSE kitty 256"),
])
def test_the_launcher_asks_only_our_queries_and_textual_image_asks_nothing(
        replies: dict[bytes, bytes], env: dict[str, str] | None, expected: str) -> None:
    text, written, _ = run_in_pty([sys.executable, "-c", CHOOSE], scripted(replies), env)
    assert expected in text
    queries = re.findall(rb"\x1b(?:\[[\d;?>]*[a-zA-Z]|_G[^\x1b]*\x1b\\)", written)
    kitty_like = env is not None and env.get("TERM") == "xterm-kitty"
    assert queries.count(b"\x1b[c") == (2 if kitty_like or replies is XTERM_VT340 else 1), queries
    assert any(q.startswith(b"\x1b_G") for q in queries) == kitty_like, "kitty query only to kitty"
