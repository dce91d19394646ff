"""What the app remembers between runs: form values, chosen files (as absolute paths), the last folder browsed."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scenario_tui.config import data_dir, write_private
from scenario_tui.ui.paths import remembered, restored


def state_path() -> Path:
    return data_dir() / "ui-state.json"


@dataclass
class UiState:
    """Saved as JSON (mode 0600: prompts can be private). Unknown or broken files start fresh."""

    values: dict[str, Any] = field(default_factory=dict)  # typed form values, by API name
    image: str = ""
    mask: str = ""
    references: list[tuple[str, str]] = field(default_factory=list)  # (path or asset id, scale text)
    last_folder: str = ""
    seed_mode: str = "random"
    show_deprecated: bool = False

    @classmethod
    def load(cls, path: Path | None = None) -> UiState:
        try:
            data = json.loads((path or state_path()).read_text(encoding="utf-8"))
            state = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
            state.references = [(str(p), str(s)) for p, s in state.references]
        except (OSError, ValueError, TypeError):
            return cls()
        state.image, state.mask = restored(str(state.image)) or "", restored(str(state.mask)) or ""
        state.references = [(shown, scale) for path, scale in state.references if (shown := restored(path))]
        return state

    def save(self, path: Path | None = None) -> None:
        """Write the state, file paths made absolute (the app may start from another folder next time)."""
        data = asdict(self)
        data["image"], data["mask"] = remembered(self.image) or "", remembered(self.mask) or ""
        data["references"] = [(kept, scale) for p, scale in self.references if (kept := remembered(p))]
        write_private(path or state_path(), json.dumps(data, indent=2, ensure_ascii=False))

    def start_folder(self) -> Path:
        folder = Path(self.last_folder) if self.last_folder else Path.cwd()
        return folder if folder.is_dir() else Path.cwd()
