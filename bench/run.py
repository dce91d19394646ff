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

from masks import bench as bench_masks  # bench/masks.py, beside this file
from PIL import Image, ImageDraw

TARGETS = {
    "help": 0.3,
    "request": 0.5,
    "first_screen": 1.0,
    "key_latency": 0.1,
    "end_to_disk": 1.5,  # seconds from a sandbox job's end to its results on disk
    "rss_mib": 200,  # resident memory after 10 sandbox jobs at 2048x2048
}


def report(name: str, runs: list[float], target: float, judge: str = "median") -> bool:
    """Print one line; the target applies to the median, or to the worst run where that's the promise."""
    median, worst = statistics.median(runs), max(runs)
    ok = (worst if judge == "worst" else median) <= target
    print(f"{name:<52} median {median * 1000:7.1f} ms  worst {worst * 1000:7.1f} ms  "
          f"target {target * 1000:6.0f} ms ({judge})  {'ok' if ok else 'MISSED'}")
    return ok


def report_value(name: str, value: float, unit: str, target: float | None = None) -> bool:
    """One line for a figure that is not a duration in ms (bytes, MiB, seconds)."""
    verdict = "" if target is None else f"  target {target:g} {unit}  {'ok' if value <= target else 'MISSED'}"
    print(f"{name:<52} {value:14,.1f} {unit}{verdict}")
    return target is None or value <= target


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
        request = app.engine.build(_draft(folder, 64), await app.engine.resolve_model(MODEL))
        for _ in range(10):
            jobs.follow(await app.engine.submit(request))  # in progress for 600 s: polls all along
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


MODEL = "model_sandbox-flux-fill"


def _draft(folder: Path, size: int, **values: object) -> Any:
    """Input (photo-like), mask and two references of ``size`` pixels, as the engine takes them."""
    from scenario_tui.core import imaging
    from scenario_tui.core.engine import Draft

    image = folder / f"in-{size}.png"
    if not image.exists():
        noisy_png(image, size)
        mask = Image.new("L", (size, size), 0)
        ImageDraw.Draw(mask).rectangle((size // 4, size // 4, size * 3 // 4, size * 3 // 4), fill=255)
        mask.save(folder / f"mask-{size}.png")
        for i in range(2):
            noisy_png(folder / f"ref{i}-{size}.png", max(64, size // 2))
    return Draft({"prompt": "bench", "numSamples": 1, **values}, image=imaging.load_image(image),
                 mask=imaging.load_mask(folder / f"mask-{size}.png"),
                 references=tuple(imaging.load_image(folder / f"ref{i}-{size}.png") for i in range(2)))


class _Counting:
    """Wraps the sandbox transport, adding up the bytes of every request body sent."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.sent = inner, 0

    async def handle_async_request(self, request: Any) -> Any:
        self.sent += len(await request.aread())
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _engine(folder: Path, transport: Any, **settings: Any) -> Any:
    from scenario_tui.backend import make_engine
    from scenario_tui.config import load_settings
    from scenario_tui.core.store import Store

    loaded, _ = load_settings(output_dir=folder / "out", **settings)
    return make_engine(loaded, transport, Store(folder / f"bench-{time.monotonic_ns()}.sqlite3"))


async def bench_bytes(folder: Path) -> dict[str, float]:
    """Request bytes sent: the first quote (uploads included), later quotes, and a re-run of the same files."""
    from scenario_tui.sandbox import Sandbox, SandboxConfig, SandboxTransport

    counting = _Counting(SandboxTransport(Sandbox(SandboxConfig(job_seconds=0))))
    engine = _engine(folder, counting)
    model = await engine.resolve_model(MODEL)
    figures = {}
    for upload in (True, False):
        engine.config.upload_inputs = upload
        engine.store = _engine(folder, counting).store  # nothing uploaded yet
        counting.sent = 0
        quote = await engine.quote(engine.build(_draft(folder, 2048), model))
        first = counting.sent
        for prompt in ("a", "b", "c", "d", "e"):
            await engine.quote(engine.build(_draft(folder, 2048, prompt=prompt), model))
        later = (counting.sent - first) / 5
        counting.sent = 0
        request = engine.build(_draft(folder, 2048), model)
        await engine.submit(request, await engine.quote(request))
        label = "uploaded once" if upload else "inline (upload_inputs = false)"
        figures[f"first quote, 2048² + mask + 2 refs, {label}"] = first
        figures[f"each later quote, {label}"] = later
        figures[f"re-run (quote + submit), {label}"] = counting.sent
        assert quote.cost > 0
    return figures


async def bench_end_to_disk(folder: Path, n: int) -> list[float]:
    """Seconds from a sandbox job's end (its own clock) to every result on disk, with default polling."""
    from scenario_tui.sandbox import Sandbox, SandboxConfig, SandboxTransport

    runs = []
    for _ in range(n):
        sandbox = Sandbox(SandboxConfig(job_seconds=3))
        engine = _engine(folder, SandboxTransport(sandbox))  # default poll_interval / poll_max_interval
        request = engine.build(_draft(folder, 512, numSamples=4), await engine.resolve_model(MODEL))
        run = await engine.submit(request)
        done = await engine.follow(run.id)
        assert len(done.files) == 4
        job = sandbox._jobs[run.job_id]
        runs.append(time.monotonic() - (job.started + job.duration))
    return runs


RSS = """
import asyncio, resource, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from run import _draft, _engine, MODEL
from scenario_tui.sandbox import Sandbox, SandboxConfig, SandboxTransport

async def main():
    folder = Path(sys.argv[1])
    engine = _engine(folder, SandboxTransport(Sandbox(SandboxConfig(job_seconds=0))))
    model = await engine.resolve_model(MODEL)
    for i in range(10):
        run = await engine.submit(engine.build(_draft(folder, 2048, width=2048, height=2048, seed=str(i)), model))
        await engine.follow(run.id)
    pages = int(open("/proc/self/statm").read().split()[1])
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, pages * resource.getpagesize() / 2**20)

asyncio.run(main())
"""


def bench_rss(folder: Path, env: dict[str, str]) -> tuple[float, float]:
    """Peak and final resident memory (MiB) of a process that ran 10 sandbox jobs at 2048x2048."""
    _draft(folder, 2048)  # the files, made outside the measured process
    out = subprocess.run([sys.executable, "-c", RSS, str(folder), str(Path(__file__).parent)], check=True,
                         capture_output=True, text=True, env=env).stdout
    peak, final = out.strip().splitlines()[-1].split()
    return float(peak), float(final)


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
        for label, sent in asyncio.run(bench_bytes(folder)).items():
            report_value(f"bytes sent: {label}", sent / 1024, "KiB")
        ok &= report("job end to results on disk (sandbox, 4 results)",
                     asyncio.run(bench_end_to_disk(folder, 2 if args.quick else 3)), TARGETS["end_to_disk"])
        ok &= bench_masks(n)
        peak, final = bench_rss(folder, env)
        ok &= report_value("RSS after 10 sandbox jobs at 2048x2048", final, "MiB", TARGETS["rss_mib"])
        report_value("peak RSS during them", peak, "MiB")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
