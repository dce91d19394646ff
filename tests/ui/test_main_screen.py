"""The main screen end to end, on the sandbox: the keyboard journey, every validation path of the form,
quotes, confirmation, submitting (once), concurrent jobs, failures, cancel, models, quitting and state.

Built only through ``make_app`` with a sandbox transport, a pinned app clock and a sandbox clock that
moves only when a test says so. No sleeps: tests wait on workers or on a bounded ``until`` loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from textual import events
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, OptionList, Select, Static, Switch

from scenario_tui.core import params as P
from scenario_tui.ui.app import ScenarioApp
from scenario_tui.ui.screens.confirm import ConfirmScreen
from scenario_tui.ui.screens.help import HelpScreen
from scenario_tui.ui.screens.main import MainScreen
from scenario_tui.ui.screens.model_picker import EMPTY, ModelPicker
from scenario_tui.ui.state import UiState
from scenario_tui.ui.widgets.jobs import JobEntry, JobPanel, JobRow
from scenario_tui.ui.widgets.preview import Preview
from scenario_tui.ui.widgets.references import ReferenceRow
from tests.ui.conftest import Harness, blockers, costbar, note, settle, text_of, until

SDXL = "model_sandbox-sdxl-painter"
SD15 = "model_sandbox-sd15-classic"
FLUX = "model_sandbox-flux-fill"  # the sandbox's first usable model, filled in on a fresh start
FLUX_PRO = "model_sandbox-flux-pro"
SDXL_WHO = "SDXL model SDXL Painter (sandbox)"
FIX_FIRST = "fix the form to see the cost"


# --------------------------------------------------------------------------- helpers


def filled(inputs: dict[str, str], **values: Any) -> UiState:
    """A form restored with valid inputs and the SDXL model (the app's own restore path), plus ``values``."""
    return UiState(values={"modelId": SDXL, "prompt": "a red lighthouse", **values}, image=inputs["image"],
                   mask=inputs["mask"], references=[(inputs["ref1"], "")])


def main(app: ScenarioApp) -> MainScreen:
    screen = app.screen_stack[0]
    assert isinstance(screen, MainScreen)
    return screen


def panel(app: ScenarioApp) -> JobPanel:
    return main(app).jobs


def widget(app: ScenarioApp, selector: str) -> Widget:
    return main(app).query_one(selector)


def toasts(app: ScenarioApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def details(app: ScenarioApp) -> str:
    return str(main(app).query_one("#job-detail", Static).content)


def row_text(app: ScenarioApp, entry: JobEntry) -> str:
    row = main(app).query_one(f"#job-row-{entry.key}", JobRow)
    return " | ".join(str(s.content) for s in row.query(Static))


def model_info(app: ScenarioApp) -> str:
    return text_of(app, "#model-info")


async def ready(app: ScenarioApp, pilot: Pilot[Any], *, model: str | None = SDXL) -> None:
    """The first screen settled: files loaded, the model (restored, or the sandbox's first) looked up."""
    await settle(app, pilot)
    if model is not None:
        await until(pilot, lambda: widget(app, "#param-modelId").value == model, f"model {model}")  # type: ignore[attr-defined]
        await until(pilot, lambda: main(app).model is not None and main(app).model.id == model, "the model looked up")
        await until(pilot, lambda: "Model:" not in blockers(app), "the model accepted")
    await settle(app, pilot)


async def quoted(app: ScenarioApp, pilot: Pilot[Any], cost: str | None = None) -> str:
    """Wait until the cost bar shows a fresh quote; return it ("Cost: N CU")."""
    await until(pilot, lambda: "CU" in costbar(app) and (cost is None or f"Cost: {cost} CU" in costbar(app)),
                f"a quote of {cost or 'any'} CU")
    return costbar(app).split("·")[0].strip()


async def focus(app: ScenarioApp, pilot: Pilot[Any], selector: str) -> Widget:
    target = widget(app, selector)
    target.focus()
    await pilot.pause()
    assert app.focused is target
    return target


async def retype(app: ScenarioApp, pilot: Pilot[Any], selector: str, text: str) -> Input:
    """Focus an Input, clear it (end, ctrl+u) and type ``text`` key by key."""
    target = await focus(app, pilot, selector)
    assert isinstance(target, Input)
    await pilot.press("end", "ctrl+u", *text)
    return target


async def tab_to(app: ScenarioApp, pilot: Pilot[Any], wanted: Callable[[Widget | None], bool], what: str) -> None:
    """Press Tab until the focus satisfies ``wanted`` (at most 40 presses)."""
    for _ in range(40):
        if wanted(app.focused):
            return
        await pilot.press("tab")
    raise AssertionError(f"Tab never reached {what}")


def is_id(wid: str) -> Callable[[Widget | None], bool]:
    return lambda w: w is not None and w.id == wid


def in_field(field_id: str) -> Callable[[Widget | None], bool]:
    return lambda w: isinstance(w, Input) and any(a.id == field_id for a in w.ancestors)


def first_reference_input(w: Widget | None) -> bool:
    return isinstance(w, Input) and w.has_class("file-path") and any(isinstance(a, ReferenceRow) for a in w.ancestors)


async def wait_note(app: ScenarioApp, pilot: Pilot[Any], name: str, expected: str, seconds: float = 30) -> None:
    await until(pilot, lambda: note(app, name) == expected, f"note under {name}: {expected!r}", seconds=seconds)


async def submit(app: ScenarioApp, pilot: Pilot[Any], key: str = "ctrl+r", jobs: int = 1) -> JobEntry:
    """Press the submit key and wait for the job to be accepted by the sandbox (has an id)."""
    await pilot.press(key)
    await until(pilot, lambda: len(panel(app).entries) >= jobs and panel(app).entries[0].job_id is not None,
                "the job accepted")
    return panel(app).entries[0]


async def finished(pilot: Pilot[Any], entry: JobEntry) -> None:
    await until(pilot, lambda: not entry.running, f"job {entry.job_id} to end (is {entry.state})")
    await pilot.pause()


async def submitting_released(app: ScenarioApp, pilot: Pilot[Any]) -> None:
    await until(pilot, lambda: not main(app).submitting, "the submit cooldown to pass")


async def key_repeat(pilot: Pilot[Any], *keys: str) -> None:
    """Keys arriving back to back, as key repeat sends them (``pilot.press`` waits for idle after each)."""
    for key in keys:
        event = events.Key(key, None)
        event.set_sender(pilot.app)
        pilot.app.post_message(event)
    await pilot.pause()


# --------------------------------------------------------------------------- 1. the journey


async def test_full_journey_without_the_mouse(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    h = harness(job_seconds=10)
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot, model=FLUX)
        assert in_field("file-image")(app.focused)  # the first field has the focus
        await pilot.press(*inputs["image"], "tab")
        assert in_field("file-mask")(app.focused)
        await pilot.press(*inputs["mask"])
        await tab_to(app, pilot, is_id("param-prompt"), "the prompt")
        await pilot.press(*"a red lighthouse, oil painting")
        await tab_to(app, pilot, first_reference_input, "the reference path")
        await pilot.press(*inputs["ref1"], "enter")
        await until(pilot, lambda: blockers(app) == "", "every blocker gone")
        cost = await quoted(app, pilot)
        assert cost == "Cost: 4 CU"  # 4 samples of the 64×48 input's size: 1 CU each

        await pilot.press("ctrl+r")
        await until(pilot, lambda: len(panel(app).entries) == 1, "a row for the job", tries=50)
        entry = panel(app).entries[0]
        await until(pilot, lambda: entry.job_id is not None, "the job id", tries=50)
        assert entry.running and entry.state == "queued"  # shown before the job could end (clock not moved)
        assert "◌ queued" in row_text(app, entry) and entry.short_id in row_text(app, entry)
        assert "4 CU" in row_text(app, entry)
        assert [j.id for j in h.sandbox_jobs()] == [entry.job_id]

        h.sandbox_clock.advance(10)
        await finished(pilot, entry)
        assert entry.state == "success" and "✓ success" in row_text(app, entry)
        results = sorted(h.out.glob("*.png"))
        assert len(results) == 4 and all(entry.job_id in p.name for p in results)
        assert sorted(p.name for p in entry.results) == [p.name for p in results]
        await settle(app, pilot)
        preview = main(app).query_one(Preview)
        assert [item.path for item in preview.items] == entry.results
        metadata = json.loads((h.out / f"{entry.job_id}.json").read_text())
        assert metadata["parameters"]["prompt"] == "a red lighthouse, oil painting"

        [run] = app.engine.store.runs()
        states = [state for _, state, _, _ in app.engine.store.history(run.id)]
        assert states[:2] == ["intent", "running"] and states[-1] == "success"
        assert run.params["prompt"] == "a red lighthouse, oil painting"
        assert run.model == {"id": FLUX, "name": "Flux Fill (sandbox)", "type": "flux.1"}
        assert run.job_id == entry.job_id and run.cost == 4
        assert sorted(run.files) == results  # absolute: found from any folder
        sent = h.sandbox._jobs[entry.job_id].input
        assert sent["prompt"] == "a red lighthouse, oil painting" and len(sent["ipAdapterImageIds"]) == 1


# --------------------------------------------------------------------------- 2. validation, field by field


async def test_nothing_is_flagged_under_untouched_fields_but_the_summary_lists_all(
        harness: Callable[..., Harness]) -> None:
    app = harness().app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot, model=FLUX)
        summary = blockers(app)
        assert summary.startswith("✗ 4 to fix before submitting: ")
        for expected in ("Prompt: is required", "Input image: an input image is required (a file or an asset id)",
                         "Mask: a mask is required (a file, or a mask asset id)",
                         "Reference images: at least one reference image is required"):
            assert expected in summary
        assert all(note(app, n) == "" for n in ("prompt", "image", "mask", "ipAdapterImages"))
        assert FIX_FIRST in costbar(app)

        await pilot.press("ctrl+r")  # refused: every field now shows its problem, the first one gets the focus
        await settle(app, pilot)
        assert panel(app).entries == [] and app.engine.store.runs() == []
        assert note(app, "image") == "✗ an input image is required (a file or an asset id)"
        assert note(app, "mask") == "✗ a mask is required (a file, or a mask asset id)"
        assert note(app, "prompt") == "✗ is required"
        assert note(app, "ipAdapterImages") == "✗ at least one reference image is required"
        assert "4 problems to fix first: Prompt: is required" in toasts(app)
        assert app.focused is widget(app, "#param-prompt")  # the first problem listed (not the first on screen)


NUMBER_CASES = [
    # (field, typed, what the Input keeps, message under the field)
    ("strength", "2", "2", "must be between 0.01 and 1"),
    ("strength", "0", "0", "must be between 0.01 and 1"),
    ("numSamples", "0", "0", "must be between 1 and 128"),
    ("numSamples", "200", "200", "must be between 1 and 128"),
    ("width", "513", "513", "must be a multiple of 8 (try 512 or 520)"),
    ("height", "256", "256", f"must be between 512 and 2048 for the {SDXL_WHO}"),  # the model's limit
    ("width", "4096", "4096", "must be between 64 and 2048"),
]


@pytest.mark.parametrize(("name", "typed", "kept", "message"), NUMBER_CASES,
                         ids=[f"{c[0]}={c[1]}" for c in NUMBER_CASES])
async def test_number_fields_explain_what_is_wrong(harness: Callable[..., Harness], inputs: dict[str, str],
                                                   name: str, typed: str, kept: str, message: str) -> None:
    h = harness(ui_state=filled(inputs))
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await quoted(app, pilot)
        field = await retype(app, pilot, f"#param-{name}", typed)
        assert field.value == kept
        await wait_note(app, pilot, name, f"✗ {message}")
        assert blockers(app) == f"✗ 1 to fix before submitting: {P.label(name)}: {message}"
        assert FIX_FIRST in costbar(app)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert panel(app).entries == [] and h.sandbox_jobs() == []
        assert app.focused is field  # sent back to the field


async def test_number_fields_keep_what_was_typed_and_say_what_is_wrong(harness: Callable[..., Harness],
                                                                      inputs: dict[str, str]) -> None:
    app = harness(ui_state=filled(inputs)).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        field = await retype(app, pilot, "#param-numSamples", "2.5")
        await wait_note(app, pilot, "numSamples", "✗ must be a whole number")
        assert field.value == "2.5"  # not 25 samples at 7 CU each
        assert FIX_FIRST in costbar(app)
        field = await retype(app, pilot, "#param-numSamples", "abc")
        await wait_note(app, pilot, "numSamples", "✗ must be a whole number")
        assert field.value == "abc"
        await retype(app, pilot, "#param-numSamples", "")
        await quoted(app, pilot, "28")  # empty: the documented default (4) is used
        width = await retype(app, pilot, "#param-width", "5x1y2")
        await wait_note(app, pilot, "width", "✗ must be a whole number")
        assert width.value == "5x1y2"


async def test_seed_fixed_mode_takes_whole_numbers_only(harness: Callable[..., Harness],
                                                      inputs: dict[str, str]) -> None:
    h = harness(ui_state=filled(inputs))
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        seed = widget(app, "#param-seed")
        assert isinstance(seed, Input) and seed.disabled  # random each run: nothing to type
        await focus(app, pilot, "#seed-mode")
        await pilot.press("enter", "down", "enter")  # Random → Fixed
        await pilot.pause()
        assert main(app).form.seed_mode == "fixed" and not seed.disabled
        await pilot.press("tab")
        assert app.focused is seed
        await pilot.press(*"abc")
        await wait_note(app, pilot, "seed", f"✗ must be a whole number from 0 to {P.MAX_SEED}")
        assert seed.value == "abc"  # kept as typed, and refused
        await pilot.press("ctrl+u", *"-1")
        await wait_note(app, pilot, "seed", f"✗ must be a whole number from 0 to {P.MAX_SEED}")
        assert f"Seed: must be a whole number from 0 to {P.MAX_SEED}" in blockers(app)
        await pilot.press("ctrl+u", *"42")
        await wait_note(app, pilot, "seed", "")
        await quoted(app, pilot)
        entry = await submit(app, pilot)
        assert h.sandbox._jobs[entry.job_id].input["seed"] == "42" and entry.run.params["seed"] == "42"


async def test_seed_increment_mode_moves_on_after_each_submit(harness: Callable[..., Harness],
                                                              inputs: dict[str, str]) -> None:
    state = filled(inputs, seed="7")
    state.seed_mode = "increment"
    h = harness(ui_state=state)
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await quoted(app, pilot)
        entry = await submit(app, pilot)
        assert h.sandbox._jobs[entry.job_id].input["seed"] == "7"
        # its 4 samples used seeds 7 to 10: the next run starts at 11, so no image is made twice
        await until(pilot, lambda: widget(app, "#param-seed").value == "11", "the next seed")  # type: ignore[attr-defined]


async def test_prompt_is_required_once_touched(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    app = harness(ui_state=filled(inputs, prompt="")).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        assert note(app, "prompt") == "" and "Prompt: is required" in blockers(app)
        await focus(app, pilot, "#param-prompt")
        await pilot.press(*"a cat")
        await until(pilot, lambda: blockers(app) == "", "no blockers")
        await quoted(app, pilot)
        await pilot.press(*["backspace"] * 5)
        await wait_note(app, pilot, "prompt", "✗ is required")
        assert blockers(app) == "✗ 1 to fix before submitting: Prompt: is required"
        await pilot.press(*"   ")  # blanks are no prompt
        await settle(app, pilot)
        assert note(app, "prompt") == "✗ is required"


CONCEPT_CASES = [
    ("lora", "'lora': expected MODEL_ID:SCALE or MODEL_ID:SCALE:EPOCH"),
    ("a:1:2:3", "'a:1:2:3': expected MODEL_ID:SCALE or MODEL_ID:SCALE:EPOCH"),
    ("a:3", "concept 1 scale: must be between -2 and 2"),
    ("a:0.5, b:x", "concept 2 scale: must be a number"),
]


@pytest.mark.parametrize(("typed", "message"), CONCEPT_CASES, ids=[c[0] for c in CONCEPT_CASES])
async def test_concepts_are_parsed_and_checked(harness: Callable[..., Harness], inputs: dict[str, str],
                                               typed: str, message: str) -> None:
    app = harness(ui_state=filled(inputs)).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await focus_advanced(app, pilot)
        await retype(app, pilot, "#param-concepts", typed)
        await wait_note(app, pilot, "concepts", f"✗ {message}")
        assert blockers(app) == f"✗ 1 to fix before submitting: Concepts: {message}"


async def focus_advanced(app: ScenarioApp, pilot: Pilot[Any]) -> None:
    """Unfold the Advanced section from the keyboard: its title is a Tab stop (focused here directly:
    twenty Tabs away), Enter unfolds it and builds its rows."""
    title = main(app).query_one("#group-advanced SectionTitle")
    assert title.focusable
    title.focus()
    await pilot.press("enter")
    await settle(app, pilot)
    assert widget(app, "#param-scheduler").display


async def test_select_and_switch_values_are_sent(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    h = harness(ui_state=filled(inputs))
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await focus_advanced(app, pilot)
        scheduler = await focus(app, pilot, "#param-scheduler")
        assert isinstance(scheduler, Select)
        await pilot.press("enter", "down", "down", "enter")  # blank → DDIMScheduler → DDPMScheduler
        await pilot.pause()
        assert scheduler.value == "DDPMScheduler"
        switch = await focus(app, pilot, "#param-disableMerging")
        assert isinstance(switch, Switch)
        await pilot.press("space")
        assert switch.value is True
        await settle(app, pilot)
        assert note(app, "scheduler") == "" and note(app, "disableMerging") == "" and blockers(app) == ""
        await quoted(app, pilot)
        entry = await submit(app, pilot)
        sent = h.sandbox._jobs[entry.job_id].input
        assert sent["scheduler"] == "DDPMScheduler" and sent["disableMerging"] is True
        assert entry.run.params["scheduler"] == "DDPMScheduler" and entry.run.params["disableMerging"] is True
        assert "hideResults" not in sent  # switches left off are not sent


async def test_negative_prompt_below_guidance_1_warns_without_blocking(harness: Callable[..., Harness],
                                                                       inputs: dict[str, str]) -> None:
    h = harness(ui_state=filled(inputs))
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await focus(app, pilot, "#param-negativePrompt")
        await pilot.press(*"blurry")
        await focus_advanced(app, pilot)
        await retype(app, pilot, "#param-guidance", "0.5")
        await wait_note(app, pilot, "negativePrompt", "⚠ ignored because guidance is below 1")
        assert blockers(app) == ""
        await quoted(app, pilot)
        entry = await submit(app, pilot)
        assert h.sandbox._jobs[entry.job_id].input["negativePrompt"] == "blurry"
        assert note(app, "negativePrompt") == "⚠ ignored because guidance is below 1"  # still said after submitting


# Regression tests for bugs found while writing this module (each failed before the fix):
# ParamForm stopped every Input.Changed, so the screen never looked up a typed, picked or sandbox-filled
# model id (no model info, no "no model with this id", model limits unchecked) and "Lock aspect" did nothing.


async def test_a_typed_model_is_looked_up_and_its_limits_apply(harness: Callable[..., Harness],
                                                              inputs: dict[str, str]) -> None:
    app = harness(ui_state=filled(inputs)).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await retype(app, pilot, "#param-width", "256")
        await wait_note(app, pilot, "width", f"✗ must be between 512 and 2048 for the {SDXL_WHO}")
        await retype(app, pilot, "#param-modelId", SD15)  # SD 1.5 goes down to 64 px
        await until(pilot, lambda: model_info(app) == "SD 1.5 Classic (sandbox) · sd-1_5", "SD 1.5 looked up", seconds=5)
        await wait_note(app, pilot, "width", "")
        assert blockers(app) == ""


async def test_the_sandbox_model_filled_in_at_start_is_looked_up(harness: Callable[..., Harness]) -> None:
    app = harness().app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot, model=FLUX)
        await until(pilot, lambda: model_info(app) == "Flux Fill (sandbox) · flux.1", "the model looked up", seconds=5)
        await focus_advanced(app, pilot)
        await retype(app, pilot, "#param-guidance", "12")
        await wait_note(app, pilot, "guidance", "✗ must be between 0 and 10 for the Flux dev model Flux Fill (sandbox)")


async def test_lock_aspect_keeps_the_inputs_proportions(harness: Callable[..., Harness],
                                                        inputs: dict[str, str]) -> None:
    app = harness(ui_state=filled(inputs)).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await focus(app, pilot, "#aspect-lock")
        await pilot.press("space")
        assert widget(app, "#aspect-lock").value is True  # type: ignore[attr-defined]
        await retype(app, pilot, "#param-width", "640")  # the input is 64×48
        await until(pilot, lambda: widget(app, "#param-height").value == "480", "the height to follow", seconds=5)  # type: ignore[attr-defined]


async def test_a_bad_file_shows_its_reason_once(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    app = harness(ui_state=filled(inputs, prompt="a cat")).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await focus(app, pilot, "#file-image .file-path")
        await pilot.press("ctrl+u", *"nope.png", "enter")
        await settle(app, pilot)
        image = main(app).form.file("image")
        assert image.problem is not None and image.problem.startswith("nope.png: no such file")
        await until(pilot, lambda: "Input image" in blockers(app), "the summary")
        assert str(image.query_one(".file-info", Static).content) == image.problem
        assert note(app, "image") == ""  # not "required" as well
        assert blockers(app) == f"✗ 1 to fix before submitting: Input image: {image.problem}"
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert note(app, "image") == "" and blockers(app).count("Input image") == 1
        assert panel(app).entries == []


async def test_a_bad_reference_shows_its_reason_once(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    app = harness(ui_state=filled(inputs)).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await focus(app, pilot, "#references .file-path")
        await pilot.press("ctrl+u", *"missing.png", "enter")
        await settle(app, pilot)
        reference = main(app).form.references.rows()[0][0]
        assert reference.problem is not None and reference.problem.startswith("missing.png: no such file")
        await until(pilot, lambda: "Reference images" in blockers(app), "the summary")
        assert blockers(app) == f"✗ 1 to fix before submitting: Reference images: reference 1: {reference.problem}"
        assert note(app, "ipAdapterImages") == ""


async def test_each_reference_gets_a_scale(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    """Scales typed for some references only: the others get the default 0.9, so there is one per reference."""
    h = harness(ui_state=filled(inputs))
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await focus(app, pilot, "#references .file-path")
        await pilot.press("ctrl+n")  # a second row, focused
        await pilot.press(*inputs["ref2"], "tab", *"0.5")
        await settle(app, pilot)
        assert [(f.value, s) for f, s in main(app).form.references.rows()] == [("r1.png", ""), ("r2.png", "0.5")]
        assert blockers(app) == ""
        await quoted(app, pilot)
        entry = await submit(app, pilot)
        assert h.sandbox._jobs[entry.job_id].input["ipAdapterScales"] == [0.9, 0.5]
        assert len(h.sandbox._jobs[entry.job_id].input["ipAdapterImageIds"]) == 2


async def test_a_scale_out_of_range_is_explained_under_the_references(harness: Callable[..., Harness],
                                                                      inputs: dict[str, str]) -> None:
    """Regression: the problem is on ``ipAdapterScales``, which has no row; it was only in the summary."""
    app = harness(ui_state=filled(inputs)).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await focus(app, pilot, ".reference-scale")
        await pilot.press(*"1.5")
        await until(pilot, lambda: "Reference scales: reference 1: must be between 0 and 1" in blockers(app),
                    "the scale listed in the blockers", seconds=5)
        await wait_note(app, pilot, "ipAdapterImages", "✗ reference 1: must be between 0 and 1", seconds=5)


# --------------------------------------------------------------------------- 3. quotes


async def test_a_changed_form_is_quoted_again(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    h = harness(ui_state=filled(inputs))
    app = h.app
    quotes: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        assert await quoted(app, pilot) == "Cost: 28 CU"
        await retype(app, pilot, "#param-numSamples", "8")
        await until(pilot, lambda: "quoting…" in costbar(app) or "Cost: 56 CU" in costbar(app), "stale cost hidden")
        assert "Cost: 28 CU" not in costbar(app)
        quotes.append(await quoted(app, pilot, "56"))
        assert quotes == ["Cost: 56 CU"]
        assert h.sandbox_jobs() == []  # quotes are dry runs


async def test_the_cost_comes_back_when_the_form_is_fixed(harness: Callable[..., Harness],
                                                          inputs: dict[str, str]) -> None:
    """Regression: going back to the last quoted values after an invalid edit left "fix the form to see
    the cost" on a valid form (the cost bar was only repainted when a new quote started)."""
    app = harness(ui_state=filled(inputs)).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await quoted(app, pilot, "28")
        await focus(app, pilot, "#param-strength")
        await pilot.press("2")
        await until(pilot, lambda: FIX_FIRST in costbar(app), "the form invalid")
        await pilot.press("backspace")  # back to the quoted form
        await until(pilot, lambda: blockers(app) == "", "the form valid again")
        await until(pilot, lambda: "Cost: 28 CU" in costbar(app), "the cost shown again", seconds=5)
        assert FIX_FIRST not in costbar(app)


class FailingQuotes(httpx.AsyncBaseTransport):
    """Answers dry runs with a 500; everything else goes to the sandbox."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.dry_runs = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.params.get("dryRun") == "true":
            self.dry_runs += 1
            return httpx.Response(500, json={"reason": "pricing is down"})
        return await self.inner.handle_async_request(request)


async def test_a_failed_quote_says_so_and_submitting_still_works(harness: Callable[..., Harness],
                                                                 inputs: dict[str, str]) -> None:
    h = harness(ui_state=filled(inputs), wrap=FailingQuotes)
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await until(pilot, lambda: "quote failed" in costbar(app), "the quote failure shown")
        assert costbar(app).startswith(" Cost: quote failed: HTTP 500: pricing is down (you can still submit)")
        await pilot.press("ctrl+r")
        # an unknown cost is never paid without asking
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert app.screen.question.startswith("The cost couldn't be quoted (HTTP 500: pricing is down)")
        await pilot.press("y")
        await until(pilot, lambda: bool(panel(app).entries) and panel(app).entries[0].job_id is not None,
                    "the job accepted")
        entry = panel(app).entries[0]
        await finished(pilot, entry)
        assert entry.state == "success" and len(entry.results) == 4
        assert entry.cost == 28  # the price comes with the submission


# --------------------------------------------------------------------------- 4. confirmation


async def test_jobs_above_the_threshold_are_confirmed(harness: Callable[..., Harness], inputs: dict[str, str],
                                                      no_cooldown: None) -> None:
    h = harness(ui_state=filled(inputs), confirm_above=0)
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await quoted(app, pilot, "28")
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert "quoted at 28 creative units (above your 0 CU threshold). Submit it?" in app.screen.question
        await pilot.press("n")
        await settle(app, pilot)
        assert isinstance(app.screen, MainScreen)
        assert panel(app).entries == [] and h.sandbox_jobs() == [] and app.engine.store.runs() == []
        await submitting_released(app, pilot)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation again")
        await pilot.press("y")
        await until(pilot, lambda: len(h.sandbox_jobs()) == 1 and panel(app).entries[0].job_id is not None,
                    "the job submitted")
        assert len(panel(app).entries) == 1


# --------------------------------------------------------------------------- 5. one job per submit


async def test_submitting_twice_quickly_makes_one_job(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    h = harness(ui_state=filled(inputs), job_seconds=10)
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await quoted(app, pilot)
        await key_repeat(pilot, "ctrl+r", "ctrl+r", "ctrl+enter")
        await until(pilot, lambda: bool(panel(app).entries) and panel(app).entries[0].job_id is not None, "a job")
        await key_repeat(pilot, "ctrl+enter", "ctrl+r")  # still within the cooldown
        await settle(app, pilot)
        assert len(panel(app).entries) == 1 and len(h.sandbox_jobs()) == 1
        assert "Already submitting…" in toasts(app)
        [run] = app.engine.store.runs()
        assert [state for _, state, _, _ in app.engine.store.history(run.id)][:2] == ["intent", "running"]


# --------------------------------------------------------------------------- 6. several jobs, failure, cancel


async def test_three_jobs_run_at_once(harness: Callable[..., Harness], inputs: dict[str, str],
                                      no_cooldown: None) -> None:
    h = harness(ui_state=filled(inputs), job_seconds=10)
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await quoted(app, pilot)
        for n in (1, 2, 3):
            await submit(app, pilot, jobs=n)
            await submitting_released(app, pilot)
        entries = panel(app).entries
        assert len(entries) == 3 and len({e.job_id for e in entries}) == 3
        assert all(e.running for e in entries) and panel(app).running_count == 3
        h.sandbox_clock.advance(10)
        for entry in entries:
            await finished(pilot, entry)
        assert [e.state for e in entries] == ["success"] * 3
        assert len(list(h.out.glob("*.png"))) == 12
        assert panel(app).running_count == 0


async def test_a_failing_job_shows_the_servers_error(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    app = harness(ui_state=filled(inputs, prompt="a cat [fail]")).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await quoted(app, pilot)
        entry = await submit(app, pilot)
        await finished(pilot, entry)
        assert entry.state == "failed" and entry.results == []
        assert "✗ failed" in row_text(app, entry)
        text = details(app)
        assert "error: The generation failed because the prompt asks for it with [fail] (sandbox)." in text
        assert "hint: Remove [fail] from the prompt and submit again." in text
        assert [run.state.value for run in app.engine.store.runs()] == ["failure"]
        assert any(t.startswith(f"Job {entry.job_id} failure: The generation failed") for t in toasts(app))


async def test_cancel_a_slow_job_from_the_job_panel(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    h = harness(ui_state=filled(inputs), job_seconds=10)
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await quoted(app, pilot)
        entry = await submit(app, pilot)
        await pilot.press("f3")
        assert isinstance(app.focused, JobPanel)
        await pilot.press("c", "y")  # asked first
        await finished(pilot, entry)
        assert entry.state == "canceled" and "⊘ canceled" in row_text(app, entry)
        assert "note: cancel requested" in details(app)
        assert [run.state.value for run in app.engine.store.runs()] == ["canceled"]
        assert list(h.out.glob("*.png")) == []


# --------------------------------------------------------------------------- 7. models


async def test_pick_a_model_from_the_form(harness: Callable[..., Harness]) -> None:
    app = harness().app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot, model=FLUX)
        await pilot.press("ctrl+l")
        assert isinstance(app.screen, ModelPicker)
        await settle(app, pilot)
        assert app.screen.query_one(OptionList).option_count == 6
        await pilot.press("down", "enter")  # the second listed: Flux Pro
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        model_id = widget(app, "#param-modelId")
        assert isinstance(model_id, Input) and model_id.value == FLUX_PRO and app.focused is model_id


async def test_a_model_picked_in_the_list_is_looked_up(harness: Callable[..., Harness]) -> None:
    app = harness().app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot, model=FLUX)
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        await pilot.press("down", "enter")
        await until(pilot, lambda: model_info(app) == "Flux Pro (sandbox) · flux.1-pro", "the model looked up", seconds=5)
        assert main(app).model is not None and main(app).model.id == FLUX_PRO


async def test_model_picker_when_the_workspace_has_no_usable_model(harness: Callable[..., Harness]) -> None:
    app = harness(empty_models=True).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot, model=None)
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert str(app.screen.query_one(".picker-status", Static).content) == EMPTY
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert widget(app, "#param-modelId").value == ""  # type: ignore[attr-defined]
        assert "Model: is required" in blockers(app)


async def test_model_listing_forbidden_is_explained(harness: Callable[..., Harness]) -> None:
    app = harness(models_status=403).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot, model=None)
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        status = str(app.screen.query_one(".picker-status", Static).content)
        assert status.startswith("Your plan or project can't list models (HTTP 403: Your plan or project does not "
                                 "give access to models")
        assert status.endswith("Type a model id.")
        await pilot.press(*SDXL, "enter")  # a typed id is taken as is
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert widget(app, "#param-modelId").value == SDXL  # type: ignore[attr-defined]
        await settle(app, pilot)
        assert note(app, "modelId") == "" and "Model:" not in blockers(app)


async def test_a_restored_model_that_cant_be_checked_says_so(harness: Callable[..., Harness],
                                                             inputs: dict[str, str]) -> None:
    app = harness(ui_state=filled(inputs), models_status=403).app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await until(pilot, lambda: model_info(app).startswith("couldn't check the model (HTTP 403"), "the lookup")
        assert model_info(app).endswith("; model-specific limits are not checked")
        await until(pilot, lambda: blockers(app) == "", "the form valid: the model can't be checked, not refused")
        assert note(app, "modelId") == ""


async def test_an_unknown_model_id_is_flagged(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    app = harness(ui_state=filled(inputs)).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await retype(app, pilot, "#param-modelId", "model_nope")
        await wait_note(app, pilot, "modelId", "✗ no model with this id (ctrl+l lists the compatible ones)", seconds=5)
        assert blockers(app) == ("✗ 1 to fix before submitting: Model: no model with this id (ctrl+l lists the "
                                 "compatible ones)")
        assert model_info(app) == ""


# --------------------------------------------------------------------------- 8. quit and help


async def test_quit_with_a_running_job_asks_first(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    app = harness(ui_state=filled(inputs), job_seconds=10).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await quoted(app, pilot)
        await submit(app, pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question == ("1 job still running: in the sandbox, they stop with the app. Quit anyway?")
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and app.is_running
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("y")
    assert app.return_value == 0


async def test_quit_without_jobs_exits_at_once(harness: Callable[..., Harness]) -> None:
    app = harness().app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot, model=FLUX)
        await pilot.press("ctrl+q")
    assert app.return_value == 0


async def test_help_lists_the_keys(harness: Callable[..., Harness]) -> None:
    app = harness().app
    async with app.run_test(size=(120, 60)) as pilot:
        await ready(app, pilot, model=FLUX)
        await focus(app, pilot, "#param-prompt")
        await pilot.press("?")  # typed into the prompt, not a shortcut there
        assert isinstance(app.screen, MainScreen)
        assert widget(app, "#param-prompt").text == "?"  # type: ignore[attr-defined]
        await pilot.press("f3", "?")
        assert isinstance(app.screen, HelpScreen)
        shown = screen_text(app)
        assert "Submit" in shown and "ctrl+r" in shown and "Cancel job" in shown
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


def screen_text(app: ScenarioApp) -> str:
    """The screen's characters, one line per row (from the compositor, as a terminal would show)."""
    lines = []
    for strip in app.screen._compositor.render_strips():
        lines.append("".join(segment.text for segment in strip))
    return "\n".join(lines)


# --------------------------------------------------------------------------- 9. remembered values


async def test_values_persist_to_the_next_run(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    app = harness().app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot, model=FLUX)
        await pilot.press(*inputs["image"], "enter")
        await focus(app, pilot, "#param-prompt")
        await pilot.press(*"a lighthouse")
        await retype(app, pilot, "#param-strength", "0.6")
        await settle(app, pilot)
        main(app).save_state()

    again = harness(ui_state=UiState.load()).app
    async with again.run_test(size=(120, 40)) as pilot:
        await ready(again, pilot, model=FLUX)
        assert widget(again, "#param-prompt").text == "a lighthouse"  # type: ignore[attr-defined]
        assert widget(again, "#param-strength").value == "0.6"  # type: ignore[attr-defined]
        assert widget(again, "#param-modelId").value == FLUX  # type: ignore[attr-defined]
        image = main(again).form.file("image")
        assert image.value == "in.png" and image.loaded is not None


async def test_quitting_saves_the_form(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    app = harness().app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot, model=FLUX)
        await focus(app, pilot, "#param-prompt")
        await pilot.press(*"a boat")
        await pilot.press("ctrl+q")
    state = UiState.load()
    assert state.values.get("prompt") == "a boat" and state.values.get("modelId") == FLUX
