"""FileField: loading as typed, inline problems, asset ids, masks, resizing, completion and browsing."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, Static
from textual_fspicker import FileOpen
from textual_image.widget import HalfcellImage

from scenario_tui.core.imaging import LoadedImage, LoadedMask
from scenario_tui.ui.widgets.file_field import FileField, PathSuggester, Role
from tests.conftest import make_image, make_mask
from tests.ui.widget_app import WidgetApp


class FieldApp(WidgetApp):
    def __init__(self, role: Role = "image", image_cls: type[Widget] | None = HalfcellImage) -> None:
        super().__init__(image_cls)
        self.role: Role = role
        self.changes: list[str | None] = []

    def compose(self) -> ComposeResult:
        yield FileField(self.role, id="field")
        yield Input(id="next-field")  # somewhere for Tab to go

    def on_mount(self) -> None:
        self.field.focus()

    @property
    def field(self) -> FileField:
        return self.query_one(FileField)

    def on_file_field_changed(self, event: FileField.Changed) -> None:
        assert event.control is self.field
        if not event.file_field.reading:  # outcomes only; the start of a load is tested on its own
            self.changes.append(event.file_field.problem)


def info(app: FieldApp) -> str:
    return str(app.query_one(".file-info", Static).content)


def shows_problem(app: FieldApp) -> bool:
    return app.query_one(".file-info", Static).has_class("-problem")


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests type short relative paths: every key press costs a Pilot round trip."""
    monkeypatch.chdir(tmp_path)


async def settle(app: App[None], pilot: Pilot[None]) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


async def type_and_enter(app: FieldApp, pilot: Pilot[None], text: str) -> None:
    await pilot.press("ctrl+u", *text, "enter")
    await settle(app, pilot)


async def test_typing_a_valid_path_loads_it(tmp_path: Path) -> None:
    path = make_image(tmp_path / "input.png", (64, 48))
    app = FieldApp()
    async with app.run_test() as pilot:
        await type_and_enter(app, pilot, path.name)
        assert app.field.value == "input.png"
        assert isinstance(app.field.loaded, LoadedImage) and app.field.loaded.path == Path("input.png")
        assert app.field.problem is None and app.field.asset_id is None
        assert info(app).startswith("64×48 RGB PNG")
        assert not shows_problem(app)
        thumb = app.query_one(".file-thumb", HalfcellImage)
        assert thumb.display and thumb.image is not None
        assert app.changes == [None]


async def test_typing_loads_after_a_pause_without_enter(tmp_path: Path) -> None:
    path = make_image(tmp_path / "a.png")
    app = FieldApp()
    async with app.run_test() as pilot:
        await pilot.press(*path.name)
        assert app.field.loaded is None
        await pilot.press("tab")  # leaving the input loads at once
        await settle(app, pilot)
        assert isinstance(app.field.loaded, LoadedImage)


def _truncated(path: Path) -> Path:
    make_image(path, (256, 256))
    path.write_bytes(path.read_bytes()[:200])
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: d / "missing.png", "missing.png: no such file"),
        (lambda d: (d / "sub").mkdir() or d / "sub", "sub: is a directory, not a file"),
        (lambda d: (d / "notes.txt").write_text("hello") and d / "notes.txt", "notes.txt: not an image"),
        (lambda d: _truncated(d / "cut.png"), "cut.png: the image data is truncated or corrupt"),
    ],
    ids=["missing", "directory", "not-an-image", "truncated"],
)
async def test_unusable_files_show_the_reason_inline(tmp_path: Path, make, reason: str) -> None:  # type: ignore[no-untyped-def]
    path: Path = make(tmp_path)
    app = FieldApp()
    async with app.run_test() as pilot:
        await type_and_enter(app, pilot, path.name)
        assert app.field.problem is not None and reason in app.field.problem
        assert app.field.loaded is None
        assert info(app) == app.field.problem and shows_problem(app)
        assert not app.query_one(".file-thumb").display
        assert app.changes == [app.field.problem]


async def test_clearing_removes_the_problem(tmp_path: Path) -> None:
    app = FieldApp()
    async with app.run_test() as pilot:
        await type_and_enter(app, pilot, "nope.png")
        assert app.field.problem
        await pilot.press("ctrl+u", "enter")
        await settle(app, pilot)
        assert app.field.problem is None and app.field.loaded is None and app.field.asset_id is None
        assert info(app) == "" and not shows_problem(app)
        assert app.changes[-1] is None and len(app.changes) == 2


async def test_set_value_loads_without_typing(tmp_path: Path) -> None:
    path = make_image(tmp_path / "saved.png", (32, 32))
    app = FieldApp()
    async with app.run_test() as pilot:
        app.field.set_value(str(path))
        await settle(app, pilot)
        assert app.field.value == str(path)
        assert isinstance(app.field.loaded, LoadedImage)
        assert app.changes == [None]  # one load, no second one from the debounce


async def test_asset_id_is_accepted_for_an_image(tmp_path: Path) -> None:
    app = FieldApp("image")
    async with app.run_test() as pilot:
        await type_and_enter(app, pilot, "asset_Abc-123")
        assert app.field.asset_id == "asset_Abc-123"
        assert app.field.loaded is None and app.field.problem is None
        assert info(app) == "asset id (sent as is)"


async def test_asset_id_is_refused_for_a_mask() -> None:
    app = FieldApp("mask")
    async with app.run_test() as pilot:
        await type_and_enter(app, pilot, "asset_Abc-123")
        assert app.field.asset_id is None
        assert app.field.problem is not None and "use the Mask asset id field" in app.field.problem
        assert shows_problem(app)


async def test_mask_shows_its_coverage(tmp_path: Path) -> None:
    make_mask(tmp_path / "mask.png", (64, 48))
    app = FieldApp("mask")
    async with app.run_test() as pilot:
        await type_and_enter(app, pilot, "mask.png")
        mask = app.field.loaded
        assert isinstance(mask, LoadedMask)
        assert info(app).startswith(f"64×48 mask, coverage {mask.coverage:.1f} %")


async def test_mask_size_mismatch_offers_a_resize_that_fixes_it(tmp_path: Path) -> None:
    path = make_mask(tmp_path / "mask.png", (64, 48))
    app = FieldApp("mask")
    async with app.run_test() as pilot:
        app.field.image_size = (128, 96)
        await type_and_enter(app, pilot, path.name)
        assert app.field.problem is not None and "resize the mask to 128×96" in app.field.problem
        assert app.field.loaded is None
        assert app.query_one(".file-resize").display
        assert app.field.check_action("resize_mask", ())

        await pilot.press("ctrl+t")
        await settle(app, pilot)
        mask = app.field.loaded
        assert isinstance(mask, LoadedMask) and mask.image.size == (128, 96)
        assert app.field.problem is None
        assert "resized from 64×48 to 128×96" in info(app)
        assert not app.query_one(".file-resize").display
        assert not app.field.check_action("resize_mask", ())


async def test_changing_the_image_size_rechecks_the_mask(tmp_path: Path) -> None:
    path = make_mask(tmp_path / "mask.png", (64, 48))
    app = FieldApp("mask")
    async with app.run_test() as pilot:
        app.field.set_value(str(path))
        await settle(app, pilot)
        assert isinstance(app.field.loaded, LoadedMask)
        app.field.image_size = (100, 100)
        await settle(app, pilot)
        assert app.field.problem is not None and "the image is 100×100" in app.field.problem
        app.field.image_size = (64, 48)
        await settle(app, pilot)
        assert isinstance(app.field.loaded, LoadedMask) and app.field.problem is None


async def test_without_graphics_only_text_is_shown(tmp_path: Path) -> None:
    path = make_image(tmp_path / "input.png")
    app = FieldApp(image_cls=None)
    async with app.run_test() as pilot:
        app.field.set_value(str(path))
        await settle(app, pilot)
        assert isinstance(app.field.loaded, LoadedImage)
        assert not app.query(".file-thumb")
        assert info(app).startswith("64×48 RGB PNG")


async def test_markup_in_file_names_is_shown_literally(tmp_path: Path) -> None:
    folder = tmp_path / "[b]markup["
    folder.mkdir()
    make_image(folder / "b].png")
    bad = tmp_path / "[@click=x(]oops[b].png"
    bad.write_text("not an image")
    app = FieldApp()
    async with app.run_test() as pilot:
        await type_and_enter(app, pilot, "[b]markup[/b].png")
        assert isinstance(app.field.loaded, LoadedImage) and app.field.loaded.path == Path("[b]markup[/b].png")
        app.field.set_value(bad.name)
        await settle(app, pilot)
        assert info(app).startswith("[@click=x(]oops[b].png: not an image")


async def test_path_suggester_completes_files_and_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_image(tmp_path / "Hero.png")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "Sprites").mkdir()
    (tmp_path / ".hidden").mkdir()
    suggester = PathSuggester()
    base = f"{tmp_path}/"
    assert await suggester.get_suggestion(base + "he") == base + "Hero.png"
    assert await suggester.get_suggestion(base + "spr") == base + "Sprites/"
    assert await suggester.get_suggestion(base + "no") is None  # not an image
    assert await suggester.get_suggestion(base + ".h") == base + ".hidden/"
    assert await suggester.get_suggestion(base) == base + "Hero.png"  # hidden entries skipped
    assert await suggester.get_suggestion(base + "zz") is None
    monkeypatch.chdir(tmp_path)
    assert await suggester.get_suggestion("Spr") == "Sprites/"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert await suggester.get_suggestion("~/Her") == "~/Hero.png"
    assert await suggester.get_suggestion("~nosuchuser-zz/He") is None
    assert await suggester.get_suggestion("bad\0name/x") is None


async def test_path_suggestion_appears_in_the_input(tmp_path: Path) -> None:
    make_image(tmp_path / "hero.png")
    app = FieldApp()
    async with app.run_test() as pilot:
        await pilot.press("h", "e")
        await settle(app, pilot)
        await pilot.press("right")  # accepts the suggestion
        assert app.field.value == "hero.png"


async def test_browse_opens_the_picker_and_uses_the_chosen_file(tmp_path: Path) -> None:
    folder = tmp_path / "art"
    folder.mkdir()
    first = make_image(folder / "first.png")
    chosen = make_image(folder / "chosen.png", (40, 30))
    app = FieldApp()
    async with app.run_test(size=(100, 40)) as pilot:
        app.field.set_value(str(first))
        await settle(app, pilot)
        await pilot.press("ctrl+o")
        dialog = app.screen
        assert isinstance(dialog, FileOpen)
        name = dialog.query_one(Input)
        assert dialog.query_one("DirectoryNavigation").location == folder  # type: ignore[attr-defined]
        name.value = chosen.name
        name.focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert not isinstance(app.screen, FileOpen)
        assert app.field.value == "art/chosen.png"  # shown short: the working folder is tmp_path
        assert app.ui_state.last_folder == str(folder)
        assert isinstance(app.field.loaded, LoadedImage) and app.field.loaded.size == (40, 30)


async def test_browse_starts_in_the_last_folder_and_cancel_keeps_the_value(tmp_path: Path) -> None:
    app = FieldApp()
    app.ui_state.last_folder = str(tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("ctrl+o")
        dialog = app.screen
        assert isinstance(dialog, FileOpen)
        assert dialog.query_one("DirectoryNavigation").location == tmp_path  # type: ignore[attr-defined]
        dialog.dismiss(None)
        await settle(app, pilot)
        assert app.field.value == "" and app.changes == []


def test_thumbnail_cell_box_keeps_the_aspect() -> None:
    from scenario_tui.ui.widgets.file_field import _cell_box

    assert _cell_box((100, 100)) == (6, 3)
    assert _cell_box((1920, 1080)) == (8, 2)
    assert _cell_box((90, 160)) == (3, 3)
