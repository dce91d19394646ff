"""Before/after maths: changed pixels counted exactly, and those outside the mask flagged."""

from __future__ import annotations

from PIL import Image, ImageDraw

from scenario_tui.core import compare


def _pair() -> tuple[Image.Image, Image.Image, Image.Image]:
    before = Image.new("RGB", (40, 20), (10, 20, 30))
    mask = Image.new("L", (40, 20), 0)
    ImageDraw.Draw(mask).rectangle((0, 0, 9, 9), fill=255)  # 100 px to repaint
    after = before.copy()
    ImageDraw.Draw(after).rectangle((0, 0, 9, 9), fill=(200, 0, 0))  # all 100 inside
    after.putpixel((30, 15), (10, 20, 31))  # one channel off by one, outside
    after.putpixel((39, 0), (0, 0, 0))  # outside
    return before, after, mask


def test_changed_outside_the_mask_are_counted_and_flagged() -> None:
    before, after, mask = _pair()
    diff = compare.difference(before, after, mask)
    assert (diff.changed_count, diff.outside_count, diff.total) == (102, 2, 800)
    assert diff.changed_percent == 102 / 8
    assert "⚠ 2 px (0.25 %) changed OUTSIDE the mask" in diff.summary()
    assert diff.outside is not None and diff.outside.getpixel((30, 15)) == 255 and diff.outside.getpixel((0, 0)) == 0


def test_tolerance_ignores_small_differences() -> None:
    before, after, mask = _pair()
    assert compare.difference(before, after, mask, tolerance=1).outside_count == 1


def test_identical_outside_says_none_and_no_mask_says_so() -> None:
    before, after, mask = _pair()
    after.putpixel((30, 15), (10, 20, 30))
    after.putpixel((39, 0), (10, 20, 30))
    assert compare.difference(before, after, mask).summary() == "100 px changed (12.50 %); none outside the mask"
    assert compare.difference(before, after).summary().endswith("no mask to check against")


def test_sizes_differ_before_and_mask_follow_the_result() -> None:
    before, after, mask = _pair()
    big = after.resize((80, 40), Image.Resampling.NEAREST)
    diff = compare.difference(before, big, mask)
    assert diff.total == 3200 and diff.changed.size == (80, 40)


def test_highlight_colours_inside_and_outside() -> None:
    before, after, mask = _pair()
    shown = compare.highlight(after, compare.difference(before, after, mask))
    assert shown.getpixel((5, 5)) == compare.CHANGED_INSIDE
    assert shown.getpixel((39, 0)) == compare.CHANGED_OUTSIDE
    assert shown.getpixel((20, 5)) == (6, 6, 6)  # unchanged: grey 18, dimmed to a third


def test_side_by_side_puts_before_left_at_the_results_height() -> None:
    before, after, _ = _pair()
    pair = compare.side_by_side(before.resize((20, 10)), after, gap=2)
    assert pair.size == (40 + 2 + 40, 20)
    assert pair.getpixel((45, 5)) == (200, 0, 0)
