from __future__ import annotations
from tests.ui.conftest import *  # noqa
from textual.widgets import Input
from scenario_tui.ui.widgets.jobs import JobPanel
from scenario_tui.ui.widgets.preview import Preview

async def test_explore(harness, inputs):
    h = harness()
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        print("focused", app.focused)
        print("cost", costbar(app)); print("blockers", blockers(app))
        await pilot.press(*inputs["image"], "tab")
        print("focused", app.focused, app.focused.parent, app.focused.parent.parent)
        await pilot.press(*inputs["mask"], "tab")
        print("focused", app.focused, app.focused.id, app.focused.parent)
        for i in range(8):
            await pilot.press("tab")
            print("focused", app.focused, app.focused.id, [a.id for a in app.focused.ancestors][:4])
        await settle(app, pilot)
        print("cost", costbar(app)); print("blockers", blockers(app))
        app.save_screenshot("/tmp/explore/s1.svg")
