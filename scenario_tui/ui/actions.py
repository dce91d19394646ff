"""Every action of the app, in one registry: its id (the name in ``[keymap]``), default keys, words and
where it applies.

Bindings, the footer, the help screen, the command palette and every key shown in a hint are made
from it, so a key remapped in ``[keymap]`` is the key shown everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from textual.binding import Binding, BindingType
from textual.keys import KEY_TO_UNICODE_NAME, Keys, _character_to_key


class Where(Enum):
    """Where an action's keys work, with the title of its part of the help screen."""

    APP = "Everywhere"
    MAIN = "Main screen"
    FILE = "File fields"
    REFERENCES = "References"
    JOBS = "Job panel"
    PREVIEW = "Preview"
    HISTORY = "History screen"
    MASK_EDITOR = "Mask editor"


# Places whose keys are live at the same time (the focus is in both): a key may do one thing only there.
_IN_MAIN = {Where.MAIN, Where.FILE, Where.REFERENCES, Where.JOBS, Where.PREVIEW}
_NESTED = {Where.FILE: {Where.REFERENCES}, Where.REFERENCES: {Where.FILE}}


def live_together(a: Where, b: Where) -> bool:
    if a is b or Where.APP in (a, b):
        return True
    if Where.MAIN in (a, b):
        return (b if a is Where.MAIN else a) in _IN_MAIN
    return b in _NESTED.get(a, set())


@dataclass(frozen=True)
class Action:
    """One thing the user can do.

    ``action`` is the Textual action run on the node of ``where`` (e.g. ``step(1)`` on the preview);
    ``label`` is the footer's word, ``title`` the help screen's and the palette's name, ``help`` the
    palette's explanation. ``keys`` is empty for actions only the palette runs. ``priority`` keys work
    even while a text field has the focus (they must not be characters typed there).
    """

    id: str
    keys: str
    action: str
    label: str
    title: str
    help: str
    where: tuple[Where, ...]
    show: bool = True
    priority: bool = False
    palette: bool = True


def _a(id: str, keys: str, action: str, label: str, title: str, help: str, *where: Where,
       show: bool = True, priority: bool = False, palette: bool = True) -> Action:
    return Action(id, keys, action, label, title, help, where, show, priority, palette)


ACTIONS: tuple[Action, ...] = (
    _a("quit", "ctrl+q", "quit", "Quit", "Quit", "Leave scenario-tui (asks first while jobs run)", Where.APP,
       priority=True),
    _a("help", "question_mark,f1", "help", "Help", "Help: all keys", "List every key and its id for [keymap]",
       Where.APP),
    # ctrl+r first, in the footer and hints: most terminals (xterm, tmux, screen) send ctrl+enter as a plain
    # Enter, and some fonts have no ⏎ to show it with.
    _a("submit", "ctrl+r,ctrl+enter", "submit", "Submit", "Submit", "Quote, confirm if needed, and submit the job",
       Where.MAIN, priority=True),
    _a("pick-model", "ctrl+l", "pick_model", "Models", "Pick a model",
       "List the models that can do inpaint + IP-Adapter", Where.MAIN),
    _a("quote", "f5", "quote", "Quote", "Quote now", "Ask for the cost of the form as it is (a dry run)", Where.MAIN),
    _a("history", "f6", "history", "History", "History of runs",
       "Past runs: filter, open one's parameters, re-run, star or discard results", Where.MAIN),
    # Focus moves are priority: handled as the key arrives, so keys typed right after it (a burst over SSH,
    # a paste) go to the newly focused field, not the one being left.
    _a("focus-form", "f2", "focus_form", "Form", "Focus form", "Move to the parameter form", Where.MAIN,
       priority=True),
    _a("focus-jobs", "f3", "focus_jobs", "Jobs", "Focus jobs", "Move to the job panel", Where.MAIN, priority=True),
    _a("focus-preview", "f4", "focus_preview", "Preview", "Focus preview", "Move to the preview", Where.MAIN,
       priority=True),
    _a("focus-next", "tab", "app.focus_next", "Next field", "Next field", "Move to the next field", Where.MAIN,
       show=False, priority=True, palette=False),
    _a("focus-previous", "shift+tab", "app.focus_previous", "Previous field", "Previous field",
       "Move to the previous field", Where.MAIN, show=False, priority=True, palette=False),
    _a("mask-editor", "f7", "edit_mask", "Mask", "Mask editor",
       "Make or shape the mask over the input, from the keyboard", Where.MAIN),
    _a("preview-inputs", "f8", "preview_inputs", "Inputs", "Show inputs",
       "Preview the input with its mask, and the references", Where.MAIN),
    _a("toggle-deprecated", "f9", "toggle_deprecated", "Deprecated", "Show or hide deprecated fields",
       "The deprecated parameters, still accepted by the API", Where.MAIN, show=False),  # footer room: History
    _a("match-input", "", "match_input", "Match input", "Match input size",
       "Set width and height from the input image, within the model's limits", Where.MAIN),
    _a("lock-aspect", "", "lock_aspect", "Lock aspect", "Lock aspect ratio",
       "While on, typing a width or height sets the other in the input image's proportions", Where.MAIN),
    _a("browse", "ctrl+o", "browse", "Browse", "Browse for a file",
       "Pick the file of the focused file field (else the input image) in a file browser", Where.FILE),
    _a("resize-mask", "ctrl+t", "resize_mask", "Resize mask", "Resize the mask to the input",
       "A mask of another size than the input image, resized to fit it", Where.FILE),
    _a("add-reference", "ctrl+n", "add_row", "Add reference", "Add reference",
       "A new row for an IP-Adapter reference image and its scale", Where.REFERENCES),
    _a("remove-reference", "alt+x", "remove_row", "Remove reference", "Remove reference",
       "Remove the focused reference row (the last one is cleared)", Where.REFERENCES, priority=True),
    _a("reference-up", "alt+up", "move_row(-1)", "Move reference up", "Move reference up",
       "Move the focused reference one place up", Where.REFERENCES, priority=True),
    _a("reference-down", "alt+down", "move_row(1)", "Move reference down", "Move reference down",
       "Move the focused reference one place down", Where.REFERENCES, priority=True),
    _a("previous-job", "up", "select(-1)", "Previous job", "Previous job", "Select the job above",
       Where.JOBS, show=False, palette=False),
    _a("next-job", "down", "select(1)", "Next job", "Next job", "Select the job below",
       Where.JOBS, show=False, palette=False),
    _a("show-results", "enter", "show", "Show results", "Show the job's results",
       "Show the selected job's results in the preview", Where.JOBS),
    _a("cancel-job", "c", "cancel", "Cancel job", "Cancel job",
       "Ask the server to cancel the job selected in the job panel (asks first)", Where.JOBS),
    _a("next-image", "right,right_square_bracket", "step(1)", "Next image", "Next image",
       "Show the next image in the preview", Where.PREVIEW),
    _a("previous-image", "left,left_square_bracket", "step(-1)", "Previous image", "Previous image",
       "Show the previous image in the preview", Where.PREVIEW),
    _a("grid", "g", "grid", "Grid", "Grid of all images", "Show every image of the preview side by side",
       Where.PREVIEW),
    _a("compare-flip", "b", "compare('before')", "Before/after", "Before and after",
       "Flip between a result and the input it was made from", Where.PREVIEW),
    _a("compare-side", "v", "compare('side')", "Side by side", "Before and after side by side",
       "The input and the result side by side", Where.PREVIEW),
    _a("compare-diff", "d", "compare('diff')", "Difference", "Difference from the input",
       "Changed pixels highlighted; those changed outside the mask counted and flagged", Where.PREVIEW),
    _a("quit-q", "q", "app.quit", "Quit", "Quit", "q quits where nothing is typed", Where.JOBS, Where.PREVIEW,
       show=False, palette=False),
    _a("history-back", "escape", "back", "Back", "Back to the form", "Close the history", Where.HISTORY),
    _a("history-previous-run", "up", "select(-1)", "Previous run", "Previous run", "Select the run above",
       Where.HISTORY, show=False, palette=False),
    _a("history-next-run", "down", "select(1)", "Next run", "Next run", "Select the run below",
       Where.HISTORY, show=False, palette=False),
    _a("history-previous-result", "left", "result(-1)", "Previous result", "Previous result",
       "Select the run's previous result", Where.HISTORY, show=False, palette=False),
    _a("history-next-result", "right", "result(1)", "Next result", "Next result",
       "Select the run's next result", Where.HISTORY, show=False, palette=False),
    _a("history-open", "enter", "open", "Form", "Open the run in the form",
       "Put the selected run's parameters and files back into the form", Where.HISTORY),
    _a("history-rerun", "r", "rerun(False)", "Re-run", "Re-run with the same seed",
       "Submit the selected run again (quoted and confirmed as usual)", Where.HISTORY),
    _a("history-rerun-new-seed", "n", "rerun(True)", "New seed", "Re-run with a new seed",
       "Submit the selected run again with a new random seed", Where.HISTORY),
    _a("history-use", "u", "use", "Use", "Use the result as input",
       "The selected result becomes the next input image (its run is kept as the parent)", Where.HISTORY),
    _a("history-star", "s", "star", "Star", "Star the result", "Star or unstar the selected result",
       Where.HISTORY),
    _a("history-discard", "d", "discard", "Discard", "Discard the result", "Discard or keep the selected result",
       Where.HISTORY),
    _a("history-show-discarded", "a", "show_discarded", "Show discarded", "Show discarded results",
       "Show or hide discarded results", Where.HISTORY, show=False),
    _a("history-delete-file", "x", "delete_file", "Delete a discarded result's file", "Delete a discarded file",
       "Delete the file of a discarded result (asks first)", Where.HISTORY, show=False),
    _a("history-state", "t", "next_state", "Next state filter", "Next state filter",
       "Show runs of the next state only (all, running, success, …)", Where.HISTORY, show=False),
    # priority: handled as the key arrives, so the keys typed right after it already go to the filter
    _a("history-filter", "slash", "find", "Filter", "Filter runs", "Filter the runs by text", Where.HISTORY,
       priority=True),
    _a("mask-save", "ctrl+s", "save", "Save", "Save the mask",
       "Save under <output_dir>/masks and put it in the form", Where.MASK_EDITOR, priority=True),
    _a("mask-close", "escape", "leave", "Close", "Close the mask editor",
       "Close the command line, else the editor (asks before dropping changes)", Where.MASK_EDITOR),
    _a("mask-undo", "ctrl+z", "undo", "Undo", "Undo", "Undo the last edit of the mask", Where.MASK_EDITOR,
       priority=True),
    _a("mask-redo", "ctrl+y", "redo", "Redo", "Redo", "Redo the edit undone", Where.MASK_EDITOR, priority=True),
    _a("mask-up", "up", "move(0,-1)", "Up", "Grid cursor up", "Move the grid cursor up", Where.MASK_EDITOR,
       show=False, palette=False),
    _a("mask-down", "down", "move(0,1)", "Down", "Grid cursor down", "Move the grid cursor down",
       Where.MASK_EDITOR, show=False, palette=False),
    _a("mask-left", "left", "move(-1,0)", "Left", "Grid cursor left", "Move the grid cursor left",
       Where.MASK_EDITOR, show=False, palette=False),
    _a("mask-right", "right", "move(1,0)", "Right", "Grid cursor right", "Move the grid cursor right",
       Where.MASK_EDITOR, show=False, palette=False),
    _a("mask-cell", "space", "toggle_cell", "Cell", "Toggle the grid cell",
       "Add the cursor's cell, or remove it when it is mostly there", Where.MASK_EDITOR),
    _a("mask-grid-more", "plus,equals_sign", "grid(1)", "Grid+", "Finer grid", "One more column and row",
       Where.MASK_EDITOR),
    _a("mask-grid-less", "minus", "grid(-1)", "Grid-", "Coarser grid", "One column and row fewer",
       Where.MASK_EDITOR),
    _a("mask-grow", "g", "shape('grow')", "Grow", "Grow the mask", "Grow the area by the step", Where.MASK_EDITOR),
    _a("mask-shrink", "s", "shape('shrink')", "Shrink", "Shrink the mask", "Shrink the area by the step",
       Where.MASK_EDITOR),
    _a("mask-feather", "f", "shape('feather')", "Feather", "Feather the mask", "Soften the edge by the step",
       Where.MASK_EDITOR),
    _a("mask-step-up", "right_square_bracket", "step(2)", "Step×2", "Double the step",
       "Grow, shrink and feather by twice as many pixels", Where.MASK_EDITOR, show=False),
    _a("mask-step-down", "left_square_bracket", "step(0.5)", "Step÷2", "Halve the step",
       "Grow, shrink and feather by half as many pixels", Where.MASK_EDITOR, show=False),
    _a("mask-invert", "i", "invert", "Invert", "Invert the mask", "Repaint what was kept and keep what was repainted",
       Where.MASK_EDITOR),
    _a("mask-fill", "h", "fill_holes", "Fill holes", "Fill holes", "Make enclosed black areas white",
       Where.MASK_EDITOR),
    _a("mask-clear", "n", "clear", "Clear", "Clear the mask", "Start again from nothing (undoable)",
       Where.MASK_EDITOR, show=False),
    _a("mask-open", "ctrl+o", "open_file", "Open…", "Open a mask file",
       "Start from a mask file (resized to the input when needed)", Where.MASK_EDITOR),
    _a("mask-type", "colon,slash", "type_command", "Type", "Type a shape",
       "rect, ellipse, -rect, -ellipse, grow, shrink, feather, invert, fill, grid, cells", Where.MASK_EDITOR),
)
BY_ID = {a.id: a for a in ACTIONS}


def bindings(where: Where) -> list[BindingType]:
    """The Textual bindings of one place, each with its id so ``[keymap]`` can remap it."""
    return [Binding(a.keys, a.action, a.label, show=a.show, priority=a.priority, id=a.id)
            for a in ACTIONS if where in a.where and a.keys]


def keys_of(action_id: str, keymap: Mapping[str, str]) -> list[str]:
    """The keys of an action as the user has them: remapped in ``keymap``, else the default ones."""
    keys = keymap.get(action_id) or BY_ID[action_id].keys
    return [_normal(k.strip()) for k in keys.split(",") if k.strip()]


def _normal(key: str) -> str:
    """A key as Textual names it: "]" is "right_square_bracket"."""
    return _character_to_key(key) if len(key) == 1 else key


def keys_text(action_id: str, keymap: Mapping[str, str]) -> str:
    """The keys for prose ("ctrl+r or ctrl+enter"); "the command palette" when it has none."""
    return " or ".join(keys_of(action_id, keymap)) or "the command palette"


# --- checking [keymap] ---------------------------------------------------------------------------

_MODIFIERS = {"ctrl", "shift", "alt", "meta", "super", "hyper"}
_NAMED = {k.value for k in Keys if "+" not in k.value and not k.value.startswith("<")}


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a key Textual can bind (``None``: it is one), e.g. "ctrl+" or "ctl+s"."""
    *modifiers, name = key.split("+")
    if unknown := [m for m in modifiers if m not in _MODIFIERS]:
        return f"unknown modifier {unknown[0]!r} (use ctrl, shift, alt, meta)"
    if not name:
        return "no key after the modifier"
    if name in _NAMED or (len(name) == 1 and name.isprintable()):
        return None
    for candidate in (KEY_TO_UNICODE_NAME.get(name), name.replace("_", " ").upper()):
        try:
            if candidate and unicodedata.lookup(candidate):
                return None
        except KeyError:
            pass
    return f"unknown key {name!r} (e.g. ctrl+s, f6, alt+x, question_mark)"


@dataclass(frozen=True)
class KeymapCheck:
    """The entries of ``[keymap]`` that can be applied, and what is wrong with the others."""

    usable: dict[str, str]
    warnings: list[str]


def check_keymap(keymap: Mapping[str, object], source: str) -> KeymapCheck:
    """Check ``[keymap]`` (from ``source``, a file name): unknown ids, keys that can't be parsed, and two
    actions on one key where both are live. Bad entries are left out; clashes are reported and kept."""
    usable: dict[str, str] = {}
    warnings: list[str] = []

    def warn(entry: str, why: str) -> None:
        warnings.append(f"{source}: [keymap] {entry}: {why}")

    for action_id, keys in keymap.items():
        entry = f"{action_id} = {keys!r}"
        if action_id not in BY_ID:
            close = [a.id for a in ACTIONS if action_id.replace("_", "-") == a.id]
            warn(entry, f"no action has the id {action_id!r}"
                 + (f" (did you mean {close[0]}?)" if close else " (the ids are in the help screen, F1)"))
            continue
        if not isinstance(keys, str) or not keys.strip():
            warn(entry, "give the keys as text, e.g. \"ctrl+s\" or \"f6,ctrl+s\"")
            continue
        problems = [p for k in keys.split(",") if (p := key_problem(k.strip()))]
        if problems:
            warn(entry, problems[0] + "; the default keys are kept")
            continue
        if not BY_ID[action_id].keys:
            warn(entry, "this action has no key binding (run it from the command palette, ctrl+p)")
            continue
        usable[action_id] = ",".join(k.strip() for k in keys.split(","))
    warnings.extend(f"{source}: [keymap] {clash}" for clash in clashes(usable))
    return KeymapCheck(usable, warnings)


# Keys Textual itself gives a meaning everywhere: an action there would take it away.
_RESERVED = {"tab": "moving to the next field", "shift+tab": "moving to the previous field",
             "ctrl+p": "the command palette", "escape": "closing dialogs"}


def clashes(keymap: Mapping[str, str]) -> list[str]:
    """Two actions on one key where both are live, with the keymap applied (or a key Textual keeps)."""
    found = [f"{action_id}: {key} is already {_RESERVED[key]}"
             for action_id in keymap if action_id in BY_ID for key in keys_of(action_id, keymap) if key in _RESERVED]
    bound = [(a, key) for a in ACTIONS if a.keys for key in keys_of(a.id, keymap)]
    for i, (a, key) in enumerate(bound):
        for b, other_key in bound[i + 1:]:
            if key == other_key and key not in _RESERVED and a.id != b.id and any(live_together(x, y) for x in a.where for y in b.where):
                remapped = [x.id for x in (a, b) if x.id in keymap]
                found.append(f"{', '.join(remapped) or a.id}: {key} is the key of both {a.title!r} ({a.id}) "
                             f"and {b.title!r} ({b.id})")
    return found


# --- the command palette's matching ----------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")


def palette_score(query: str, title: str) -> float:
    """How well ``query`` names ``title``: every word typed must start a word of the title (0: no match).

    Unlike a fuzzy match, "grid" does not find "Toggle deprecated fields" (g…r…i…d spread over words).
    """
    words = _WORD.findall(title.lower())
    typed = _WORD.findall(query.lower())
    if not typed:
        return 0.0
    if not all(any(w.startswith(t) for w in words) for t in typed):
        return 0.0
    covered = sum(len(t) for t in typed) / max(1, sum(len(w) for w in words))
    first = 1.0 if words and words[0].startswith(typed[0]) else 0.0
    return 0.5 + 0.3 * first + 0.2 * covered


def matched_spans(query: str, title: str) -> Iterable[tuple[int, int]]:
    """Where the typed words start the title's words (for highlighting)."""
    typed = _WORD.findall(query.lower())
    for match in _WORD.finditer(title.lower()):
        best = max((len(t) for t in typed if match.group().startswith(t)), default=0)
        if best:
            yield match.start(), match.start() + best

