"""Keys: every advertised key works; the action registry feeds bindings, footer, help and palette; [keymap]
remaps keys (hints follow) and is checked at start; small terminals, crashes and GNU screen's Escape."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.binding import Binding
from textual.pilot import Pilot
from textual.widgets import Input, Static
from textual_image.widget import HalfcellImage

from scenario_tui.config import load_settings
from scenario_tui.core.store import Store
from scenario_tui.sandbox import Sandbox, SandboxConfig, SandboxTransport
from scenario_tui.ui.actions import (ACTIONS, BY_ID, Where, check_keymap, clashes, key_problem, matched_spans,
                                     palette_score)
from scenario_tui.ui.app import ScenarioApp, exit_code, make_app, mouse_wanted
from scenario_tui.ui.screens.confirm import ConfirmScreen
from scenario_tui.ui.screens.help import HelpScreen
from scenario_tui.ui.screens.main import MainScreen
from scenario_tui.ui.screens.model_picker import ModelPicker
from scenario_tui.ui.screens.too_small import TooSmallScreen
from scenario_tui.ui.state import UiState
from scenario_tui.ui.widgets.jobs import JobPanel
from scenario_tui.ui.widgets.preview import Preview
from scenario_tui.ui.widgets.references import ReferenceRow
from tests.ui.conftest import Harness, costbar, settle, until
from tests.ui.test_main_screen import FLUX, details, filled, finished, focus, main, quoted, ready, submit, widget


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
    app = app_with(tmp_path, keymap={"pick-model": "f12"})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f12")
        await pilot.pause()
        assert isinstance(app.screen, ModelPicker)
        await pilot.press("escape")
        await pilot.press("f1")
        rows = [row for _, rows in app.screen.key_rows() for row in rows]
        assert ("f12", "Pick a model", "pick-model") in rows


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


# --------------------------------------------------------------------------- issue 8: every advertised key works


async def test_f2_and_the_palettes_focus_form_go_back_to_the_form(harness: Callable[..., Harness],
                                                                  inputs: dict[str, str]) -> None:
    app = harness(ui_state=filled(inputs)).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await focus(app, pilot, "#param-prompt")
        await pilot.press("f3")
        assert isinstance(app.focused, JobPanel)
        await pilot.press("f2")  # crashed: ParamForm has no focus_next
        assert app.focused is widget(app, "#param-prompt")  # back where the user was in the form
        await pilot.press("f4")
        await palette(app, pilot, "focus form")
        assert app.focused is widget(app, "#param-prompt")


async def test_a_crash_while_a_job_runs_is_not_exit_0(harness: Callable[..., Harness], inputs: dict[str, str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness(ui_state=filled(inputs), job_seconds=60)
    app = h.app

    def broken(self: MainScreen) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(MainScreen, "action_toggle_deprecated", broken)
    with pytest.raises(RuntimeError):
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(app, pilot)
            await quoted(app, pilot)
            await submit(app, pilot)
            await pilot.press("f9")
            await pilot.pause()
    code, said = exit_code(app)
    assert code == 1
    assert said[0] == "scenario-tui stopped on an error (shown above)."
    assert said[1] == "1 run had not finished. In the sandbox they stopped with the app."
    store = Store(h.out.parent / "runs.sqlite3")
    assert [run.state.value for run in store.unfinished()] == ["running"]  # kept for the next start
    store.close()


async def test_alt_x_typed_in_a_reference_path_removes_the_row_and_types_nothing(
        harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    state = filled(inputs)
    state.references = [(inputs["ref1"], ""), (inputs["ref2"], "0.5")]
    app = harness(ui_state=state).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        refs = main(app).form.references
        first = refs.query(ReferenceRow).first()
        first.field.focus()
        await pilot.pause()
        assert isinstance(app.focused, Input) and app.focused.value == inputs["ref1"]
        terminal_key(app, "alt+x", "x")  # what a terminal sends for alt+x: ESC x, a key with the character x
        await settle(app, pilot)
        assert [(f.value, scale) for f, scale in refs.rows()] == [(inputs["ref2"], "0.5")]
        assert isinstance(app.focused, Input) and app.focused.value == inputs["ref2"]


async def test_cancel_asks_first_naming_the_job_and_no_is_the_default(harness: Callable[..., Harness],
                                                                      inputs: dict[str, str]) -> None:
    h = harness(ui_state=filled(inputs), job_seconds=10)
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await quoted(app, pilot)
        entry = await submit(app, pilot)
        await pilot.press("f3", "c")
        assert isinstance(app.screen, ConfirmScreen)
        assert entry.job_id is not None and entry.job_id in app.screen.question
        assert "a red lighthouse" in app.screen.question
        await pilot.press("enter")  # the focused answer is No
        await settle(app, pilot)
        assert isinstance(app.screen, MainScreen) and entry.running
        assert [j.status for j in h.sandbox_jobs()] != ["canceled"] and "cancel" not in details(app)
        await pilot.press("c", "escape")
        await settle(app, pilot)
        assert entry.running
        await pilot.press("c", "y")
        await finished(pilot, entry)
        assert entry.state == "canceled"


# --------------------------------------------------------------------------- the action registry


def test_every_binding_comes_from_the_registry_and_defaults_do_not_clash() -> None:
    from scenario_tui.ui.app import ScenarioApp
    from scenario_tui.ui.widgets.file_field import FileField
    from scenario_tui.ui.widgets.preview import Preview
    from scenario_tui.ui.widgets.references import ReferenceList

    from scenario_tui.ui.screens.history import HistoryScreen
    from scenario_tui.ui.screens.mask_editor import MaskEditor

    for cls in (ScenarioApp, MainScreen, FileField, ReferenceList, JobPanel, Preview, HistoryScreen, MaskEditor):
        for binding in cls.BINDINGS:
            assert isinstance(binding, Binding) and binding.id in BY_ID, (cls, binding)
    assert clashes({}) == []
    assert len({a.title for a in ACTIONS if a.palette}) == len([a for a in ACTIONS if a.palette])


async def test_every_action_is_in_the_palette(harness: Callable[..., Harness]) -> None:
    app = harness().app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot, model=FLUX)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        wanted = {"Grid of all images", "Next image", "Previous image", "Browse for a file", "Add reference",
                  "Remove reference", "Move reference up", "Move reference down", "Resize the mask to the input",
                  "Lock aspect ratio", "Show the job's results", "Focus form", "Focus jobs", "Focus preview",
                  "Quote now", "Submit", "Pick a model", "Help: all keys", "Quit", "Cancel job", "History of runs",
                  "Match input size", "Show inputs", "Mask editor", "Difference from the input"}
        assert wanted <= titles
        other_screens = {Where.HISTORY, Where.MASK_EDITOR}
        assert {a.title for a in ACTIONS if a.palette and not other_screens & set(a.where)} <= titles
        await pilot.press("f6")
        await pilot.pause()
        on_history = {c.title for c in app.get_system_commands(app.screen)}
        assert {a.title for a in ACTIONS if a.palette and Where.HISTORY in a.where} <= on_history
        assert "Focus form" not in on_history
        from PIL import Image

        from scenario_tui.ui.screens.mask_editor import MaskEditor

        await app.push_screen(MaskEditor(Image.new("RGB", (8, 8))))  # its own actions only
        await pilot.pause()
        on_editor = {c.title for c in app.get_system_commands(app.screen)}
        assert {a.title for a in ACTIONS if a.palette and Where.MASK_EDITOR in a.where} <= on_editor
        assert "Focus form" not in on_editor and "Save the mask" not in titles


def test_palette_words_must_start_words_of_the_name() -> None:
    assert palette_score("grid", "Toggle deprecated fields") == 0  # a fuzzy match finds g-r-i-d there
    assert palette_score("grid", "Show or hide deprecated fields") == 0
    assert palette_score("grid", "Grid of all images") > 0
    assert palette_score("focus fo", "Focus form") > palette_score("fo", "Show the form") > 0
    assert palette_score("", "Grid") == 0
    assert list(matched_spans("gr", "Grid of all images")) == [(0, 2)]


async def test_palette_search_for_grid_runs_the_grid(harness: Callable[..., Harness], inputs: dict[str, str]) -> None:
    app = harness(ui_state=filled(inputs)).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await pilot.press("ctrl+p", *"grid")
        await until(pilot, lambda: bool(palette_titles(app)), "palette hits")
        assert palette_titles(app) == ["Grid of all images"]
        await pilot.press("enter")
        await settle(app, pilot)
        assert main(app).query_one(Preview).grid


async def test_a_remapped_submit_key_is_shown_in_the_cost_line_and_help(harness: Callable[..., Harness],
                                                                        inputs: dict[str, str]) -> None:
    h = harness(ui_state=filled(inputs), keymap={"submit": "ctrl+s", "pick-model": "f12", "browse": "ctrl+b"})
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot)
        await quoted(app, pilot)
        assert costbar(app).endswith("ctrl+s: submit")
        assert "ctrl+r" not in costbar(app)
        assert widget(app, "#pick-model").tooltip == "List compatible models (f12)"
        assert main(app).query_one("#file-image .file-browse").tooltip == "Browse (ctrl+b)"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: len(h.sandbox_jobs()) == 1, "the job submitted with the new key")
        await pilot.press("f1")
        rows = [row for _, rows in app.screen.key_rows() for row in rows]
        assert ("ctrl+s", "Submit", "submit") in rows  # spelled as in [keymap]


# --------------------------------------------------------------------------- checking [keymap]


def test_keymap_problems_name_the_file_and_the_entry() -> None:
    check = check_keymap({"submt": "ctrl+s", "quote": "ctl+q", "grid": "", "pick_model": "f6",
                          "focus-jobs": "f5", "browse": "ctrl+b", "match-input": "f12"}, "/cfg/config.toml")
    assert check.usable == {"focus-jobs": "f5", "browse": "ctrl+b"}
    assert check.warnings == [
        "/cfg/config.toml: [keymap] submt = 'ctrl+s': no action has the id 'submt' (the ids are in the help "
        "screen, F1)",
        "/cfg/config.toml: [keymap] quote = 'ctl+q': unknown modifier 'ctl' (use ctrl, shift, alt, meta); the "
        "default keys are kept",
        "/cfg/config.toml: [keymap] grid = '': give the keys as text, e.g. \"ctrl+s\" or \"f6,ctrl+s\"",
        "/cfg/config.toml: [keymap] pick_model = 'f6': no action has the id 'pick_model' (did you mean pick-model?)",
        "/cfg/config.toml: [keymap] match-input = 'f12': this action has no key binding (run it from the command "
        "palette, ctrl+p)",
        "/cfg/config.toml: [keymap] focus-jobs: f5 is the key of both 'Quote now' (quote) and 'Focus jobs' "
        "(focus-jobs)",
    ]


def test_keys_textual_can_bind() -> None:
    for good in ("ctrl+s", "f6", "alt+x", "question_mark", "ctrl+right_square_bracket", "]", "shift+tab", "escape"):
        assert key_problem(good) is None, good
    assert key_problem("ctrl+") == "no key after the modifier"
    assert key_problem("ctrl+nope") == "unknown key 'nope' (e.g. ctrl+s, f6, alt+x, question_mark)"


def test_keys_live_in_different_places_may_share_a_key() -> None:
    assert clashes({"grid": "c"}) == []  # the preview's c and the job panel's c are never live together
    assert clashes({"browse": "ctrl+n"}) == ["browse: ctrl+n is the key of both 'Browse for a file' (browse) and "
                                             "'Add reference' (add-reference)"]  # a reference row has a file field
    assert clashes({"quote": "tab"}) == ["quote: tab is already moving to the next field"]
    assert clashes({"history-star": "g"}) == []  # the history screen is never live with the preview
    assert check_keymap({"history-star": "S"}, "c.toml").usable == {"history-star": "S"}


async def test_a_bad_keymap_warns_at_start_and_the_app_still_runs(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text('[keymap]\nsubmt = "ctrl+s"\nquote = "f12"\ngrid = 5\n')
    settings, _ = load_settings(config, output_dir=tmp_path / "out")
    app = make_app(settings, transport=SandboxTransport(Sandbox(SandboxConfig(job_seconds=0))),
                   image_cls=HalfcellImage, ui_state=UiState())
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.pause()
        assert [str(n.message) for n in app._notifications] == [
            f"{config}: [keymap] submt = 'ctrl+s': no action has the id 'submt' (the ids are in the help screen, F1)",
            f"{config}: [keymap] grid = 5: give the keys as text, e.g. \"ctrl+s\" or \"f6,ctrl+s\""]
        keys = {key: active.binding.id for key, active in app.screen.active_bindings.items()}
        assert keys.get("f12") == "quote" and "f5" not in keys  # the valid entry is applied


# --------------------------------------------------------------------------- small terminals, help


async def test_below_80x24_a_screen_asks_for_a_bigger_terminal(harness: Callable[..., Harness]) -> None:
    app = harness().app
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen)
        assert "Make the terminal at least 80x24 (now 40x12)." in str(app.screen.query_one(Static).content)
        await pilot.press("f3", "ctrl+r")  # the main screen's keys are asleep meanwhile
        assert isinstance(app.screen, TooSmallScreen) and app.engine.store.runs() == []
        await pilot.resize_terminal(79, 30)
        await pilot.pause()
        assert "(now 79x30)" in str(app.screen.query_one(Static).content)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.resize_terminal(60, 24)
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen)


async def test_the_small_terminal_screen_goes_when_a_dialog_over_it_closes_in_a_bigger_terminal(
        harness: Callable[..., Harness]) -> None:
    app = harness().app
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen)
        app.push_screen(ConfirmScreen("Quit anyway?"))
        await pilot.pause()
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_80x24_shows_the_main_screen(harness: Callable[..., Harness]) -> None:
    app = harness().app
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot, model=FLUX)
        assert isinstance(app.screen, MainScreen)


async def test_help_closes_with_escape_or_q(harness: Callable[..., Harness]) -> None:
    app = harness().app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot, model=FLUX)
        for key in ("escape", "q", "f1"):
            await pilot.press("f3", "f1")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press(key)
            assert isinstance(app.screen, MainScreen), key
        assert app.is_running


# --------------------------------------------------------------------------- helpers


def terminal_key(app: ScenarioApp, key: str, character: str | None) -> None:
    """A key as Textual's terminal parser makes it (``pilot.press("alt+x")`` sends no character)."""
    event = events.Key(key, character)
    event.set_sender(app)
    app.post_message(event)


async def palette(app: ScenarioApp, pilot: Pilot[Any], words: str) -> None:
    """Run the palette's best hit for ``words``."""
    await pilot.press("ctrl+p", *words)
    await until(pilot, lambda: bool(palette_titles(app)), f"a palette hit for {words!r}")
    await pilot.press("enter")
    await settle(app, pilot)


def palette_titles(app: ScenarioApp) -> list[str]:
    from textual.command import CommandList, CommandPalette

    if not isinstance(app.screen, CommandPalette):
        return []
    options = app.screen.query_one(CommandList).options
    return [str(o.prompt).split("\n")[0] if isinstance(o.prompt, str) else o.prompt.plain.split("\n")[0]
            for o in options]


def test_no_mouse_reports_in_gnu_screen() -> None:
    """GNU screen holds a lone Escape while mouse reports are on (seen: help did not close for seconds)."""
    assert mouse_wanted({"TERM": "xterm-256color"})
    assert mouse_wanted({"TERM": "screen", "TMUX": "/tmp/tmux-0/default,1,0"})  # tmux passes Escape at once
    assert not mouse_wanted({"TERM": "screen", "STY": "1234.pts-0.host"})


def test_the_launcher_prints_keymap_warnings_and_never_exits_0_after_a_crash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_tui.ui import app as app_module

    config = tmp_path / "config.toml"
    config.write_text('image_protocol = "none"\n[keymap]\nquote = "ctrl+"\n')
    settings, _ = load_settings(config)
    runs: list[dict[str, Any]] = []

    def crashed(self: ScenarioApp, **kw: Any) -> None:
        runs.append(kw)
        try:
            raise RuntimeError("a bug")
        except RuntimeError as exc:
            self._handle_exception(exc)  # what Textual does with an exception nobody caught

    monkeypatch.setattr(ScenarioApp, "run", crashed)
    monkeypatch.setenv("STY", "1.pts-0.host")
    assert app_module.run(settings) == 1
    err = capsys.readouterr().err
    assert f"warning: {config}: [keymap] quote = 'ctrl+': no key after the modifier; the default keys are kept" in err
    assert "scenario-tui stopped on an error (shown above)." in err
    assert runs == [{"mouse": False}]


async def test_keys_right_after_tab_or_f3_go_to_the_newly_focused_widget(harness: Callable[..., Harness],
                                                                          inputs: dict[str, str]) -> None:
    app = harness(ui_state=UiState()).app
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(app, pilot, model=FLUX)
        image = await focus(app, pilot, "#file-image Input")
        for key in ("r", "1", ".", "p", "n", "g", "tab", "m", ".", "p", "n", "g"):
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await settle(app, pilot)
        assert isinstance(image, Input) and image.value == "r1.png"  # was "r1.pngm.png": tab came too late
        assert widget(app, "#file-mask Input").value == "m.png"  # type: ignore[attr-defined]
        for key in ("f3", "q"):  # q in the job panel quits; in the mask field it is a letter
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await pilot.pause()
        assert widget(app, "#file-mask Input").value == "m.png"  # type: ignore[attr-defined]
