"""Shared fixtures: an isolated home, the vendored API contract, small generated images."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from PIL import Image, ImageDraw
from referencing import Registry, Resource

CONTRACT = json.loads((Path(__file__).parent / "contract" / "contract-schema.json").read_text())


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the real config, data or pictures folders, or sees real credentials."""
    home = tmp_path_factory.mktemp("home")
    for var in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_PICTURES_DIR", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()) if var != "HOME" else str(home))
    for var in ("SCENARIO_API_KEY", "SCENARIO_API_SECRET", "SCENARIO_SDK_API_KEY", "SCENARIO_SDK_API_SECRET",
                "SCENARIO_BASE_URL", "SCENARIO_TUI_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    return home


def contract_validator(definition: str) -> jsonschema.Draft4Validator:
    """A validator for one definition of the vendored Swagger 2.0 contract (refs resolved)."""
    registry = Registry().with_resource("contract", Resource.opaque(CONTRACT))
    schema = {"$ref": f"contract#/definitions/{definition}"}
    return jsonschema.Draft4Validator(schema, registry=registry)


@pytest.fixture
def contract() -> Callable[[str, Any], None]:
    """``contract(definition, instance)`` fails the test if the instance breaks the API contract."""

    def validate(definition: str, instance: Any) -> None:
        contract_validator(definition).validate(instance)

    return validate


def make_image(path: Path, size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (40, 120, 200)) -> Path:
    img = Image.new("RGB", size, color)
    ImageDraw.Draw(img).ellipse((size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4), fill=(250, 200, 40))
    img.save(path)
    return path


def make_mask(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    img = Image.new("L", size, 0)
    ImageDraw.Draw(img).rectangle((size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4), fill=255)
    img.save(path)
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """An input image, a matching mask and two references, as PNG files."""
    return {
        "image": make_image(tmp_path / "input.png"),
        "mask": make_mask(tmp_path / "mask.png"),
        "ref1": make_image(tmp_path / "ref-red.png", (32, 32), (220, 30, 30)),
        "ref2": make_image(tmp_path / "ref-blue.png", (32, 32), (30, 30, 220)),
    }


# The fault suite's summary line (tests/faults), printed by the process that reports, with or without xdist.
from tests.faults.summary import (  # noqa: E402,F401
    pytest_sessionfinish,
    pytest_terminal_summary,
    pytest_testnodedown,
)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers per core. The UI tests wait on the app's (short, real) debounces, so a
    core idles while its one worker waits; a second worker fills it (measured on 2 cores: 207 s -> 176 s)."""
    return 2 * (os.cpu_count() or 1)
