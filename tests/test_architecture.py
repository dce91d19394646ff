"""Rules about the shape of the project that a reader would otherwise have to trust."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "scenario_tui"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_and_sandbox_never_import_textual() -> None:
    for folder in ("core", "sandbox"):
        for path in (PACKAGE / folder).rglob("*.py"):
            bad = {m for m in imported_modules(path) if m.split(".")[0] in ("textual", "textual_image", "rich")}
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
            assert not {m for m in imported_modules(path) if m.startswith("scenario_tui.ui")}


def test_help_and_version_do_not_import_heavy_modules() -> None:
    code = ("import sys; from scenario_tui import cli\n"
            "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('textual', 'PIL', 'httpx', 'pydantic') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    commands = [b.strip() for b in re.findall(r"```sh\n(.*?)```", setup, re.S)]
    assert len(commands) == 2
    install, test = commands
    assert install.startswith("python3 -m venv .venv") and install.endswith("scenario-tui")
    assert "[dev]" in test and "pytest" in test
    assert test in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_documents_every_parameter() -> None:
    from scenario_tui.core.params import PARAM_INFO

    readme = (ROOT / "README.md").read_text()
    missing = [n for n in PARAM_INFO if f"| `{n}` |" not in readme]
    assert not missing


def test_config_example_documents_every_setting() -> None:
    from scenario_tui.config import Settings

    example = (ROOT / "config.example.toml").read_text()
    missing = [n for n in Settings.model_fields if not re.search(rf"^(# )?\[?{n}\]?( =|$)", example, re.M)]
    assert not missing
