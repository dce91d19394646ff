"""The form sends what it shows (issue 8): numbers kept as typed, the size from the input said, seeds
that move past every sample, remembered files that work from any folder, files read in the open and
again when they change, fields and previews visible in every terminal, and chrome that fits.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from rich.color import ColorSystem
from textual import constants
from textual.filter import Monochrome, NoColor
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from scenario_tui.core import params as P
from scenario_tui.core.engine import size_from_input
from scenario_tui.core.imaging import LoadedImage
from scenario_tui.ui.app import ScenarioApp
from scenario_tui.ui.state import UiState
from scenario_tui.ui.widgets import file_field
from scenario_tui.ui.widgets.chrome import FitBar
from scenario_tui.ui.widgets.file_field import FileField
from scenario_tui.ui.widgets.form import ParamForm, ParamRow
from scenario_tui.ui.widgets.preview import Preview, PreviewItem
from tests.conftest import make_image, make_mask
from tests.ui.conftest import Harness, blockers, note, settle, until
from tests.ui.test_main_screen import SDXL, filled, main, quoted, ready, retype, submit, submitting_released


def field_input(app: ScenarioApp, name: str) -> Input:
    return main(app).query_one(f"#param-{name}", Input)


# --------------------------------------------------------------------------- what is typed stays typed


async def test_numbers_are_kept_as_typed_and_a_wrong_one_blocks_submitting(
        harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    h = harness(ui_state=filled(inputs))
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        samples = await retype(app, pilot, "#param-numSamples", "2.5")
        strength = await retype(app, pilot, "#param-strength", "0.5x")
        await until(pilot, lambda: note(app, "strength") == "✗ must be a number", "the strength note")
        assert samples.value == "2.5" and strength.value == "0.5x"  # not 25, not 0.5
        assert note(app, "numSamples") == "✗ must be a whole number"
        assert "Samples: must be a whole number" in blockers(app)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert h.sandbox_jobs() == []


async def test_a_reference_scale_is_kept_as_typed(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    app = harness(ui_state=filled(inputs)).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        scale = await retype(app, pilot, ".reference-scale", "a.5")
        await until(pilot, lambda: "must be a number" in blockers(app), "the scale problem")
        assert scale.value == "a.5"


# --------------------------------------------------------------------------- seeds over runs


async def test_increment_moves_past_every_sample_and_wraps_at_the_largest_seed(
        harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    state = filled(inputs, seed=str(P.MAX_SEED - 1), numSamples="2")
    state.seed_mode = "increment"
    h = harness(ui_state=state)
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await quoted(app, pilot)
        entry = await submit(app, pilot)
        assert h.sandbox._jobs[entry.job_id].input["seed"] == str(P.MAX_SEED - 1)  # its samples: MAX-1, MAX
        await until(pilot, lambda: field_input(app, "seed").value == "0", "the next seed")
        assert note(app, "seed") == ""  # a seed the API takes, not MAX + 1
        await submitting_released(app, pilot)
        await quoted(app, pilot)
        second = await submit(app, pilot, jobs=2)
        assert h.sandbox._jobs[second.job_id].input["seed"] == "0"
        await until(pilot, lambda: field_input(app, "seed").value == "2", "the seed after")


# --------------------------------------------------------------------------- the size that will be sent


async def test_empty_width_and_height_say_the_size_taken_from_the_input(
        harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    h = harness(ui_state=filled(inputs))
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        image = main(app).form.file("image").loaded
        assert isinstance(image, LoadedImage)
        width, height = size_from_input(image.size, main(app).model)
        assert (width, height) != (512, 512)
        assert field_input(app, "width").placeholder == f"from input: {width}×{height}"
        assert field_input(app, "height").placeholder == f"from input: {width}×{height}"
        await quoted(app, pilot)
        entry = await submit(app, pilot)
        sent = h.sandbox._jobs[entry.job_id].input
        assert (sent["width"], sent["height"]) == (width, height)  # what was shown is what was sent
        await retype(app, pilot, "#param-width", "512")
        await until(pilot, lambda: field_input(app, "height").placeholder == P.limits_text("height"),
                    "height no longer follows the input")


async def test_without_an_input_the_size_fields_show_their_limits(harness: Callable[..., Harness],
                                                                  inputs: dict[str, str]) -> None:
    state = filled(inputs)
    state.image = ""
    app = harness(ui_state=state).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        assert field_input(app, "width").placeholder == P.limits_text("width")


# --------------------------------------------------------------------------- remembered files


def test_remembered_files_are_absolute_and_work_from_another_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    make_image(project / "in.png")
    make_mask(project / "m.png")
    saved = tmp_path / "state.json"
    monkeypatch.chdir(project)
    UiState(image="in.png", mask="./m.png", references=[("in.png", "0.5"), ("asset_abc", "")]).save(saved)
    data = json.loads(saved.read_text())
    assert data["image"] == str(project / "in.png") and data["mask"] == str(project / "m.png")
    assert data["references"] == [[str(project / "in.png"), "0.5"], ["asset_abc", ""]]
    monkeypatch.chdir(elsewhere)
    state = UiState.load(saved)
    assert state.image == str(project / "in.png") and Path(state.image).is_file()
    assert state.references == [(str(project / "in.png"), "0.5"), ("asset_abc", "")]
    monkeypatch.chdir(project)
    assert UiState.load(saved).image == "in.png"  # shown short where it is short


def test_old_relative_entries_that_name_nothing_are_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    make_image(tmp_path / "here.png")
    saved = tmp_path / "state.json"
    saved.write_text(json.dumps({"image": "gone.png", "mask": "sub/m.png", "last_folder": "x",
                                 "references": [["gone.png", ""], ["here.png", "0.7"], ["asset_x1", ""]]}))
    state = UiState.load(saved)
    assert (state.image, state.mask) == ("", "")
    assert state.references == [("here.png", "0.7"), ("asset_x1", "")]


# --------------------------------------------------------------------------- files read in the open


async def test_a_slow_file_says_loading_and_is_not_reported_missing(
        harness: Callable[..., Harness], inputs: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    real = file_field.load_image

    def slow(path: Path) -> LoadedImage:
        gate.wait(30)
        return real(path)

    state = filled(inputs)
    state.image = ""
    app = harness(ui_state=state).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        field = main(app).form.file("image")
        monkeypatch.setattr(file_field, "load_image", slow)
        field.set_value("in.png")
        try:
            await until(pilot, lambda: "Input image: still loading…" in blockers(app), "the loading blocker")
            assert field.reading and "loading…" in str(field.query_one(".file-info").render())
            assert "required" not in blockers(app)
            await pilot.press("ctrl+r")  # not with the file still on its way
            await pilot.pause()
            assert main(app).jobs.entries == []
        finally:
            gate.set()
        await until(pilot, lambda: isinstance(field.loaded, LoadedImage), "the file loaded")
        await until(pilot, lambda: "Input image" not in blockers(app), "the blocker gone")


async def test_a_file_changed_on_disk_is_read_again_when_the_field_is_focused(tmp_path: Path,
                                                                              in_tmp: Path) -> None:
    from tests.ui.test_file_field import FieldApp

    make_image(tmp_path / "in.png", (64, 48))
    app = FieldApp()
    async with app.run_test(size=(100, 20)) as pilot:
        app.field.set_value("in.png")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.field.loaded, LoadedImage) and app.field.loaded.size == (64, 48)
        app.query_one("#next-field").focus()  # the user goes and edits the file
        await pilot.pause()
        make_image(tmp_path / "in.png", (80, 60))
        app.field.focus()
        await until(pilot, lambda: isinstance(app.field.loaded, LoadedImage) and app.field.loaded.size == (80, 60),
                    "the new version read")
        assert "80×60" in str(app.field.query_one(".file-info").render())


async def test_an_unchanged_file_is_not_read_again(tmp_path: Path, in_tmp: Path) -> None:
    from tests.ui.test_file_field import FieldApp

    make_image(tmp_path / "in.png", (64, 48))
    app = FieldApp()
    async with app.run_test(size=(100, 20)) as pilot:
        app.field.set_value("in.png")
        await app.workers.wait_for_complete()
        await pilot.pause()
        first = app.field.loaded
        app.field.recheck()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.field.loaded is first and not app.field.reading


# --------------------------------------------------------------------------- fits and highlights


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_every_placeholder_fits_its_field(harness: Callable[..., Harness], inputs: dict[str, str],
                                                size: tuple[int, int]) -> None:
    for state in (UiState(), filled(inputs)):
        app = harness(ui_state=state).app
        async with app.run_test(size=size) as pilot:
            await ready(app, pilot, model=None if not state.values else SDXL)
            fields = [i for i in main(app).query(Input) if i.placeholder and i.display]
            assert len(fields) >= 10
            cut = [(i.id or str(i.classes), i.placeholder, i.content_region.width) for i in fields
                   if cell_len(i.placeholder) > i.content_region.width]
            assert cut == []


async def test_no_row_stays_highlighted_once_focus_leaves_the_form(harness: Callable[..., Harness],
                                                                   inputs: dict[str, str]) -> None:
    app = harness(ui_state=filled(inputs)).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        field_input(app, "strength").focus()
        await pilot.pause()
        assert [r.param for r in main(app).query(ParamRow) if r.has_class("-focused")] == ["strength"]
        main(app).jobs.focus()
        await pilot.pause()
        assert [r.param for r in main(app).query(ParamRow) if r.has_class("-focused")] == []
        assert main(app).query_one("#helpbar").text == ""  # type: ignore[attr-defined]
        field_input(app, "numSamples").focus()
        await pilot.pause()
        assert [r.param for r in main(app).query(ParamRow) if r.has_class("-focused")] == ["numSamples"]


@pytest.mark.parametrize("width", [80, 120])
async def test_the_top_bar_fits_and_names_the_image_protocol(harness: Callable[..., Harness], width: int) -> None:
    app = harness().app
    async with app.run_test(size=(width, 30)) as pilot:
        await pilot.pause()
        bar = main(app).query_one("#topbar", FitBar)
        shown = bar.render()
        assert shown.cell_len <= width and "images: half-cell" in shown.plain and "SANDBOX" in shown.plain
        assert "nothing is charged" in shown.plain


async def test_submit_stays_in_the_footer_with_reference_keys_at_80_columns(
        harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    app = harness(ui_state=filled(inputs)).app
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        main(app).query_one(".reference-scale", Input).focus()
        await pilot.pause()
        keys = {k.action: k for k in main(app).query(FooterKey)}
        assert "remove_row" in keys  # the reference keys are there
        assert Region(0, 0, 80, 24).contains_region(keys["submit"].region)


# --------------------------------------------------------------------------- colours


async def test_previews_keep_their_colours_under_no_color(harness: Callable[..., Harness], in_tmp: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    red = make_image(in_tmp / "red.png", (64, 64), (220, 20, 20))
    app = harness().app
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.no_color
        preview = main(app).query_one(Preview)
        preview.show([PreviewItem("red", red)])
        await settle(app, pilot)
        image = preview.query_one("#preview-image")
        lines = image.render_lines(Region(0, 0, image.size.width, image.size.height))
        colours = {c.get_truecolor() for strip in lines for seg in strip if seg.style
                   for c in (seg.style.color, seg.style.bgcolor) if c is not None}
        assert any(r > g + 100 for r, g, _ in colours)  # red, not grey
        text = main(app).query_one("#topbar", FitBar)  # text still follows NO_COLOR
        assert any(isinstance(f, Monochrome | NoColor) for f in text.get_line_filters())


async def test_fields_stay_visible_with_16_colours(harness: Callable[..., Harness], inputs: dict[str, str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "COLOR_SYSTEM", "standard")  # what TERM=screen gets
    app = harness(ui_state=filled(inputs)).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        assert app.console.color_system == "standard"
        form = main(app).query_one(ParamForm)

        def in_16(widget: Any) -> Any:
            return widget.background_colors[1].rich_color.downgrade(ColorSystem.STANDARD).number

        for selector in ("#param-strength", "#param-prompt", ".file-path"):
            field = main(app).query_one(selector)
            assert in_16(field) != in_16(form), selector


async def test_a_built_preview_is_made_off_the_ui_thread(harness: Callable[..., Harness]) -> None:
    threads: list[str] = []

    def build() -> Any:
        from PIL import Image

        threads.append(threading.current_thread().name)
        return Image.new("RGB", (32, 32), (10, 200, 10))

    app = harness().app
    async with app.run_test(size=(120, 40)) as pilot:
        main(app).query_one(Preview).show([PreviewItem("overlay", build=build)])
        await settle(app, pilot)
        assert threads and threads[0] != threading.main_thread().name


def test_paths_are_shown_whole_from_the_root_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scenario_tui.ui.paths import shown_path

    monkeypatch.chdir("/")
    assert shown_path(tmp_path / "a.png") == tmp_path / "a.png"
    monkeypatch.chdir(tmp_path)
    assert shown_path(tmp_path / "a.png") == Path("a.png")
