"""Run inside a real terminal by tests/ui/test_xterm_preview.py: the real detection, the real Preview.

Usage: python -m tests.ui.xterm_preview_app IMAGE READY_JSON

Detects the terminal exactly as the launcher does (``images.choose("auto")``), shows IMAGE in the
app's Preview pane on the left and, as a control, textual-image 0.12's own sixel widget with the
same picture on the right; then writes READY_JSON with both regions (in cells), the cell size
and the protocol. It runs until the test ends it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from PIL import Image
from textual.app import ComposeResult
from textual.containers import Container, Horizontal
from textual.widget import Widget

from scenario_tui.ui import images
from tests.ui.widget_app import WidgetApp


class XtermPreviewApp(WidgetApp):
    CSS = """
    Screen { background: black; }
    #left { width: 1fr; height: 1fr; }
    #right { width: 1fr; height: 1fr; align: center middle; }
    #control { width: auto; height: auto; }
    """

    def __init__(self, image_cls: type[Widget] | None, control_cls: type[Widget] | None, path: Path,
                 ready: Path) -> None:
        super().__init__(image_cls)
        self.control_cls = control_cls
        self.path, self.ready = path, ready

    def compose(self) -> ComposeResult:
        from scenario_tui.ui.widgets.preview import Preview

        with Horizontal():
            with Container(id="left"):
                yield Preview(id="preview")
            with Container(id="right"):
                if self.control_cls is not None:
                    yield self.control_cls(id="control")

    def on_mount(self) -> None:
        from scenario_tui.ui.widgets.preview import Preview, PreviewItem

        preview = self.query_one(Preview)
        preview.show([PreviewItem("known image", self.path)])
        self.set_interval(0.1, self._check)

    def _check(self) -> None:
        if self.image_cls is None:
            self._write(None, None)
            return
        shown = self.query_one("#preview-image")
        image: Image.Image | None = getattr(shown, "image", None)
        if image is None or not shown.region.area:
            return
        if self.control_cls is not None:
            control = self.query_one("#control")
            if getattr(control, "image", None) is None:
                control.image = image.copy()  # type: ignore[attr-defined]
                return
            if not control.region.area:
                return
            self._write(shown, control)
        else:
            self._write(shown, None)

    def _write(self, shown: Widget | None, control: Widget | None) -> None:
        def region(widget: Widget | None) -> list[int] | None:
            return list(widget.region) if widget is not None else None

        detected = images.detected
        data: dict[str, Any] = {
            "protocol": images.protocol_name(self.image_cls),
            "reason": detected[1].reason if detected else None,
            "cell": list(images.cell_size()),
            "preview": region(shown),
            "control": region(control),
        }
        if not self.ready.exists():
            self.ready.write_text(json.dumps(data))


def main() -> None:
    path, ready = Path(sys.argv[1]), Path(sys.argv[2])
    image_cls = images.choose("auto")
    control_cls: type[Widget] | None = None
    if images.protocol_name(image_cls) == "sixel":
        from textual_image.widget import SixelImage

        control_cls = SixelImage
    XtermPreviewApp(image_cls, control_cls, path, ready).run()


if __name__ == "__main__":
    main()
