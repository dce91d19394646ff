"""How file paths are shown: short where they can be, whole where they must be."""

from __future__ import annotations

from pathlib import Path


def shown_path(path: Path) -> Path:
    """``path`` relative to the working folder when it lies inside it, else as it is."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
