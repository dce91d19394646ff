"""The parameter form, generated from ``core.params``: one row per parameter, grouped.

Each row shows the label with its range and documented default, the right widget for the type,
help text while focused, and the model's own message under the field as the user types.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from textual import events, on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.css.query import NoMatches
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, Switch, TextArea

from scenario_tui.core import imaging
from scenario_tui.core import params as P
from scenario_tui.ui.services import app_of
from scenario_tui.ui.widgets.file_field import FileField
from scenario_tui.ui.widgets.references import ReferenceList
from scenario_tui.ui.widgets.buttons import ShortcutButton
from scenario_tui.ui.widgets.chrome import Section, TextBar
from scenario_tui.ui.widgets.crop import ContextCrop
from scenario_tui.ui.widgets.size import SizeTools

# A tiny valid PNG standing in for a loaded file while typing: the model checks presence and
# form, the real data URL is built only when quoting or submitting.
PLACEHOLDER_IMAGE = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVQYV2NgYAAAAAMAAWgmW"
                     "Q0AAAAASUVORK5CYII=")
STILL_LOADING = "still loading…"
SEED_MODES = (("Random", "random"), ("Fixed", "fixed"), ("Increment", "increment"))
_SEED_MODES_HELP = " Random: a new seed each run. Increment: the next run starts after this one's samples."
# Parameters with no row of their own: scales live in the reference list; the quote is the dry run.
_NO_ROW = {"ipAdapterScales", "dryRun"}
# Parameters read from file widgets rather than ``ParamForm.text``.
_FILES = {"image", "mask", "ipAdapterImage", "ipAdapterImages"}


def row_of(field: str) -> str:
    """The row that shows a field's problems (scales are typed in the reference list)."""
    return "ipAdapterImages" if field == "ipAdapterScales" else field


def help_line(name: str) -> str:
    """Range and default, then the help text: shown while the field is focused."""
    limits = P.limits_text(name)
    return (f"{limits}. " if limits else "") + P.help_text(name) + (_SEED_MODES_HELP if name == "seed" else "")


class ParamRow(Widget):
    """One parameter: label and widget(s) on a line, then its problems, if any.

    ``stacked`` rows (prompts, file fields, the reference list) put the widget under the label.
    The focused row gets the ``-focused`` class from the form, which is cheaper than
    ``:focus-within`` (that restyles every ancestor's subtree on each focus change).
    """

    def __init__(self, name: str, *children: Widget, stacked: bool = False) -> None:
        super().__init__(id=f"row-{name}", classes="param-row" + (" -stacked" if stacked else ""))
        self.param = name
        self._children = children
        self._problems: tuple[P.Problem, ...] = ()

    def compose(self) -> ComposeResult:
        yield Label(P.label(self.param), classes="param-label", markup=False)
        yield from self._children

    def show_problems(self, problems: tuple[P.Problem, ...]) -> None:
        """Show the field's problems under it; the message line is only built once needed."""
        if problems == self._problems:
            return
        self._problems = problems
        notes = self.query(".param-note")
        note = notes.first(Static) if notes else Static("", classes="param-note", markup=False)
        note.update("\n".join(("⚠ " if p.severity == "warning" else "✗ ") + p.message for p in problems))
        note.set_class(bool(problems), "-shown")
        note.set_class(any(p.severity == "error" for p in problems), "-error")
        if not notes:
            self.mount(note)


def _widget_for(name: str, value: Any) -> Widget:
    """The input widget a plain parameter gets, from its type."""
    kind = P.PARAM_INFO[name].kind
    base = P.base_type(name)
    wid = f"param-{name}"
    if kind == "prompt":
        return TextArea(str(value or ""), id=wid, soft_wrap=True, show_line_numbers=False, tab_behavior="focus",
                        classes="prompt", compact=True)
    if base is bool:
        return Switch(value=bool(value), id=wid)
    if typing.get_origin(base) is Literal:
        options = [(str(v), v) for v in typing.get_args(base)]
        default = P.PARAM_INFO[name].shown_default
        prompt = f"default ({default})" if default else "model's default"
        return Select(options, value=value if value in typing.get_args(base) else Select.NULL, id=wid, prompt=prompt,
                      compact=True)
    placeholder = P.limits_text(name)
    if kind == "concepts":
        placeholder = "model_id:scale[:epoch], …"
    elif kind == "assets":
        placeholder = "asset ids, separated by commas"
    elif kind == "asset" or name in ("baseModelId", "modelEpoch"):
        placeholder = "(not sent)"
    # Text as typed, never filtered (an integer Input turns "2.5" into "25"): the model is the
    # validator, so "must be a whole number" comes from one place and blocks submitting.
    return Input(str(value) if value is not None else "", placeholder=placeholder, id=wid,
                 validate_on=(), select_on_focus=False, compact=True)


class ParamForm(VerticalScroll):
    """Every documented parameter, grouped as in ``params.Group``, each with inline validation."""

    class Changed(Message):
        """Any value changed (typed, picked, loaded)."""

    class Focused(Message):
        """A parameter's row got the focus: the screen shows its help."""

        def __init__(self, param: str | None) -> None:
            super().__init__()
            self.param = param

    @dataclass
    class ModelTyped(Message):
        """The model id field changed (typed or set): its facts are unknown until it is looked up."""

        model_id: str

    @dataclass
    class ModelListWanted(Message):
        """The "List…" button next to the model id was pressed."""

    def __init__(self, values: dict[str, Any], *, show_deprecated: bool = False, **kw: Any) -> None:
        super().__init__(can_focus=False, **kw)
        self._initial = values
        self.show_deprecated = show_deprecated
        self.touched: set[str] = set()
        self._focused_row: ParamRow | None = None

    def on_mount(self) -> None:
        # With 16 colours the theme's field backgrounds become the screen's black: give them one that stays.
        self.set_class(self.app.console.color_system in ("standard", "windows"), "-ansi-16")

    # --- building ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        for group in P.Group:
            names = [n for n in P.fields_in(group) if n not in _NO_ROW]
            if not names:
                continue
            gid = f"group-{group.name.lower()}"
            rows = lambda names=names: [r for n in names for r in self._rows(n)]  # noqa: E731
            if group in (P.Group.ADVANCED, P.Group.DEPRECATED):
                box = Section(group.value, folded=True, build=rows, id=gid)
                box.display = group is not P.Group.DEPRECATED or self.show_deprecated
            else:
                box = Section(group.value, *rows(), id=gid)
            yield box

    def _rows(self, name: str) -> Iterator[Widget]:
        value = self._initial.get(name)
        if name in ("image", "mask"):
            role: Literal["image", "mask"] = "image" if name == "image" else "mask"
            yield ParamRow(name, FileField(role, id=f"file-{name}"), stacked=True)
            if name == "mask":
                yield ContextCrop(bool(self._initial.get("_context_crop")), self._initial.get("_crop_padding", 32),
                                  id="crop")
        elif name == "ipAdapterImage":
            yield ParamRow(name, FileField("reference", id="file-ipAdapterImage"), stacked=True)
        elif name == "ipAdapterImages":
            yield ParamRow(name, ReferenceList(id="references"), stacked=True)
        elif name == "modelId":
            keys = app_of(self).keys_text("pick-model")
            yield ParamRow(name, Input(str(value or ""), placeholder="model id", id="param-modelId",
                                       compact=True),
                           ShortcutButton("List…", id="pick-model", tooltip=f"List compatible models ({keys})"))
            yield TextBar(id="model-info")
        elif name == "seed":
            mode = self._initial.get("_seed_mode", "random")
            yield ParamRow(name, Select(SEED_MODES, value=mode, allow_blank=False, id="seed-mode", compact=True),
                           Input(str(value or ""), placeholder="random", id="param-seed",
                                 validate_on=(), disabled=mode == "random", compact=True))
        elif name == "height":
            yield ParamRow(name, _widget_for(name, value))
            yield SizeTools(id="size-tools")
        else:
            yield ParamRow(name, _widget_for(name, value), stacked=P.PARAM_INFO[name].kind == "prompt")

    # --- reading -------------------------------------------------------------------------------
    def file(self, name: Literal["image", "mask"]) -> FileField:
        return self.query_one(f"#file-{name}", FileField)

    @property
    def single_reference(self) -> FileField | None:
        """The deprecated single reference image field, once its group has been opened."""
        try:
            return self.query_one("#file-ipAdapterImage", FileField)
        except NoMatches:
            return None

    @property
    def references(self) -> ReferenceList:
        return self.query_one(ReferenceList)

    def text(self, name: str) -> Any:
        """The raw value of a plain parameter's widget (``None`` = not set).

        Rows of a group not expanded yet are not built: their value is the initial one.
        """
        try:
            widget = self.query_one(f"#param-{name}")
        except NoMatches:
            value = self._initial.get(name)
            return None if value in (None, "", False) else value
        if isinstance(widget, Switch):
            return True if widget.value else None
        if isinstance(widget, Select):
            return None if widget.value is Select.NULL else widget.value
        if isinstance(widget, TextArea):
            return widget.text.strip() or None
        assert isinstance(widget, Input)
        return widget.value.strip() or None

    def set_text(self, name: str, value: Any) -> None:
        """Set a plain parameter's widget (``None`` clears it); a row not built yet starts with ``value``."""
        try:
            widget = self.query_one(f"#param-{name}")
        except NoMatches:
            self._initial[name] = value
            return
        if isinstance(widget, Switch):
            widget.value = bool(value)
        elif isinstance(widget, Select):
            widget.value = value if value in widget._legal_values else Select.NULL
        elif isinstance(widget, TextArea):
            widget.text = "" if value is None else str(value)
        elif isinstance(widget, Input):
            widget.value = "" if value is None else str(value)

    async def fill(self, values: Mapping[str, Any], *, seed_mode: str, image: str, mask: str,
                   references: list[tuple[str, str]]) -> bool:
        """Every field set as a run had it (the history reopening one); True when the model id changed,
        so its facts must be looked up again."""
        for name in self.plain_names():
            if name not in ("seed", "modelId"):
                self.set_text(name, values.get(name))
        model_id = str(values.get("modelId") or "")
        changed = model_id != self.text("modelId")
        if changed:
            model_input = self.query_one("#param-modelId", Input)
            with model_input.prevent(Input.Changed):
                model_input.value = model_id
        self.query_one("#seed-mode", Select).value = seed_mode
        self.query_one("#param-seed", Input).value = values.get("seed") or ""
        self.file("image").set_value(image)
        self.file("mask").set_value(mask)
        await self.references.set_rows(references)
        return changed

    @property
    def context_crop(self) -> int | None:
        """The context crop's padding, or None when it is off."""
        return self.query_one(ContextCrop).padding

    @property
    def seed_mode(self) -> str:
        return str(self.query_one("#seed-mode", Select).value)

    def focus_field(self, name: str) -> None:
        self.query_one(f"#param-{name}").focus()

    def show_model_info(self, text: str) -> None:
        """The line under the model id: what the model is, or why it couldn't be checked."""
        self.query_one("#model-info", TextBar).text = text

    @property
    def size_tools(self) -> SizeTools:
        return self.query_one(SizeTools)

    def plain_names(self) -> list[str]:
        return [n for n in P.PARAM_INFO if n not in _NO_ROW | _FILES]

    def raw_values(self) -> tuple[dict[str, Any], list[P.Problem]]:
        """Values for ``params.check`` (files as placeholders), and problems only the widgets know."""
        values: dict[str, Any] = {}
        problems: list[P.Problem] = []
        for name in self.plain_names():
            values[name] = self.text(name)
        if self.seed_mode == "random":
            values["seed"] = None
        if values.get("concepts"):
            try:
                values["concepts"] = [P.parse_concept(c) for c in values["concepts"].split(",") if c.strip()]
            except ValueError as exc:
                problems.append(P.Problem("concepts", str(exc)))
                values["concepts"] = None
        if values.get("ipAdapterImageIds"):
            values["ipAdapterImageIds"] = [x for x in values["ipAdapterImageIds"].replace(",", " ").split() if x]
        fields = {"image": self.file("image"), "mask": self.file("mask"), "ipAdapterImage": self.single_reference}
        for name, field in fields.items():
            if field is None:
                continue
            values[name] = field.asset_id or (PLACEHOLDER_IMAGE if field.loaded is not None else None)
            if field.reading:  # not "required": it is on its way
                problems.append(P.Problem(name, STILL_LOADING))
            elif field.problem:
                problems.append(P.Problem(name, field.problem))
        refs, scales, any_scale = [], [], False
        for position, (field, scale) in enumerate(self.references.rows(), start=1):
            if field.reading:
                problems.append(P.Problem("ipAdapterImages", f"reference {position}: {STILL_LOADING}"))
            elif field.problem:
                problems.append(P.Problem("ipAdapterImages", f"reference {position}: {field.problem}"))
            if field.loaded is None:
                continue
            refs.append(PLACEHOLDER_IMAGE)
            any_scale = any_scale or bool(scale.strip())
            scales.append(scale.strip() or P.DEFAULT_REFERENCE_SCALE)
        values["ipAdapterImages"] = refs or None
        values["ipAdapterScales"] = scales if any_scale else None
        return values, problems

    # --- showing -------------------------------------------------------------------------------
    def show(self, checked: P.Checked, widget_problems: list[P.Problem]) -> None:
        """Messages under the fields the user has touched; the summary lists the rest."""
        shown_by_widget = {p.field for p in widget_problems if p.field in _FILES}
        for row in self.query(ParamRow):
            if row.param in shown_by_widget:
                row.show_problems(())  # a file field shows its own problem; "required" would add nothing
                continue
            mine = tuple(p for p in (*widget_problems, *checked.problems) if row_of(p.field) == row.param)
            row.show_problems(mine if row.param in self.touched else tuple(p for p in mine if p.severity == "warning"))

    def show_size_from_input(self, size: tuple[int, int] | None) -> None:
        """Say in empty Width/Height what will be sent: with neither set, the size the engine
        settles from the input image (``size``)."""
        both_empty = self.text("width") is None and self.text("height") is None
        hint = f"from input: {size[0]}×{size[1]}" if size and both_empty else None
        for name in ("width", "height"):
            field = self.query_one(f"#param-{name}", Input)
            placeholder = hint or P.limits_text(name)
            if field.placeholder != placeholder:
                field.placeholder = placeholder

    def row(self, name: str) -> ParamRow:
        return self.query_one(f"#row-{name}", ParamRow)

    def toggle_deprecated(self) -> bool:
        self.show_deprecated = not self.show_deprecated
        box = self.query_one("#group-deprecated", Section)
        box.display = self.show_deprecated
        box.folded = not self.show_deprecated
        return self.show_deprecated

    async def reveal(self, name: str) -> ParamRow:
        """Unfold (building if needed) the section holding ``name`` and return its row."""
        section = self.query_one(f"#group-{P.PARAM_INFO[name].group.name.lower()}", Section)
        section.display = True
        await section.unfold()
        return self.row(name)

    @on(Section.Built)
    def _on_built(self) -> None:
        self.post_message(self.Changed())  # rows built on unfolding join the validation

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        row = next((a for a in event.widget.ancestors_with_self if isinstance(a, ParamRow)), None)
        if row is not self._focused_row:
            if self._focused_row is not None and self._focused_row.is_mounted:
                self._focused_row.remove_class("-focused")
            if row is not None:
                row.add_class("-focused")
            self._focused_row = row
            self.post_message(self.Focused(row.param if row else None))

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        focused = self.screen.focused
        if self._focused_row is not None and (focused is None or self not in focused.ancestors):
            if self._focused_row.is_mounted:
                self._focused_row.remove_class("-focused")  # focus left the form: no row looks current
            self._focused_row = None
            self.post_message(self.Focused(None))

    # --- events --------------------------------------------------------------------------------
    def _changed(self, widget: Widget | None) -> None:
        row = next((a for a in (widget.ancestors_with_self if widget else []) if isinstance(a, ParamRow)), None)
        if row is not None:
            self.touched.add(row.param)
        self.post_message(self.Changed())

    @on(Input.Changed)
    @on(Switch.Changed)
    @on(Select.Changed)
    @on(TextArea.Changed)
    def _on_value(self, event: Message) -> None:
        # not stopped: the screen reacts to some fields too (model lookup, aspect lock)
        control = getattr(event, "control", None)
        if control is not None and control.id == "seed-mode":
            self.query_one("#param-seed", Input).disabled = self.seed_mode == "random"
        if isinstance(event, Input.Changed) and control is not None:
            if control.id == "param-modelId":
                self.post_message(self.ModelTyped(event.value.strip()))
            elif control.id in ("param-width", "param-height") and control.has_focus:  # the user's typing only
                self.size_tools.follow(control.id.removeprefix("param-"), event.value)
        self._changed(control)

    @on(SizeTools.Wanted)
    def _on_size_wanted(self, event: SizeTools.Wanted) -> None:
        event.stop()
        if event.width is not None:
            self.set_text("width", str(event.width))
        if event.height is not None:
            self.set_text("height", str(event.height))

    @on(Button.Pressed, "#pick-model")
    def _on_pick_model(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.ModelListWanted())

    @on(FileField.Changed)
    @on(ReferenceList.Changed)
    def _on_file(self, event: Message) -> None:
        # not stopped: the screen also reacts to files (preview)
        control = getattr(event, "file_field", None) or getattr(event, "reference_list", None)
        if isinstance(control, FileField) and control.id == "file-image" and not control.reading:
            image = control.loaded
            size = image.size if isinstance(image, imaging.LoadedImage) else None
            self.file("mask").image_size = size
            self.size_tools.image_size = size
        self._changed(control)
