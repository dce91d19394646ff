"""``scenario-tui mask``: masks made from flags, steps in the order given, bad values exit 2 naming the option."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from scenario_tui import cli
from scenario_tui.core import masks
from tests.conftest import make_image


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """argparse's own refusal (exit 2): its message on stderr."""
    with pytest.raises(SystemExit) as exc:
        cli.main(list(argv))
    assert exc.value.code == 2
    return capsys.readouterr().err


def pixels(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("L")


def same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a, b).getbbox() is None


def test_mask_from_nothing_with_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.png"
    code, stdout, _ = run(capsys, "mask", str(out), "--size", "100x80", "--rect", "10,20,30,40", "--json")
    assert code == 0
    assert json.loads(stdout) == {"coverage": 15.0, "bbox": [10, 20, 30, 40], "size": [100, 80], "path": str(out)}
    expected = masks.shape(masks.blank((100, 80)), "rect", masks.parse_box("10,20,30,40"))
    assert same(pixels(out), expected)


def test_mask_like_an_image_in_percent_with_a_human_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = make_image(tmp_path / "in.png", (200, 100))
    out = tmp_path / "m.png"
    code, stdout, _ = run(capsys, "mask", str(out), "--like", str(image), "--ellipse", "25%,0%,50%,100%")
    assert code == 0
    assert stdout.startswith(f"wrote {out}: 200×100, ") and "bbox x=50 y=0 100×100" in stdout
    assert pixels(out).size == (200, 100)


def test_steps_run_in_the_order_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    base = ["--size", "100x80", "--rect", "10,10,20,20"]
    assert run(capsys, "mask", str(a), *base, "--grow", "5", "--invert")[0] == 0
    assert run(capsys, "mask", str(b), *base, "--invert", "--grow", "5")[0] == 0
    blank = masks.blank((100, 80))
    first_grow = masks.invert(masks.grow(masks.shape(blank, "rect", masks.parse_box("10,10,20,20")), 5))
    assert same(pixels(a), first_grow)
    assert not same(pixels(a), pixels(b))


def test_every_step_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.png"
    code, stdout, _ = run(
        capsys, "mask", str(out), "--size", "80x80", "--grid", "4x4", "--cells", "0,1,4,5", "--subtract-cells", "5",
        "--subtract-rect", "5,5,5,5", "--subtract-ellipse", "0,0,2,2", "--fill-holes", "--shrink", "2", "--grow", "2",
        "--feather", "2", "--threshold", "128", "--json")
    assert code == 0
    # cells 0, 1, 4 (an L of three 20×20 cells), the small subtracted rect was a hole and is filled again
    expected = masks.cells(masks.blank((80, 80)), (4, 4), [0, 1, 4])
    diff = ImageChops.difference(pixels(out), expected)
    assert masks.coverage(diff) < 2  # only the corners rounded by the feather differ
    assert json.loads(stdout)["bbox"] == [0, 0, 40, 40]


def test_from_a_mask_reports_its_polarity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start = tmp_path / "start.png"
    masks.invert(masks.shape(masks.blank((50, 50)), "rect", masks.parse_box("10,10,10,10"))).save(start)
    out = tmp_path / "m.png"
    code, _, err = run(capsys, "mask", str(out), "--from", str(start), "--invert")
    assert code == 0 and "black on white" in err
    assert masks.bbox(pixels(out)) == (10, 10, 10, 10)


@pytest.mark.parametrize(("args", "option"), [
    (["--rect", "10,10,x,5"], "--rect"),
    (["--ellipse", "1,2,3"], "--ellipse"),
    (["--grow", "-3"], "--grow"),
    (["--feather", "lots"], "--feather"),
    (["--grid", "0x3"], "--grid"),
    (["--cells", "a"], "--cells"),
    (["--threshold", "300"], "--threshold"),
    (["--rect", "150%,0,1,1"], "--rect"),
])
def test_bad_values_exit_2_naming_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                             option: str) -> None:
    err = usage_error(capsys, "mask", str(tmp_path / "m.png"), "--size", "10x10", *args)
    assert f"argument {option}:" in err
    assert not (tmp_path / "m.png").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--size", "10x"], "--size: '10x'"),
    (["--size", "16000x16000"], "--size: '16000x16000': more than 64 million pixels"),
    (["--size", "10x10", "--cells", "1"], "--cells 1: needs a --grid"),
    (["--size", "10x10", "--rect", "20,0,5,5"], "--rect 20,0,5,5: outside the 10×10 image"),
    (["--size", "10x10", "--grid", "2x2", "--cells", "4"], "--cells 4: cell 4: a 2x2 grid has cells 0 to 3"),
    (["--rect", "1,1,1,1"], "give --size WxH, --like IMAGE or --from MASK"),
    (["--like", "nowhere.png"], "--like: nowhere.png: no such file"),
    (["--from", "nowhere.png"], "--from: nowhere.png: no such file"),
])
def test_problems_found_while_building_exit_2_naming_the_option(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, _, err = run(capsys, "mask", str(tmp_path / "m.png"), *args)
    assert code == 2 and message in err, err
    assert not (tmp_path / "m.png").exists()


def test_from_of_another_size_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start = tmp_path / "start.png"
    masks.blank((50, 50)).save(start)
    code, _, err = run(capsys, "mask", str(tmp_path / "m.png"), "--from", str(start), "--size", "60x60")
    assert code == 2 and "--from: the mask is 50×50 but the size asked for is 60×60" in err


def test_out_is_replaced_atomically_and_never_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.png"
    out.write_bytes(b"old")
    assert run(capsys, "mask", str(out), "--size", "10x10", "--rect", "0,0,5,5")[0] == 0
    assert masks.coverage(pixels(out)) == 25
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.png"]  # no temporary file left behind
    code, _, err = run(capsys, "mask", str(tmp_path), "--size", "10x10")
    assert code == 2 and "is a directory" in err
    code, _, err = run(capsys, "mask", str(out / "x.png"), "--size", "10x10")
    assert code == 2 and "is not a folder" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_an_unwritable_folder_is_said_plainly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = run(capsys, "mask", str(locked / "m.png"), "--size", "10x10")
    assert code == 2 and "can't be written (Permission denied)" in err


def test_an_empty_mask_is_written_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, err = run(capsys, "mask", str(tmp_path / "m.png"), "--size", "10x10", "--json")
    assert code == 0 and "the mask is empty" in err
    assert json.loads(stdout)["bbox"] is None and json.loads(stdout)["coverage"] == 0
