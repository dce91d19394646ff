"""ReferenceList: one row minimum, adding, removing and reordering by key, state round trip, Changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Button, Input

from scenario_tui.core.imaging import LoadedImage
from scenario_tui.ui.widgets.file_field import FileField
from scenario_tui.ui.widgets.references import ReferenceList, ReferenceRow
from tests.conftest import make_image
from tests.ui.widget_app import WidgetApp


class ListApp(WidgetApp):
    def __init__(self) -> None:
        super().__init__()
        self.changes = 0

    def compose(self) -> ComposeResult:
        yield ReferenceList()

    @property
    def refs(self) -> ReferenceList:
        return self.query_one(ReferenceList)

    def on_mount(self) -> None:
        self.row(0).field.focus()

    def row(self, index: int) -> ReferenceRow:
        return self.query(ReferenceRow)[index]

    def values(self) -> list[tuple[str, str]]:
        return [(field.value, scale) for field, scale in self.refs.rows()]

    def on_reference_list_changed(self, event: ReferenceList.Changed) -> None:
        assert event.control is self.refs
        self.changes += 1

    def on_file_field_changed(self) -> None:
        raise AssertionError("FileField.Changed must not leak out of the list")


def focused_row(app: ListApp) -> int:
    rows = list(app.query(ReferenceRow))
    return next(i for i, row in enumerate(rows) if app.focused in row.walk_children())


async def settle(app: App[None], pilot: Pilot[None]) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


ROWS = [("a.png", "0.5"), ("b.png", "0.7"), ("asset_c", "1")]


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


async def test_starts_with_one_empty_row() -> None:
    app = ListApp()
    async with app.run_test() as pilot:
        await settle(app, pilot)
        assert app.values() == [("", "")]
        field, _ = app.refs.rows()[0]
        assert isinstance(field, FileField) and field.role == "reference"


async def test_add_with_key_and_button(tmp_path: Path) -> None:
    app = ListApp()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        before = app.changes
        await pilot.press("ctrl+n")
        assert len(app.refs.rows()) == 2
        assert focused_row(app) == 1 and isinstance(app.focused, Input)
        await pilot.click(app.query_one(".reference-add", Button))  # buttons are for the mouse: not Tab stops
        await settle(app, pilot)
        assert app.values() == [("", "")] * 3
        assert app.changes == before + 2


async def test_remove_never_leaves_fewer_than_one_row() -> None:
    app = ListApp()
    async with app.run_test(size=(100, 40)) as pilot:
        await app.refs.set_rows(ROWS)
        await settle(app, pilot)
        app.row(1).field.focus()
        await pilot.press("alt+x")
        assert app.values() == [ROWS[0], ROWS[2]]
        assert focused_row(app) == 1  # the focus moved to the next row
        app.row(0).field.focus()
        await pilot.click(app.row(1).query_one(".reference-remove", Button))
        await settle(app, pilot)
        assert app.values() == [ROWS[0]]
        assert focused_row(app) == 0
        await pilot.press("alt+x")
        await settle(app, pilot)
        assert app.values() == [("", "")]  # the last row is cleared, not removed
        assert app.refs.rows()[0][0].problem is None


async def test_reorder_with_keys() -> None:
    app = ListApp()
    async with app.run_test(size=(100, 40)) as pilot:
        await app.refs.set_rows(ROWS)
        await settle(app, pilot)
        app.row(1).field.focus()
        before = app.changes
        await pilot.press("alt+up")
        assert [v for v, _ in app.values()] == ["b.png", "a.png", "asset_c"]
        assert focused_row(app) == 0
        await pilot.press("alt+up")  # already first: nothing happens
        await pilot.press("alt+down", "alt+down")
        assert [v for v, _ in app.values()] == ["a.png", "asset_c", "b.png"]
        assert focused_row(app) == 2
        await pilot.press("alt+down")  # already last
        assert [v for v, _ in app.values()] == ["a.png", "asset_c", "b.png"]
        assert app.changes == before + 3


async def test_set_rows_and_rows_round_trip(tmp_path: Path) -> None:
    make_image(tmp_path / "a.png", (32, 32))
    app = ListApp()
    async with app.run_test(size=(100, 40)) as pilot:
        await app.refs.set_rows(ROWS)
        await settle(app, pilot)
        assert app.values() == ROWS
        fields = [field for field, _ in app.refs.rows()]
        assert isinstance(fields[0].loaded, LoadedImage)
        assert fields[1].problem is not None and "no such file" in fields[1].problem
        assert fields[2].asset_id == "asset_c"
        await app.refs.set_rows([])
        assert app.values() == [("", "")]


async def test_changed_on_scale_typed_and_file_loaded(tmp_path: Path) -> None:
    make_image(tmp_path / "r.png", (32, 32))
    app = ListApp()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        before = app.changes
        app.row(0).scale.focus()
        await pilot.press("0", ".", "8")
        assert app.values() == [("", "0.8")]
        assert app.changes == before + 3
        app.row(0).field.focus()
        await pilot.press("r", ".", "p", "n", "g", "enter")
        await settle(app, pilot)
        assert isinstance(app.refs.rows()[0][0].loaded, LoadedImage)
        assert app.changes == before + 5  # one load (its start and its outcome): the debounced one never ran twice


async def test_keys_are_listed_while_the_focus_is_inside() -> None:
    app = ListApp()
    async with app.run_test() as pilot:
        await settle(app, pilot)
        keys = {key: b.binding.description for key, b in app.screen.active_bindings.items()}
        assert keys["ctrl+n"] == "Add reference"
        assert keys["alt+x"] == "Remove reference"
        assert keys["alt+up"] == "Move reference up" and keys["alt+down"] == "Move reference down"
        assert keys["ctrl+o"] == "Browse"
