"""Keys: help lists them with their ids, and [keymap] remaps them."""

from __future__ import annotations

from pathlib import Path

from textual_image.widget import HalfcellImage

from scenario_tui.config import load_settings
from scenario_tui.sandbox import Sandbox, SandboxConfig, SandboxTransport
from scenario_tui.ui.app import make_app
from scenario_tui.ui.screens.help import HelpScreen
from scenario_tui.ui.screens.model_picker import ModelPicker
from scenario_tui.ui.state import UiState


def app_with(tmp_path: Path, **overrides: object):  # noqa: ANN201 - test helper
    settings, _ = load_settings(output_dir=tmp_path / "out", **overrides)
    return make_app(settings, transport=SandboxTransport(Sandbox(SandboxConfig(job_seconds=0))),
                    image_cls=HalfcellImage, ui_state=UiState())


async def test_help_lists_every_screen_key_with_its_id(tmp_path: Path) -> None:
    app = app_with(tmp_path)
    async with app.run_test(size=(120, 50)) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.key_rows())
        for words in ("Submit", "submit", "Cancel job", "cancel-job", "Browse", "Add reference", "Grid"):
            assert words in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_keymap_remaps_a_binding_by_id(tmp_path: Path) -> None:
    app = app_with(tmp_path, keymap={"pick-model": "f6"})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        assert isinstance(app.screen, ModelPicker)
        await pilot.press("escape")
        await pilot.press("f1")
        rows = [row for _, rows in app.screen.key_rows() for row in rows]
        assert ("f6", "Models", "pick-model") in rows


async def test_q_quits_from_the_job_panel_but_not_from_form_controls(tmp_path: Path) -> None:
    app = app_with(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.screen.form.reveal("disableMerging")
        app.screen.query_one("#param-disableMerging").focus()
        await pilot.press("q")
        assert app.is_running and app.return_code is None  # a stray q in the form changes nothing
        await pilot.press("f3", "q")
        await pilot.pause()
    assert app.return_code == 0
