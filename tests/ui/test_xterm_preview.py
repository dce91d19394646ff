"""The preview in a real sixel terminal: xterm -ti vt340 under Xvfb, screenshot compared with the source.

Starts Xvfb (its framebuffer kept as an XWD file with ``-fbdir``, so no screenshot tool is needed)
and xterm running tests/ui/xterm_preview_app.py, which detects the terminal like the launcher and
shows a known image in the app's Preview and, beside it, in textual-image 0.12's own sixel widget.
The preview region of the framebuffer must match the source (mean colour difference per channel
under THRESHOLD); textual-image's banded output, drawn the same way, must not.

Skips, saying why, where Xvfb or xterm are missing (``apt-get install xvfb xterm``).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

ROOT = Path(__file__).resolve().parents[2]
THRESHOLD = 7.0
"""Mean absolute difference per channel (0-255). Palette-first sixel measured 3.5 here, the banded one 11.3."""
STARTUP = 90.0
"""Longest wait for Xvfb, xterm and the app to show the image (a loaded 2-core box can be slow)."""
SETTLE = 30.0
"""Longest wait, after that, for both images to be drawn and the screen to stay still."""
GEOMETRY = "120x40+0+0"


def known_image(path: Path) -> Path:
    """Gradients and flat shapes, all bright (nothing close to the black background)."""
    size = (320, 200)
    red = Image.linear_gradient("L").rotate(90).resize(size).point(lambda v: 60 + v * 195 // 255)
    green = Image.linear_gradient("L").resize(size).point(lambda v: 60 + v * 195 // 255)
    blue = Image.radial_gradient("L").resize(size).point(lambda v: 255 - v * 195 // 255)
    image = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 30, 150, 120), fill=(250, 60, 70))
    draw.rectangle((180, 100, 300, 180), fill=(70, 220, 90))
    draw.polygon([(200, 20), (300, 40), (240, 90)], fill=(250, 240, 80))
    image.save(path)
    return path


def read_xwd(data: bytes) -> Image.Image:
    """An XWD (ZPixmap, 32 bits per pixel) framebuffer as an RGB image."""
    fields = struct.unpack(">25I", data[:100])
    header_size, version, pixmap_format, _, width, height = fields[:6]
    byte_order, bytes_per_line = fields[7], fields[12]
    red_mask, colours = fields[14], fields[19]
    pixel_bytes = bytes_per_line // width  # 4 for 32 bits per pixel, and for 24 padded to 32 bits
    assert version == 7 and pixmap_format == 2 and pixel_bytes in (3, 4), fields[:13]
    start = header_size + colours * 12
    little = (byte_order == 0) == (red_mask == 0xFF0000)
    raw = ("BGRX" if little else "XRGB") if pixel_bytes == 4 else ("BGR" if little else "RGB")
    return Image.frombuffer("RGB", (width, height), data[start:start + bytes_per_line * height], "raw", raw,
                            bytes_per_line, 1)


@dataclass
class Display:
    number: int
    framebuffer: Path

    def shot(self) -> Image.Image:
        return read_xwd(self.framebuffer.read_bytes()).copy()


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def display(tmp_path: Path) -> Iterator[Display]:
    missing = [tool for tool in ("Xvfb", "xterm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {' and '.join(missing)} (apt-get install xvfb xterm) to show the preview in a real "
                    "sixel terminal")
    fbdir = tmp_path / "fb"
    fbdir.mkdir()
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1600x1200x24", "-fbdir",
                             str(fbdir), "-nolisten", "tcp"], pass_fds=(write_end,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        number = b""
        deadline = time.monotonic() + STARTUP
        while not number.endswith(b"\n") and (left := deadline - time.monotonic()) > 0:
            if not select.select([read_end], [], [], left)[0]:
                break
            chunk = os.read(read_end, 16)  # Xvfb writes the display number once it accepts clients
            if not chunk:
                break
            number += chunk
        os.close(read_end)
        if not number.strip().isdigit():
            pytest.fail(f"Xvfb did not start (exit {xvfb.poll()})")
        yield Display(int(number), fbdir / "Xvfb_screen0")
    finally:
        stop(xvfb)


def content_box(image: Image.Image) -> tuple[int, int, int, int] | None:
    """Bounding box of what isn't (nearly) black."""
    return image.convert("L").point(lambda v: 255 if v > 24 else 0).getbbox()


def difference(shot: Image.Image, region: list[int], cell: list[int], source: Image.Image) -> float:
    x, y, width, height = region
    crop = shot.crop((x * cell[0], y * cell[1], (x + width) * cell[0], (y + height) * cell[1]))
    box = content_box(crop)
    assert box is not None, "nothing drawn in the region"
    drawn = crop.crop(box)
    expected = source.resize(drawn.size, Image.Resampling.LANCZOS)
    return sum(ImageStat.Stat(ImageChops.difference(drawn, expected)).mean) / 3


def test_xterm_vt340_shows_the_preview_in_its_true_colours(display: Display, tmp_path: Path) -> None:
    source_path = known_image(tmp_path / "known.png")
    ready = tmp_path / "ready.json"
    env = {k: v for k, v in os.environ.items()
           if k not in ("TMUX", "STY", "TERM_PROGRAM", "KITTY_WINDOW_ID", "TEXTUAL_CELL_WIDTH", "TEXTUAL_CELL_HEIGHT",
                        "COLUMNS", "LINES")}
    env.update(DISPLAY=f":{display.number}", TEXTUAL_ANIMATIONS="none", PYTHONPATH=str(ROOT))
    xterm = subprocess.Popen(
        ["xterm", "-ti", "vt340", "-xrm", "XTerm*decTerminalID: vt340", "-xrm", "XTerm*numColorRegisters: 256",
         "-b", "0", "-bg", "black", "-fg", "white", "-geometry", GEOMETRY,
         "-e", sys.executable, "-m", "tests.ui.xterm_preview_app", str(source_path), str(ready)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + STARTUP
        while not ready.exists() and time.monotonic() < deadline and xterm.poll() is None:
            time.sleep(0.05)  # polling an external process's output file, bounded by the deadline
        assert ready.exists(), f"the app in xterm never got its image on screen (xterm exit {xterm.poll()})"
        info = json.loads(ready.read_text())
        assert info["protocol"] == "sixel", info
        source = Image.open(source_path).convert("RGB")

        previous: Image.Image | None = None
        ours = control = float("inf")
        deadline = time.monotonic() + SETTLE
        while True:
            shot = display.shot()
            try:
                ours = difference(shot, info["preview"], info["cell"], source)
                control = difference(shot, info["control"], info["cell"], source)
            except AssertionError:
                ours = control = float("inf")
            # a right result on a still screen ends the wait; anything else is polled until the deadline
            still = previous is not None and shot.tobytes() == previous.tobytes()
            if (still and ours < THRESHOLD and control != float("inf")) or time.monotonic() > deadline:
                break
            previous = shot
            time.sleep(0.1)
        shot.save(tmp_path / "xterm.png")
        print(f"mean colour difference: ours {ours:.1f}, textual-image 0.12 {control:.1f} "
              f"(threshold {THRESHOLD}); screenshot {tmp_path / 'xterm.png'}")
        assert ours < THRESHOLD, f"the preview's colours are off by {ours:.1f} on average"
        import textual_image

        if getattr(textual_image, "__version__", "0.12.0") == "0.12.0" or control >= THRESHOLD:
            assert control >= THRESHOLD, f"the banded control output measured {control:.1f}: the threshold can't " \
                                         "tell right from wrong"
    finally:
        stop(xterm)
