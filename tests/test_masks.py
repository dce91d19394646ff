"""Pixel-level tests of scenario_tui.core.masks: every shape and operation checked on exact pixels."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw

from scenario_tui.core import imaging, masks
from scenario_tui.core.masks import Box, Length, MaskError, Polarity, Step

W, H = 100, 80


def white(mask: Image.Image) -> set[tuple[int, int]]:
    """The pixels at 255."""
    w, h = mask.size
    data = mask.tobytes()
    return {(i % w, i // w) for i, v in enumerate(data) if v == 255}


def rect_pixels(x0: int, y0: int, x1: int, y1: int) -> set[tuple[int, int]]:
    return {(x, y) for x in range(x0, x1) for y in range(y0, y1)}


def box(text: str) -> Box:
    return masks.parse_box(text)


def square(x0: int, y0: int, x1: int, y1: int, size: tuple[int, int] = (W, H)) -> Image.Image:
    m = masks.blank(size)
    ImageDraw.Draw(m).rectangle((x0, y0, x1 - 1, y1 - 1), fill=255)
    return m


# --- values ---------------------------------------------------------------------------------------


def test_lengths_in_pixels_and_percent() -> None:
    assert masks.parse_length("12") == Length(12)
    assert masks.parse_length("12.5%") == Length(12.5, True)
    assert Length(25, True).pixels(W) == 25 and Length(25, True).pixels(H) == 20
    for bad in ("-3", "x", "10px", "101%", ""):
        with pytest.raises(MaskError):
            masks.parse_length(bad)


def test_box_percent_is_of_width_for_x_and_w_and_of_height_for_y_and_h() -> None:
    assert box("10%,25%,50%,50%").resolve((W, H)) == (10, 20, 60, 60)
    assert box("3,4,5,6").resolve((W, H)) == (3, 4, 8, 10)
    for bad in ("1,2,3", "1,2,0,4", "a,b,c,d"):
        with pytest.raises(MaskError):
            masks.parse_box(bad)


# --- shapes ---------------------------------------------------------------------------------------


def test_rectangle_in_pixels_covers_exactly_its_box() -> None:
    m = masks.shape(masks.blank((W, H)), "rect", box("10,5,20,30"))
    assert white(m) == rect_pixels(10, 5, 30, 35)
    assert set(m.tobytes()) == {0, 255}


def test_rectangle_in_percent() -> None:
    m = masks.shape(masks.blank((W, H)), "rect", box("10%,25%,50%,50%"))
    assert white(m) == rect_pixels(10, 20, 60, 60)


def test_ellipse_is_inscribed_in_its_box() -> None:
    m = masks.shape(masks.blank((W, H)), "ellipse", box("10,10,41,21"))
    assert masks.bbox(m) == (10, 10, 41, 21)
    assert m.getpixel((30, 20)) == 255  # the centre
    assert m.getpixel((10, 10)) == 0 and m.getpixel((50, 30)) == 0  # the box's corners are outside
    assert (40 * 20 * 3.14159 / 4) * 0.9 < len(white(m)) < (41 * 21) * 0.85


def test_ellipse_in_percent() -> None:
    m = masks.shape(masks.blank((W, H)), "ellipse", box("0%,0%,100%,100%"))
    assert masks.bbox(m) == (0, 0, W, H)
    assert m.getpixel((0, 0)) == 0 and m.getpixel((W // 2, H // 2)) == 255


def test_subtraction_removes_exactly_the_shape() -> None:
    m = masks.shape(masks.blank((W, H)), "rect", box("0,0,50,50"))
    m = masks.shape(m, "rect", box("10,10,10,10"), add=False)
    assert white(m) == rect_pixels(0, 0, 50, 50) - rect_pixels(10, 10, 20, 20)
    e = masks.shape(m, "ellipse", box("0,0,50,50"), add=False)
    assert e.getpixel((25, 25)) == 0 and e.getpixel((0, 0)) == 255  # the corner survives an ellipse


def test_shapes_are_clipped_and_a_shape_outside_is_refused() -> None:
    m = masks.shape(masks.blank((W, H)), "rect", box("90,70,50,50"))
    assert white(m) == rect_pixels(90, 70, W, H)
    with pytest.raises(MaskError, match="outside the 100×80 image"):
        masks.shape(masks.blank((W, H)), "rect", box("100,0,5,5"))
    with pytest.raises(MaskError, match="less than a pixel"):
        masks.shape(masks.blank((W, H)), "rect", box("0,0,0.1%,5"))


# --- grid cells -----------------------------------------------------------------------------------


def test_grid_cells_are_numbered_from_zero_row_by_row() -> None:
    m = masks.cells(masks.blank((W, H)), (4, 2), [0, 5])
    assert white(m) == rect_pixels(0, 0, 25, 40) | rect_pixels(25, 40, 50, 80)


def test_grid_cells_tile_the_image_even_when_it_does_not_divide() -> None:
    everything = masks.cells(masks.blank((W, H)), (3, 7), range(21))
    assert masks.coverage(everything) == 100
    boxes = [masks.cell_box((W, H), (3, 7), n) for n in range(21)]
    assert sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in boxes) == W * H


def test_grid_cells_subtracted_and_out_of_range() -> None:
    m = masks.cells(masks.cells(masks.blank((W, H)), (2, 2), [0, 1]), (2, 2), [1], add=False)
    assert white(m) == rect_pixels(0, 0, 50, 40)
    with pytest.raises(MaskError, match="cells 0 to 3"):
        masks.cells(masks.blank((W, H)), (2, 2), [4])


# --- grow, shrink ---------------------------------------------------------------------------------


def test_grow_adds_exactly_px_on_every_side() -> None:
    assert white(masks.grow(square(40, 30, 50, 40), 5)) == rect_pixels(35, 25, 55, 45)


def test_grow_keeps_a_single_pixel_and_reaches_its_corners() -> None:
    assert white(masks.grow(square(50, 40, 51, 41), 7)) == rect_pixels(43, 33, 58, 48)


def test_grow_beyond_one_box_pass_is_still_exact() -> None:
    size = (700, 20)
    grown = masks.grow(square(0, 10, 1, 11, size), 300)
    assert white(grown) == rect_pixels(0, 0, 301, 20)


def test_a_grow_or_shrink_far_beyond_the_image_is_quick_and_total() -> None:
    assert masks.coverage(masks.grow(square(50, 40, 51, 41), 16384)) == 100
    assert masks.coverage(masks.shrink(square(0, 0, 100, 79), 16384)) == 0


def test_grow_stops_at_the_image_border() -> None:
    assert white(masks.grow(square(0, 0, 10, 10), 4)) == rect_pixels(0, 0, 14, 14)


def test_shrink_removes_exactly_px_on_every_side() -> None:
    assert white(masks.shrink(square(20, 20, 60, 50), 6)) == rect_pixels(26, 26, 54, 44)
    assert white(masks.shrink(square(20, 20, 30, 30), 5)) == set()


def test_shrink_does_not_eat_in_from_the_image_border() -> None:
    assert white(masks.shrink(square(0, 0, 30, 30), 3)) == rect_pixels(0, 0, 27, 27)


def test_grow_and_shrink_of_zero_change_nothing_and_negative_is_refused() -> None:
    m = square(20, 20, 30, 30)
    assert white(masks.grow(m, 0)) == white(masks.shrink(m, 0)) == white(m)
    with pytest.raises(MaskError):
        masks.grow(m, -1)


# --- feather, invert, threshold -------------------------------------------------------------------


def test_feather_softens_the_edge_and_keeps_deep_pixels() -> None:
    m = square(20, 20, 80, 60)
    soft = masks.feather(m, 6)
    assert soft.getpixel((50, 40)) == 255 and soft.getpixel((2, 2)) == 0
    ramp = [soft.getpixel((x, 40)) for x in range(10, 31)]
    assert ramp == sorted(ramp) and 0 < ramp[10] < 255  # rises across the edge at x = 20
    assert 100 <= soft.getpixel((20, 40)) <= 160  # about half on the edge
    assert soft.getpixel((12, 40)) < 16 and soft.getpixel((28, 40)) > 239  # the ramp is about 2 px wide


def test_feather_on_a_big_mask_uses_a_reduced_copy_with_the_same_ramp() -> None:
    size = (2048, 1024)
    m = square(500, 300, 1500, 700, size)
    soft = masks.feather(m, 16)
    assert soft.size == size
    assert soft.getpixel((1000, 500)) == 255 and soft.getpixel((100, 100)) == 0
    assert 90 <= soft.getpixel((500, 500)) <= 165
    assert soft.getpixel((480, 500)) < 20 and soft.getpixel((520, 500)) > 235


def test_invert_swaps_repaint_and_keep() -> None:
    m = square(10, 10, 20, 20)
    assert white(masks.invert(m)) == rect_pixels(0, 0, W, H) - rect_pixels(10, 10, 20, 20)


def test_threshold_makes_a_soft_mask_binary() -> None:
    soft = masks.feather(square(20, 20, 80, 60), 6)
    hard = masks.threshold(soft)
    assert set(hard.tobytes()) == {0, 255}
    assert white(hard) == {p for p in rect_pixels(0, 0, W, H) if soft.getpixel(p) >= 128}
    assert white(masks.threshold(soft, 250)) < white(hard)


# --- fill holes -----------------------------------------------------------------------------------


def test_fill_holes_fills_enclosed_black_only() -> None:
    m = square(10, 10, 60, 60)
    ImageDraw.Draw(m).rectangle((20, 20, 29, 29), fill=0)  # a hole
    ImageDraw.Draw(m).rectangle((50, 30, 59, 39), fill=0)  # a bay open to the outside through x = 59
    ImageDraw.Draw(m).rectangle((59, 30, 59, 39), fill=0)
    m.putpixel((60, 35), 0)  # (already black: outside the square)
    filled = masks.fill_holes(m)
    assert white(filled) == white(m) | rect_pixels(20, 20, 30, 30)


def test_fill_holes_treats_diagonal_gaps_as_closed() -> None:
    ring = masks.blank((9, 9))
    draw = ImageDraw.Draw(ring)
    draw.polygon([(4, 1), (7, 4), (4, 7), (1, 4)], outline=255)  # a diamond of diagonal steps
    assert masks.fill_holes(ring).getpixel((4, 4)) == 255


def test_fill_holes_leaves_black_touching_the_border() -> None:
    m = masks.invert(square(0, 30, W, 50))  # white above and below a black band across the image
    assert white(masks.fill_holes(m)) == white(m)


def test_fill_holes_keeps_soft_edges() -> None:
    m = square(10, 10, 60, 60)
    ImageDraw.Draw(m).rectangle((30, 30, 39, 39), fill=0)
    soft = masks.feather(m, 2)
    filled = masks.fill_holes(soft)
    assert filled.getpixel((35, 35)) == 255
    assert filled.getpixel((10, 35)) == soft.getpixel((10, 35))


# --- measuring ------------------------------------------------------------------------------------


def test_coverage_and_bbox() -> None:
    m = square(10, 20, 30, 60)
    assert masks.coverage(m) == pytest.approx(100 * 20 * 40 / (W * H))
    assert masks.bbox(m) == (10, 20, 20, 40)
    assert masks.bbox(masks.blank((W, H))) is None
    assert masks.coverage(masks.blank((W, H))) == 0


# --- polarity -------------------------------------------------------------------------------------


def test_polarity_white_on_black() -> None:
    read = masks.binarize(square(10, 10, 30, 30))
    assert read.polarity is Polarity.WHITE_ON_BLACK and read.notes == ()


def test_polarity_black_on_white_is_reported_not_inverted() -> None:
    m = masks.invert(square(10, 10, 30, 30))
    read = masks.binarize(m)
    assert read.polarity is Polarity.BLACK_ON_WHITE
    assert read.mask.tobytes() == m.tobytes()  # white is still what gets repainted
    assert any("black on white" in n and "--invert" in n for n in read.notes)


def test_mostly_white_mask_with_a_black_border_is_white_on_black() -> None:
    assert masks.binarize(square(5, 5, 95, 75)).polarity is Polarity.WHITE_ON_BLACK


def test_polarity_alpha_transparent_is_repaint() -> None:
    rgba = Image.new("RGBA", (W, H), (0, 0, 0, 255))
    ImageDraw.Draw(rgba).rectangle((10, 10, 19, 19), fill=(0, 0, 0, 0))
    read = masks.binarize(rgba)
    assert read.polarity is Polarity.ALPHA
    assert white(read.mask) == rect_pixels(10, 10, 20, 20)


def test_polarity_alpha_strokes_painted_is_repaint() -> None:
    rgba = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).rectangle((10, 10, 19, 19), fill=(255, 255, 255, 255))
    read = masks.binarize(rgba)
    assert read.polarity is Polarity.ALPHA_STROKES
    assert white(read.mask) == rect_pixels(10, 10, 20, 20)


def test_loaded_masks_carry_their_polarity(tmp_path: Path) -> None:
    path = tmp_path / "bw.png"
    masks.invert(square(10, 10, 30, 30)).save(path)
    loaded = imaging.load_mask(path)
    assert loaded.polarity is Polarity.BLACK_ON_WHITE
    assert any("black on white" in n for n in loaded.notes)
    empty = tmp_path / "empty.png"
    masks.blank((W, H)).save(empty)
    assert imaging.read_mask(empty).coverage == 0  # read as it is...
    with pytest.raises(imaging.ImageProblem, match="nothing to repaint"):
        imaging.load_mask(empty)  # ...but not sent


# --- recipes and files ----------------------------------------------------------------------------


def test_steps_apply_in_order() -> None:
    rect = masks.parse_step("rect", "10,10,20,20")
    first_grow = masks.apply(masks.blank((W, H)), [rect, masks.parse_step("grow", "5"), masks.parse_step("invert", None)])
    first_invert = masks.apply(masks.blank((W, H)), [rect, masks.parse_step("invert", None), masks.parse_step("grow", "5")])
    assert white(first_grow) == rect_pixels(0, 0, W, H) - rect_pixels(5, 5, 35, 35)
    assert white(first_invert) == rect_pixels(0, 0, W, H) - rect_pixels(15, 15, 25, 25)


def test_steps_name_the_option_that_failed() -> None:
    with pytest.raises(MaskError, match=r"^--cells 1,2: needs a --grid"):
        masks.apply(masks.blank((W, H)), [masks.parse_step("cells", "1,2")])
    with pytest.raises(MaskError, match=r"^--rect 500,0,5,5: outside"):
        masks.apply(masks.blank((W, H)), [Step("rect", box("500,0,5,5"))])


def test_save_is_atomic_and_refuses_a_directory(tmp_path: Path) -> None:
    out = tmp_path / "m.png"
    masks.save(square(1, 1, 5, 5), out)
    assert white(Image.open(out).convert("L")) == rect_pixels(1, 1, 5, 5)
    assert [p.name for p in tmp_path.iterdir()] == ["m.png"]
    with pytest.raises(MaskError, match="is a directory"):
        masks.save(square(1, 1, 5, 5), tmp_path)
    with pytest.raises(MaskError, match="does not exist"):
        masks.save(square(1, 1, 5, 5), tmp_path / "nope" / "m.png")


# --- context crop ---------------------------------------------------------------------------------


def test_context_box_pads_snaps_to_8_and_stays_inside() -> None:
    m = square(100, 100, 150, 130, (1024, 768))
    x0, y0, x1, y1 = masks.context_box(m, 32) or (0, 0, 0, 0)
    assert x0 <= 68 and y0 <= 68 and x1 >= 182 and y1 >= 162
    assert (x1 - x0) % 8 == 0 and (y1 - y0) % 8 == 0
    corner = masks.context_box(square(0, 0, 10, 10, (1024, 768)), 32, lo=512)
    assert corner == (0, 0, 512, 512)
    assert masks.context_box(masks.blank((64, 64)), 8) is None
    whole = masks.context_box(square(0, 0, 1000, 700, (1000, 700)), 8)
    assert whole == (0, 0, 1000, 700)  # can't be a multiple of 8 inside the image: the whole side


def test_paste_alpha_is_zero_outside_the_mask_and_full_deep_inside() -> None:
    m = square(20, 20, 80, 60)
    alpha = masks.paste_alpha(m, 4)
    outside = rect_pixels(0, 0, W, H) - white(m)
    assert all(alpha.getpixel(p) == 0 for p in outside)
    assert alpha.getpixel((50, 40)) == 255
    assert 0 < alpha.getpixel((22, 40)) < 255


def test_paste_back_keeps_outside_pixels_bit_exact() -> None:
    full = Image.effect_noise((W, H), 60).convert("RGB")
    m = square(30, 20, 70, 60)
    crop = (24, 16, 80, 64)
    result = Image.new("RGB", (56, 48), (255, 0, 0))
    out = masks.paste_back(full, result, m, crop, px=4)
    diff = ImageChops.difference(out, full).convert("L")
    assert white(diff.point([0] + [255] * 255)) <= white(m)
    assert out.getpixel((50, 40)) == (255, 0, 0)


# --- against plain per-pixel definitions, on random masks -----------------------------------------


def random_mask(seed: int, size: tuple[int, int] = (41, 33)) -> Image.Image:
    import random

    rnd = random.Random(seed)
    m = masks.blank(size)
    draw = ImageDraw.Draw(m)
    for _ in range(rnd.randint(1, 6)):
        x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
        shape = draw.rectangle if rnd.random() < 0.5 else draw.ellipse
        shape((x, y, x + rnd.randint(0, 15), y + rnd.randint(0, 12)), fill=rnd.choice((0, 255, 255)))
    for _ in range(rnd.randint(0, 20)):
        m.putpixel((rnd.randrange(size[0]), rnd.randrange(size[1])), rnd.choice((0, 255)))
    return m


def reference_grow(m: Image.Image, px: int, value: int = 255) -> set[tuple[int, int]]:
    """Pixels with a ``value`` pixel of the image within ``px`` (Chebyshev)."""
    w, h = m.size
    hits = {p for p in rect_pixels(0, 0, w, h) if m.getpixel(p) == value}
    return {(x, y) for x, y in rect_pixels(0, 0, w, h)
            if any((x + dx, y + dy) in hits for dx in range(-px, px + 1) for dy in range(-px, px + 1))}


def reference_fill(m: Image.Image) -> set[tuple[int, int]]:
    w, h = m.size
    black = {p for p in rect_pixels(0, 0, w, h) if m.getpixel(p) == 0}
    todo = [p for p in black if p[0] in (0, w - 1) or p[1] in (0, h - 1)]
    outside: set[tuple[int, int]] = set()
    while todo:
        x, y = todo.pop()
        if (x, y) in outside:
            continue
        outside.add((x, y))
        todo += [q for q in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)) if q in black and q not in outside]
    return rect_pixels(0, 0, w, h) - outside


@pytest.mark.parametrize("seed", range(12))
def test_grow_shrink_and_fill_holes_match_their_per_pixel_definitions(seed: int) -> None:
    m = random_mask(seed)
    px = 1 + seed % 4
    everything = rect_pixels(0, 0, *m.size)
    assert white(masks.grow(m, px)) == reference_grow(m, px)
    assert white(masks.shrink(m, px)) == everything - reference_grow(m, px, value=0)
    assert white(masks.fill_holes(m)) == reference_fill(m)


def test_feather_around_a_small_area_equals_a_blur_of_the_whole_image() -> None:
    from PIL import ImageFilter

    m = square(90, 80, 110, 95, (200, 180))
    assert ImageChops.difference(masks.feather(m, 6), m.filter(ImageFilter.GaussianBlur(3))).getbbox() is None


@pytest.mark.parametrize(("line", "step"), [
    ("rect 10%,10%,30%,40%", "--rect 10%,10%,30%,40%"),
    ("-rect 1, 2, 3, 4", "--subtract-rect 1,2,3,4"),
    ("ellipse 0,0,5,5", "--ellipse 0,0,5,5"),
    ("-ellipse 0,0,5,5", "--subtract-ellipse 0,0,5,5"),
    ("GROW 8", "--grow 8"), ("fill", "--fill-holes"), ("--invert", "--invert"), ("cells 1,2", "--cells 1,2"),
])
def test_typed_commands_are_the_cli_steps(line: str, step: str) -> None:
    assert str(masks.parse_command(line)) == step


@pytest.mark.parametrize(("line", "says"), [
    ("bogus 1", "'bogus': not a command"), ("rect", "rect needs a value"), ("invert 3", "takes no value"),
    ("rect 1,2,3", "expected X,Y,W,H"), ("", "type a command"), ("grow -2", "not a whole number"),
])
def test_bad_typed_commands_say_why(line: str, says: str) -> None:
    with pytest.raises(masks.MaskError, match=re.escape(says)):
        masks.parse_command(line)
