"""The suite's own checks catch what they count: a command that misbehaves on purpose is flagged.

These runs are not added to the summary's tally.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

import httpx
import pytest

from scenario_tui import cli
from tests.faults.fakeapi import BASE, KEY, TOKEN, FakeAPI
from tests.faults.harness import Harness


def _post_generate(api: FakeAPI, times: int) -> None:
    async def send() -> None:
        async with httpx.AsyncClient(transport=api.transport) as client:
            for _ in range(times):
                await client.post(f"{BASE}/generate/inpaint-ip-adapter", json={"prompt": "p"},
                                  headers={"Authorization": f"Basic {TOKEN}"})

    asyncio.run(send())


def _misbehaving(world: Harness, api: FakeAPI) -> dict[str, Callable[[list[str]], int]]:
    def escape(argv: list[str]) -> int:
        print("done\x1b]52;c;SGVsbG8=\x07", file=sys.stderr)
        return 0

    def leak(argv: list[str]) -> int:
        world.out.mkdir(parents=True)
        (world.out / "note.txt").write_text(f"key {KEY}")
        return 0

    def outside(argv: list[str]) -> int:
        (world.tmp / "stray.png").write_bytes(b"x")
        return 0

    def duplicate(argv: list[str]) -> int:
        _post_generate(api, 2)
        return 0

    def lose(argv: list[str]) -> int:
        _post_generate(api, 1)  # a paid job, then nothing saved, nothing said
        return 0

    def crash(argv: list[str]) -> int:
        raise RuntimeError("boom")

    def odd_code(argv: list[str]) -> int:
        return 1

    def partial(argv: list[str]) -> int:
        world.out.mkdir(parents=True)
        (world.out / ".job_1_01.png.incoming").write_bytes(b"x")
        return 0

    return {"escapes": escape, "leaks": leak, "outside": outside, "duplicates": duplicate, "lost": lose,
            "crashes": crash, "crashes:code": odd_code, "partial files": partial}


@pytest.mark.parametrize("problem", ["escapes", "leaks", "outside", "duplicates", "lost", "crashes", "crashes:code",
                                     "partial files"])
def test_each_check_flags_its_problem(world: Harness, monkeypatch: pytest.MonkeyPatch, problem: str) -> None:
    api = FakeAPI()
    monkeypatch.setattr(cli, "main", _misbehaving(world, api)[problem])
    outcome = world.run(api, ["models"])
    expected = {"duplicates": ["duplicates", "lost"]}.get(problem, [problem.split(":")[0]])  # two jobs, none saved
    assert list(outcome.problems) == expected


def test_a_well_behaved_command_has_no_problem(world: Harness) -> None:
    api = FakeAPI()
    outcome = world.run(api, world.generate())
    assert outcome.code == 0 and outcome.problems == {} and api.generate_posts == 1
