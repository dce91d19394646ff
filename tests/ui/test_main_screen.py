from __future__ import annotations
from tests.ui.conftest import *  # noqa
from textual.widgets import Input

async def fill(app, pilot, inputs):
    form = app.screen.form
    form.file("image").set_value(inputs["image"])
    form.file("mask").set_value(inputs["mask"])
    app.screen.query_one("#param-prompt").text = "a cat"
    rows = form.references.rows()
    rows[0][0].set_value(inputs["ref1"])
    await settle(app, pilot)

async def test_explore(harness, inputs):
    h = harness()
    app = h.app
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await fill(app, pilot, inputs)
        await until(pilot, lambda: "CU" in costbar(app), "cost")
        print("cost", costbar(app)); print("blockers", repr(blockers(app)))
        app.screen.query_one("#param-strength").focus()
        await pilot.press("2")
        await until(pilot, lambda: "fix" in costbar(app), "fix")
        print("note", note(app, "strength"), "|", blockers(app))
        await pilot.press("backspace")
        for _ in range(80): await pilot.pause()
        print("after backspace cost:", costbar(app), "| blockers", repr(blockers(app)))
        app.screen.query_one("#param-seed").disabled = False
        app.screen.query_one("#param-seed").focus()
        await pilot.press(*"-1a")
        print("seed value", app.screen.query_one("#param-seed").value)
        app.screen.query_one("#param-numSamples").focus()
        await pilot.press(*"2.5")
        print("ns value", app.screen.query_one("#param-numSamples").value)
