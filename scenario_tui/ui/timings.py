"""How long the UI waits before it reacts (seconds): one place, passed to ``make_app``, so tests need not wait."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timings:
    """Debounces, cooldowns and refresh intervals of the TUI."""

    validate: float = 0.15  # after a keystroke, before the form is checked
    quote: float = 0.8  # after the form settles, before the cost is asked for
    model: float = 0.6  # after the model id is typed, before it is looked up
    save: float = 1.0  # after a change, before the form is remembered on disk
    preview: float = 0.05  # after a file changes, before the preview follows
    file: float = 0.3  # after a path is typed, before the file is loaded
    submit_cooldown: float = 1.5  # after a submit, before another is taken (key repeat can't submit twice)
    filter: float = 0.2  # after the history's filter is typed, before the list follows
    tick: float = 1.0  # how often running jobs' elapsed times are redrawn

