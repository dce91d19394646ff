"""How file paths are shown and remembered: short where they can be, whole where they must be."""

from __future__ import annotations

import os
from pathlib import Path

from scenario_tui.core.params import is_asset_id


def shown_path(path: Path) -> Path:
    """``path`` relative to the working folder when it lies inside it, else as it is.

    From the root folder every path is "inside": they stay absolute there.
    """
    cwd = Path.cwd()
    if cwd == Path(cwd.anchor):
        return path
    try:
        return path.relative_to(cwd)
    except ValueError:
        return path


def _expanded(text: str) -> Path:
    try:
        return Path(text).expanduser()
    except RuntimeError:  # an unknown ~user
        return Path(text)


def remembered(text: str) -> str | None:
    """A typed file value as it is saved: an absolute path, so it means the same from any folder.

    Asset ids (``asset_…`` with no such file) and empty text stay as they are. A relative path
    naming nothing here is ``None``: nothing that could be found later.
    """
    text = text.strip()
    if not text or (text.startswith("asset_") and is_asset_id(text) and not Path(text).exists()):
        return text
    path = _expanded(text)
    if not path.is_absolute() and not path.exists():
        return None
    return os.path.abspath(path)


def restored(text: str) -> str | None:
    """A saved file value as the form shows it (short when under the working folder).

    Entries saved relative by older versions are kept only when they name a file from here.
    """
    kept = remembered(text)
    if not kept or not Path(kept).is_absolute():
        return kept
    return str(shown_path(Path(kept)))
