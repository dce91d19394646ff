"""Speed targets of scenario-tui, measured (not asserted by the test suite).

Run: .venv/bin/python bench/run.py [--quick]

Each line prints the median (and worst) of several runs beside its target. Exit code 1 when a
median misses its target, so the script can gate a release by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any
from pathlib import Path

from PIL import Image, ImageDraw

TARGETS = {
    "help": 0.3,
    "request": 0.5,
    "first_screen": 1.0,
    "key_latency": 0.1,
}


def report(name: str, runs: list[float], target: float, judge: str = "median") -> bool:
    """Print one line; the target applies to the median, or to the worst run where that's the promise."""
    median, worst = statistics.median(runs), max(runs)
    ok = (worst if judge == "worst" else median) <= target
    print(f"{name:<52} median {median * 1000:7.1f} ms  worst {worst * 1000:7.1f} ms  "
          f"target {target * 1000:6.0f} ms ({judge})  {'ok' if ok else 'MISSED'}")
    return ok


def noisy_png(path: Path, size: int) -> Path:
    """A photo-like PNG (noise + shapes), so it compresses like a real picture, not like a flat fill."""
    img = Image.effect_noise((size, size), 40).convert("RGB")
    draw = ImageDraw.Draw(img)
    for i in range(8):
        draw.ellipse((i * size // 10, i * size // 12, i * size // 10 + size // 4, i * size // 12 + size // 5),
                     fill=(30 * i, 200 - 20 * i, 90))
    img.save(path)
    return path


def bench_help(n: int) -> list[float]:
    runs = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "scenario_tui", "--help"], check=True, capture_output=True)
        runs.append(time.perf_counter() - t0)
    return runs


def bench_request(n: int, folder: Path) -> list[float]:
    from scenario_tui.core import imaging
    from scenario_tui.core.params import check

    image = noisy_png(folder / "input.png", 2048)
    mask_img = Image.new("L", (2048, 2048), 0)
    ImageDraw.Draw(mask_img).rectangle((500, 500, 1500, 1500), fill=255)
    mask_img.save(folder / "mask.png")
    refs = [noisy_png(folder / f"ref{i}.png", 1024) for i in range(2)]
    runs = []
    for _ in range(n):
        t0 = time.perf_counter()
        loaded = imaging.load_image(image)
        mask = imaging.load_mask(folder / "mask.png", loaded.size)
        encoded = imaging.encode_inputs(loaded, mask, [imaging.load_image(r) for r in refs])
        checked = check({"modelId": "m", "prompt": "p", "image": encoded.image, "mask": encoded.mask,
                         "ipAdapterImages": list(encoded.references), "width": 1024, "height": 1024})
        assert checked.params is not None, checked.problems
        json.dumps(checked.params.body())
        runs.append(time.perf_counter() - t0)
    return runs


FIRST_SCREEN = """
import time, sys
t0 = float(sys.argv[1])
import asyncio
from scenario_tui.config import load_settings
from scenario_tui.ui.app import make_app
from textual_image.widget import HalfcellImage

async def main():
    settings, _ = load_settings()
    app = make_app(settings, image_cls=HalfcellImage)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        print(time.time() - t0)

asyncio.run(main())
"""


def bench_first_screen(n: int, env: dict[str, str]) -> list[float]:
    runs = []
    for _ in range(n):
        out = subprocess.run([sys.executable, "-c", FIRST_SCREEN, repr(time.time())], check=True,
                             capture_output=True, text=True, env=env).stdout
        runs.append(float(out.strip().splitlines()[-1]))
    return runs


async def _key_latency(folder: Path, presses: int) -> list[float]:
    from textual.widgets import Input
    from textual_image.widget import HalfcellImage

    from scenario_tui.config import load_settings
    from scenario_tui.core.params import check
    from scenario_tui.sandbox import Sandbox, SandboxConfig, SandboxTransport
    from scenario_tui.ui.app import make_app
    from scenario_tui.ui.widgets.jobs import JobPanel
    from scenario_tui.ui.widgets.preview import Preview, PreviewItem

    settings, _ = load_settings(poll_interval=0.05, poll_max_interval=0.2, output_dir=folder / "out")
    sandbox = Sandbox(SandboxConfig(job_seconds=600))
    app = make_app(settings, transport=SandboxTransport(sandbox), image_cls=HalfcellImage)
    big = noisy_png(folder / "result.png", 2048)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        jobs = app.screen.query_one(JobPanel)
        params = check(_body()).params
        assert params is not None
        for i in range(10):
            entry = jobs.add_submitting({"i": i}, str(i), "bench")
            jobs.submitted(entry, await app.client.generate(params))  # in progress for 600 s: polls all along
        app.screen.query_one(Preview).show([PreviewItem("big", big, None)])
        field = app.screen.query_one("#param-modelId", Input)
        field.focus()
        await pilot.pause()
        runs = []
        for _ in range(presses):
            runs.append(await _key_to_paint(app, field))
            await asyncio.sleep(0.02)  # like a typist: the pollers and the decoder run in between
        return runs


async def _key_to_paint(app: Any, field: Any) -> float:
    """Seconds from a key reaching the app to the frame that shows it (no Pilot overhead)."""
    from textual import events

    painted = asyncio.get_running_loop().create_future()
    before = field.value
    t0 = time.perf_counter()
    app.post_message(events.Key("x", "x"))
    while field.value == before:
        if time.perf_counter() - t0 > 5:
            raise RuntimeError(f"the key never reached the field (focus: {app.focused!r}, value {field.value!r})")
        await asyncio.sleep(0)
    app.screen.call_after_refresh(lambda: painted.done() or painted.set_result(time.perf_counter()))
    return await painted - t0


def _body() -> dict[str, object]:
    from scenario_tui.core import imaging

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (9, 9, 9)).save(buf, "PNG")
    url = imaging.encode_data_url(buf.getvalue(), "image/png")
    mbuf = io.BytesIO()
    Image.new("L", (64, 64), 255).save(mbuf, "PNG")
    return {"modelId": "model_sandbox-sdxl-painter", "prompt": "bench", "image": url,
            "mask": imaging.encode_data_url(mbuf.getvalue(), "image/png"), "ipAdapterImages": [url], "numSamples": 1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    args = parser.parse_args()
    n = 3 if args.quick else 7
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**os.environ, "HOME": str(folder), "XDG_CONFIG_HOME": str(folder / "c"),
               "XDG_DATA_HOME": str(folder / "d")}
        for var in ("SCENARIO_API_KEY", "SCENARIO_API_SECRET", "SCENARIO_SDK_API_KEY", "SCENARIO_SDK_API_SECRET"):
            env.pop(var, None)
        os.environ.update({k: v for k, v in env.items() if k in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")})
        steps: list[tuple[str, Callable[[], list[float]], float, str]] = [
            ("scenario-tui --help (process start to exit)", lambda: bench_help(n), TARGETS["help"], "median"),
            ("request body: 2048² PNG + mask + 2 refs", lambda: bench_request(n, folder), TARGETS["request"],
             "median"),
            ("first interactive screen (headless, from spawn)", lambda: bench_first_screen(n, env),
             TARGETS["first_screen"], "median"),
            ("key to screen while 10 jobs poll + 2048² decode",
             lambda: asyncio.run(_key_latency(folder, 30 if args.quick else 60)), TARGETS["key_latency"], "worst"),
        ]
        for name, fn, target, judge in steps:
            ok &= report(name, fn(), target, judge)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
