"""The main screen: form on the left; preview and jobs on the right; cost and blockers at the bottom."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any

from PIL.Image import Image as PILImage
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.dom import DOMNode
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

from scenario_tui.core import imaging
from scenario_tui.core import params as P
from scenario_tui.core.api import ApiError, ModelInfo, Quote
from scenario_tui.core.engine import Draft, ModelProblem, Request, size_from_input
from scenario_tui.core.store import Run, RunState
from scenario_tui.ui.actions import Action, Where, bindings
from scenario_tui.ui.screens.confirm import ConfirmScreen
from scenario_tui.ui.screens.history import HistoryScreen, LoadRun, UseResult, form_load
from scenario_tui.ui.widgets.chrome import FitBar, KeyFooter, TextBar
from scenario_tui.ui.widgets.file_field import FileField
from scenario_tui.ui.widgets.form import ParamForm, help_line, row_of
from scenario_tui.ui.widgets.jobs import JobPanel
from scenario_tui.ui.widgets.preview import Preview, PreviewItem, result_items
from scenario_tui.ui.paths import shown_path
from scenario_tui.ui.services import app_of
from scenario_tui.ui.widgets.references import ReferenceList
from scenario_tui.ui.widgets.size import SizeTools

NARROW = 100  # terminal columns below which labels get a narrower column


def _overlay(image: PILImage, mask: PILImage) -> PILImage:
    """The input with its mask shown over it (runs in the preview's worker)."""
    return imaging.mask_overlay(imaging.thumbnail(image, (800, 800)), imaging.thumbnail(mask, (800, 800)))


class MainScreen(Screen[None]):
    AUTO_FOCUS = "#file-image Input"  # focused while mounting: no second footer build after start
    BINDINGS = bindings(Where.MAIN)

    @dataclass
    class ModelChecked(Message):
        """A model id was looked up: its facts, or the problem with it, or why it couldn't be checked."""

        model_id: str
        model: ModelInfo | None
        problem: str | None
        info: str

    @dataclass
    class FirstModel(Message):
        """The sandbox's first usable model, to start with when the form has none."""

        model: ModelInfo

    @dataclass
    class Quoted(Message):
        """A quote came back (``quote``) or failed (``status`` says why) for the form as ``fingerprint``."""

        fingerprint: str
        quote: Quote | None
        status: str

    @dataclass
    class Submitted(Message):
        """The engine took a run (it may already have ended, refused or unsure)."""

        run: Run
        request: Request

    def __init__(self) -> None:
        super().__init__()
        self.model: ModelInfo | None = None
        self.model_problem: P.Problem | None = None
        self.checked: P.Checked | None = None
        self.widget_problems: list[P.Problem] = []
        self.quote: tuple[str, Quote] | None = None  # (fingerprint, quote) of the last successful quote
        self.quote_status = "fill in the form to see the cost"
        self.submitting = False
        self._said: set[str] = set()  # notes on re-encoded inputs already shown
        self._summary = ""
        self._debounce_timers: dict[str, Timer] = {}
        self._form_focus: Widget | None = None  # the form's field focused last, for the focus-form key
        self._rerun: str | None = None  # a run from the history to submit again once the form holds it

    # --- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        app = app_of(self)
        state = app.ui_state
        settings = app.settings
        initial = {k: v for k, v in settings.defaults.items() if k in P.PARAM_INFO}
        if isinstance(initial.get("concepts"), list):
            initial["concepts"] = ", ".join(
                ":".join(str(c[k]) for k in ("modelId", "scale", "modelEpoch") if k in c) for c in initial["concepts"])
        if isinstance(initial.get("ipAdapterImageIds"), list):
            initial["ipAdapterImageIds"] = ", ".join(initial["ipAdapterImageIds"])
        initial.update(state.values)
        initial["_seed_mode"] = state.seed_mode
        initial.update(_context_crop=settings.context_crop, _crop_padding=settings.crop_padding)
        yield FitBar(self._mode_texts(), id="topbar")
        with Horizontal(id="body"):
            with Vertical(id="formcol"):
                yield ParamForm(initial, show_deprecated=state.show_deprecated, id="form")
                yield TextBar(id="helpbar")
            with Vertical(id="side"):
                yield Preview(id="preview")
                yield JobPanel(id="jobs")
        yield TextBar(id="costbar")
        yield Static(id="blockers", markup=False)
        yield KeyFooter()

    def _mode_texts(self) -> list[Text]:
        """The top bar from the most to the least said: mode badge and image protocol stay in every one."""
        app = app_of(self)
        sandbox = app.sandbox
        tails = ([" · offline simulator · no account · nothing is charged · set SCENARIO_API_KEY and "
                  "SCENARIO_API_SECRET for Scenario", " · offline simulator, nothing is charged · "
                  "set SCENARIO_API_KEY/SECRET for Scenario", " · offline simulator, nothing is charged", ""]
                 if sandbox else [f" · {app.settings.base_url} (jobs are charged in creative units)",
                                  f" · {app.settings.base_url} (charged)", " · jobs are charged", ""])
        variants = []
        for n, tail in enumerate(tails):
            text = Text(no_wrap=True, overflow="ellipsis")
            text.append(" SANDBOX " if sandbox else " LIVE ",
                        style="bold black on yellow" if sandbox else "bold white on dark_green")
            text.append(f" images: {app.protocol}", style="bold")
            if n == 0:
                text.append(" (scenario-tui doctor says why)", style="dim")
            text.append(tail)
            variants.append(text)
        return variants

    def on_mount(self) -> None:
        state = app_of(self).ui_state
        form = self.form
        if state.image:
            form.file("image").set_value(state.image)
        if state.mask:
            form.file("mask").set_value(state.mask)
        if state.references:
            form.references.set_rows(state.references)
        model_id = form.text("modelId")
        if model_id:
            self._lookup_model(model_id)
        elif app_of(self).sandbox:
            self._pick_first_model()
        self._validate()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < NARROW, "-narrow")  # restyles only when crossing the threshold

    @property
    def form(self) -> ParamForm:
        return self.query_one(ParamForm)

    @property
    def jobs(self) -> JobPanel:
        return self.query_one(JobPanel)

    def running_jobs(self) -> int:
        return self.jobs.running_count

    # --- debounced reactions ---------------------------------------------------------------------
    def _later(self, key: str, delay: float, callback: Any) -> None:
        if (timer := self._debounce_timers.pop(key, None)) is not None:
            timer.stop()
        self._debounce_timers[key] = self.set_timer(delay, callback)

    @on(ParamForm.Changed)
    def _on_form_changed(self) -> None:
        timings = app_of(self).timings
        self._later("validate", timings.validate, self._validate)
        self._later("save", timings.save, self.save_state)

    @on(ParamForm.Focused)
    def _on_field_focused(self, event: ParamForm.Focused) -> None:
        self.query_one("#helpbar", TextBar).text = f"{P.label(event.param)}: {help_line(event.param)}" \
            if event.param else ""

    @on(ParamForm.ModelTyped)
    def _on_model_typed(self, event: ParamForm.ModelTyped) -> None:
        self.model = None
        self.model_problem = None
        self.form.show_model_info("")
        self.form.size_tools.model = None
        if event.model_id:
            self._later("model", app_of(self).timings.model, lambda: self._lookup_model(event.model_id))

    def _values(self) -> dict[str, Any]:
        values, self.widget_problems = self.form.raw_values()
        if self.model_problem:
            self.widget_problems.append(self.model_problem)
        return values

    def _validate(self) -> None:
        values = self._values()
        self.checked = P.check(values, self.model)
        self.form.show(self.checked, self.widget_problems)
        image = self.form.file("image").loaded
        self.form.show_size_from_input(size_from_input(image.size, self.model)
                                       if isinstance(image, imaging.LoadedImage) else None)
        blocking = self.blocking()
        summary = f"✗ {len(blocking)} to fix before submitting: " + "; ".join(map(str, blocking))
        blockers = self.query_one("#blockers", Static)
        if summary != self._summary:  # an update relayouts the screen: only when it says something new
            self._summary = summary
            blockers.update(summary)
            blockers.set_class(bool(blocking), "-shown")
        fresh = not blocking and self.quote is not None and self.quote[0] == self._fingerprint(values)
        if blocking and self._rerun and self._form_settled():
            self.notify(f"Not re-run: {blocking[0]}", severity="error", markup=False)
            self._rerun = None
        if blocking:
            self.quote_status = "fix the form to see the cost"
        elif not fresh:
            self.quote_status = "quoting…"
            self._later("quote", app_of(self).timings.quote, self.action_quote)
        self._update_costbar(fresh)  # also when the form is back to the values last quoted

    def blocking(self) -> list[P.Problem]:
        """What stops submitting: the widgets' own problems first (a bad file), then the model's
        errors on other fields ("required" says nothing new next to "no such file")."""
        errors = list(self.checked.errors) if self.checked else []
        flagged = {p.field for p in self.widget_problems}
        return [*self.widget_problems, *(e for e in errors if e.field not in flagged)]

    def _fingerprint(self, values: dict[str, Any]) -> str:
        files = [id(f.loaded) for f in self._file_fields()]
        return json.dumps([values, files, self.model.id if self.model else None, self.form.context_crop],
                          sort_keys=True, default=str)

    def _file_fields(self) -> list[FileField]:
        form = self.form
        single = [form.single_reference] if form.single_reference is not None else []
        return [form.file("image"), form.file("mask"), *(f for f, _ in form.references.rows()), *single]

    def _update_costbar(self, fresh: bool) -> None:
        """The cost line: the last quote when it is for the form as it is (``fresh``), else the status."""
        text = Text()
        if fresh and self.quote:
            cost = self.quote[1]
            text.append(f" Cost: {cost.cost:g} CU ", style="bold reverse")
            if cost.discount:
                text.append(f" (discount {cost.discount:g})")
        else:
            text.append(" Cost: ", style="bold")
            text.append(self.quote_status)
        text.append(f"   ·   {app_of(self).keys_text('submit')}: submit", style="dim")
        self.query_one("#costbar", TextBar).text = text

    # --- model ----------------------------------------------------------------------------------------
    def _lookup_model(self, model_id: str) -> None:
        self.form.show_model_info("checking model…")
        self._check_model(model_id)

    @work(exclusive=True, group="model", exit_on_error=False)
    async def _check_model(self, model_id: str) -> None:
        model: ModelInfo | None = None
        problem = None
        info = ""
        try:
            model = await app_of(self).engine.resolve_model(model_id)
        except ModelProblem as exc:
            keys = app_of(self).keys_text("pick-model")
            problem = str(exc) + (f" ({keys} lists the compatible ones)" if "no model" in str(exc) else "")
        except ApiError as exc:
            info = f"couldn't check the model ({exc}); model-specific limits are not checked"
        else:
            info = f"{model.name} · {model.type or 'unknown type'}"
        self.post_message(self.ModelChecked(model_id, model, problem, info))

    @on(ModelChecked)
    def _on_model_checked(self, event: ModelChecked) -> None:
        if self.form.text("modelId") != event.model_id:
            return  # the user typed on meanwhile
        self.form.show_model_info(event.info)
        self.model = event.model
        self.form.size_tools.model = self.model
        self.model_problem = P.Problem("modelId", event.problem) if event.problem else None
        if event.problem:
            self.form.touched.add("modelId")
        self._validate()

    @work(exclusive=True, group="model", exit_on_error=False)
    async def _pick_first_model(self) -> None:
        """In the sandbox, start with a usable model so the first run needs no setup."""
        try:
            model = await app_of(self).engine.first_model()
        except (ApiError, ModelProblem):
            return
        self.post_message(self.FirstModel(model))

    @on(FirstModel)
    def _on_first_model(self, event: FirstModel) -> None:
        if not self.form.text("modelId"):
            self.form.set_text("modelId", event.model.id)  # the lookup that follows fills in its facts

    @on(ParamForm.ModelListWanted)
    def action_pick_model(self) -> None:
        from scenario_tui.ui.screens.model_picker import ModelPicker

        def chosen(result: ModelInfo | str | None) -> None:
            if isinstance(result, ModelInfo):
                self.form.set_text("modelId", result.id)
            elif result:
                self.form.set_text("modelId", result)
            self.form.focus_field("modelId")

        self.app.push_screen(ModelPicker(), chosen)

    # --- requests ------------------------------------------------------------------------------------
    def _draft(self, values: dict[str, Any]) -> Draft:
        """The form as the engine takes it: values without the file placeholders, and the loaded files."""
        form = self.form
        values = {k: v for k, v in values.items() if k not in ("mask", "ipAdapterImages", "ipAdapterImage")}
        image_field = form.file("image")
        image = image_field.loaded if isinstance(image_field.loaded, imaging.LoadedImage) else None
        if image is not None:
            values.pop("image", None)
        mask = form.file("mask").loaded
        refs = [f.loaded for f, _ in form.references.rows() if isinstance(f.loaded, imaging.LoadedImage)]
        single = form.single_reference.loaded if form.single_reference is not None else None
        if isinstance(single, imaging.LoadedImage):
            refs.append(single)
        return Draft(values, image=image, mask=mask if isinstance(mask, imaging.LoadedMask) else None,
                     references=tuple(refs), context_crop=form.context_crop)

    async def _request(self, values: dict[str, Any]) -> Request:
        """The engine's request for the form; what encoding had to do to fit (re-encoding, downscaling) is said once."""
        request = await app_of(self).engine.prepare(self._draft(values), self.model)
        for note in request.notes:
            if note not in self._said:
                self._said.add(note)
                self.notify(note, title="Inputs adjusted to fit the request", markup=False, timeout=10)
        return request

    def action_quote(self) -> None:
        values = self._values()
        if self.blocking():
            return
        self.quote_status = "quoting…"
        self._update_costbar(False)
        self._quote(values, self._fingerprint(values))

    @work(exclusive=True, group="quote", exit_on_error=False)
    async def _quote(self, values: dict[str, Any], fingerprint: str) -> None:
        try:
            quote = await app_of(self).engine.quote(await self._request(values))
        except (ApiError, ValueError, imaging.ImageProblem) as exc:
            self.post_message(self.Quoted(fingerprint, None, f"quote failed: {exc} (you can still submit)"))
        else:
            self.post_message(self.Quoted(fingerprint, quote, ""))

    @on(Quoted)
    def _on_quoted(self, event: Quoted) -> None:
        if event.quote is not None:
            self.quote = (event.fingerprint, event.quote)
        else:
            self.quote_status = event.status
        # the form may have changed while the quote was on its way: show it only if it still applies
        fresh = self.quote is not None and self.quote[0] == self._fingerprint(self._values())
        self._update_costbar(fresh)
        if self._rerun and fresh and self._form_settled():
            self._rerun = None
            self.action_submit()  # the usual way: the quote is there, the confirmation rules apply
        elif self._rerun and self.quote is None:
            self._rerun = None

    def action_submit(self) -> None:
        if self.submitting:
            self.notify("Already submitting…", timeout=2)
            return
        values = self._values()
        self.checked = P.check(values, self.model)
        self.form.touched.update(P.PARAM_INFO)
        self.form.show(self.checked, self.widget_problems)
        blocking = self.blocking()
        if blocking:
            self.notify(f"{len(blocking)} problem{'s' if len(blocking) > 1 else ''} to fix first: {blocking[0]}",
                        severity="error", markup=False)
            self.run_worker(self._focus_field(blocking[0].field), exit_on_error=False)
            return
        self.submitting = True
        self._submit(values)

    async def _focus_field(self, name: str) -> None:
        row = await self.form.reveal(row_of(name))
        focusable = [w for w in row.query("*") if w.focusable]
        if focusable:
            focusable[0].focus()
        self.form.scroll_to_widget(row)

    @work(exclusive=True, group="submit", exit_on_error=False)
    async def _submit(self, values: dict[str, Any]) -> None:
        try:
            await self._submit_now(values)
        finally:
            self.set_timer(app_of(self).timings.submit_cooldown, self._release_submit)

    def _release_submit(self) -> None:
        self.submitting = False

    async def _submit_now(self, values: dict[str, Any]) -> None:
        app = app_of(self)
        engine = app.engine
        try:
            request = await self._request(values)
        except (ValueError, imaging.ImageProblem) as exc:  # RequestProblem is a ValueError
            self.notify(f"Not submitted: {exc}", severity="error", markup=False)
            return
        fingerprint = self._fingerprint(values)
        quote = self.quote[1] if self.quote and self.quote[0] == fingerprint else None
        question = None
        if quote is None:
            try:
                quote = await engine.quote(request)
            except ApiError as exc:
                question = f"The cost couldn't be quoted ({exc}). Submit without knowing it?"
        if quote is not None and quote.cost > app.settings.confirm_above:
            question = f"This job is quoted at {quote.cost:g} creative units (above your {app.settings.confirm_above:g} " \
                       "CU threshold). Submit it?"
        if question and not await app.push_screen_wait(ConfirmScreen(question, yes="Submit", no="Cancel")):
            return
        try:
            run = await engine.submit(request, quote)
        except (ApiError, OSError) as exc:  # uploads, or an output folder that can't be written to
            self.notify(f"Not submitted: {exc}", severity="error", markup=False)
            return
        self.post_message(self.Submitted(run, request))

    @on(Submitted)
    def _on_submitted(self, event: Submitted) -> None:
        run, request = event.run, event.request
        self.jobs.follow(run)  # a refused run ends at once: the panel says so
        if run.state is RunState.UNSURE:
            self.notify(f"{run.error}. Check app.scenario.com before submitting again.", severity="error",
                        markup=False, timeout=30)
            return
        seed = request.params.seed
        if self.form.seed_mode == "increment" and seed is not None and seed.isdigit():
            # every sample of the job used a seed of its own: the next run starts after them
            self.form.set_text("seed", P.next_seed(seed, request.params.numSamples))
        self.save_state()

    # --- files, size and preview -----------------------------------------------------------------------
    @on(FileField.Changed)
    def _on_file(self, event: FileField.Changed) -> None:
        field = event.file_field
        if field.reading:
            return  # the outcome follows
        if field.id in ("file-image", "file-mask"):
            self._later("preview", app_of(self).timings.preview, self.action_preview_inputs)

    @on(FileField.EditMask)
    def action_edit_mask(self) -> None:
        from scenario_tui.ui.screens.mask_editor import open_editor

        field = self.form.file("mask")
        open_editor(self, self.form.file("image").loaded, field.loaded, field.use_file)

    @on(ReferenceList.Changed)
    def _on_refs(self) -> None:
        self._later("preview", app_of(self).timings.preview, self.action_preview_inputs)

    def action_preview_inputs(self) -> None:
        form = self.form
        image, mask = form.file("image").loaded, form.file("mask").loaded
        items: list[PreviewItem] = []
        if isinstance(image, imaging.LoadedImage):
            if isinstance(mask, imaging.LoadedMask) and mask.image.size == image.size:
                items.append(PreviewItem("Input + mask", build=partial(_overlay, image.image, mask.image)))
            # the images already loaded: a big file is not decoded twice
            items.append(PreviewItem(f"Input · {image.path.name if image.path else ''}", image.path, image.image))
        if isinstance(mask, imaging.LoadedMask):
            items.append(PreviewItem(f"Mask · {mask.coverage:.1f} % repainted", mask.path, mask.image))
        for n, (field, _) in enumerate(form.references.rows(), start=1):
            if isinstance(field.loaded, imaging.LoadedImage):
                items.append(PreviewItem(f"Reference {n}", field.loaded.path, field.loaded.image))
        if items:
            self.query_one(Preview).show(items)

    @on(JobPanel.Finished)
    def _on_job_finished(self, event: JobPanel.Finished) -> None:
        self._show_results(event.entry)
        entry = event.entry
        if entry.results:
            self.notify(f"Job {entry.job_id}: {len(entry.results)} result(s) saved", markup=False)
        elif entry.job_id is None:
            self.notify(f"Not submitted: {entry.error}", severity="error", markup=False)
        elif entry.error:
            self.notify(f"Job {entry.job_id} {entry.raw_status}: {entry.error}", severity="error", markup=False)

    @on(JobPanel.Selected)
    def _on_job_selected(self, event: JobPanel.Selected) -> None:
        self._show_results(event.entry)

    def _show_results(self, entry: Any) -> None:
        if entry.results:
            self.query_one(Preview).show(result_items(str(entry.job_id), entry.results, entry.run.inputs))

    def action_match_input(self) -> None:
        self.form.size_tools.match()

    @on(SizeTools.Unmatched)
    def _on_unmatched(self) -> None:
        self.notify("Pick an input image first.", severity="warning")

    # --- history ------------------------------------------------------------------------------------
    def action_history(self) -> None:
        def chosen(message: LoadRun | UseResult | None) -> None:
            if message is not None:
                self.post_message(message)

        self.app.push_screen(HistoryScreen(), chosen)

    def _form_settled(self) -> bool:
        """Every file field with a value has loaded it (or said why not) and the model is looked up."""
        return all(not f.value.strip() or f.loaded or f.asset_id or f.problem for f in self._file_fields()) \
            and not any(w.group in ("file-load", "model") and not w.is_finished for w in self.app.workers)

    @on(LoadRun)
    async def _on_load_run(self, message: LoadRun) -> None:
        """A run's parameters and files back in the form; a re-run is submitted once they are loaded and quoted."""
        load = form_load(message.run, new_seed=message.new_seed)
        self.quote = None
        if await self.form.fill(load.values, seed_mode=load.seed_mode, image=load.image, mask=load.mask,
                                references=load.references):
            self.model = None
            if model_id := str(load.values.get("modelId") or ""):
                self._lookup_model(model_id)
        what = f"run {message.run.id}" + (f" (seed {load.values['seed']})" if load.values.get("seed") else "")
        if load.missing:
            self.notify(f"Loaded {what}; no longer on disk: {', '.join(load.missing)}"
                        + (" — not re-run" if message.submit else ""), severity="warning", markup=False, timeout=15)
        elif message.submit:
            self._rerun = message.run.id
            self.notify(f"Re-running {what}: quoting first…", markup=False)
        else:
            self.notify(f"Loaded {what} into the form", markup=False)
        self.form.file("image").focus()

    @on(UseResult)
    def _on_use_result(self, message: UseResult) -> None:
        """A saved result as the next input image (the engine records it as the new run's parent)."""
        self.form.file("image").set_value(str(shown_path(message.path)))
        self.notify(f"Input image: result {message.index + 1} of run {message.run.id}", markup=False)
        self.form.file("image").focus()

    # --- focus, toggles, commands --------------------------------------------------------------------
    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if self.form in event.widget.ancestors:
            self._form_focus = event.widget

    # The focus keys move the focus at once (``set_focus``, not ``focus()``, which waits a turn), so keys
    # typed right after them go to the widget they name.
    def action_focus_form(self) -> None:
        """Back to the field last focused in the form, else its first field."""
        last = self._form_focus
        if last is not None and last.is_attached and last.focusable:
            self.set_focus(last)
        elif first := next((w for w in self.form.query("*") if w.focusable), None):
            self.set_focus(first)

    def action_lock_aspect(self) -> None:
        self.form.size_tools.toggle_lock()

    def action_focus_jobs(self) -> None:
        self.set_focus(self.jobs)

    def action_focus_preview(self) -> None:
        self.set_focus(self.query_one(Preview))

    def action_toggle_deprecated(self) -> None:
        shown = self.form.toggle_deprecated()
        self.notify("Deprecated fields shown" if shown else "Deprecated fields hidden", timeout=2)
        self.save_state()

    def target(self, action: Action) -> DOMNode | None:
        """Where the palette runs ``action``: the focused file field (else the first where it applies), the
        reference list, the job panel, the preview, or this screen."""
        where = action.where[0]
        if where is Where.FILE:
            focused = next((a for a in self.focused.ancestors_with_self if isinstance(a, FileField)), None) \
                if self.focused else None
            fields = [focused] if focused else [self.form.file("image"), self.form.file("mask")]
            name = action.action.split("(")[0]
            return next((f for f in fields if f.check_action(name, ())), fields[0])
        nodes: dict[Where, DOMNode] = {Where.REFERENCES: self.form.references, Where.JOBS: self.jobs,
                                       Where.PREVIEW: self.query_one(Preview)}
        return nodes.get(where, self)

    # --- persistence -------------------------------------------------------------------------------------
    def save_state(self) -> None:
        form = self.form
        state = app_of(self).ui_state
        state.values = {n: v for n in form.plain_names() if (v := form.text(n)) is not None and n != "seed"}
        if form.seed_mode != "random" and form.text("seed"):
            state.values["seed"] = form.text("seed")
        state.seed_mode = form.seed_mode
        state.image = form.file("image").value
        state.mask = form.file("mask").value
        state.references = [(f.value, scale) for f, scale in form.references.rows() if f.value]
        state.show_deprecated = form.show_deprecated
        try:
            state.save()
        except OSError as exc:
            self.notify(f"Couldn't save the form for next time: {exc}", severity="warning", markup=False)
