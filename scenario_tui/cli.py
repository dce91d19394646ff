"""The ``scenario-tui`` command: the TUI by default, plus headless subcommands.

Exit codes: 0 ok, 2 bad input (flags, files, parameters, config), 3 API or auth error,
4 the job failed or was canceled, 130 interrupted.

Heavy modules (pydantic, httpx, Pillow, Textual) are imported inside the commands that need
them, so ``--help`` and ``--version`` answer at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from scenario_tui import __version__

if TYPE_CHECKING:
    from scenario_tui.config import Settings
    from scenario_tui.core.api import ModelInfo, ScenarioClient

OK, BAD_INPUT, API_ERROR, JOB_FAILED, INTERRUPTED = 0, 2, 3, 4, 130
PROTOCOLS = ("auto", "sixel", "kitty", "halfcell", "unicode", "none")
# Parameters with a hand-made flag: files or lists that need more than ``--kebab-name VALUE``.
_SPECIAL = {"image", "mask", "ipAdapterImages", "ipAdapterImageIds", "ipAdapterScales", "concepts", "modelId", "dryRun",
            "ipAdapterImage"}


class UsageError(Exception):
    """Bad input from the command line; the message is shown as is (exit 2)."""


def kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _common(parser: argparse.ArgumentParser, *, nested: bool) -> None:
    """Options valid before or after the subcommand (after it, they only override when given)."""
    d = {"default": argparse.SUPPRESS} if nested else {}
    parser.add_argument("--config", type=Path, metavar="FILE", help="config file (default: platform config dir; "
                        "env SCENARIO_TUI_CONFIG)", **d)
    parser.add_argument("--sandbox", action="store_true", help="use the offline simulator even with credentials", **d)
    parser.add_argument("--output-dir", type=Path, metavar="DIR", help="where results are saved", **d)
    parser.add_argument("--base-url", metavar="URL", help="API base URL (env SCENARIO_BASE_URL)", **d)


def _param_flags(parser: argparse.ArgumentParser) -> None:
    from scenario_tui.core.params import PARAM_INFO, base_type, help_text, limits_text

    files = parser.add_argument_group("inputs")
    files.add_argument("--image", metavar="FILE|ASSET_ID", help="input image file, or an asset id")
    files.add_argument("--mask", metavar="FILE", help="mask file (white = repaint, black = keep)")
    files.add_argument("--ref", action="append", default=[], metavar="FILE|ASSET_ID",
                       help="reference image file or asset id; repeat for several")
    files.add_argument("--ip-adapter-scales", nargs="+", metavar="SCALE", help="one scale (0-1) per reference")
    files.add_argument("--resize-mask", action="store_true", help="resize a mask whose size differs from the image")
    files.add_argument("--ip-adapter-image", metavar="FILE", help="deprecated single reference image file "
                       "(sent as --ref)")
    params = parser.add_argument_group("parameters (API names in kebab-case; see the README)")
    params.add_argument("--model", metavar="ID", help="model id (scenario-tui models lists them)")
    params.add_argument("--concept", action="append", default=[], metavar="MODEL_ID:SCALE[:EPOCH]",
                        help="add a concept (scale -2..2); repeat for several")
    for name in PARAM_INFO:
        if name in _SPECIAL:
            continue
        limits = limits_text(name)
        text = help_text(name) + (f" ({limits})" if limits else "")
        base = base_type(name)
        if typing.get_origin(base) is Literal:
            text += f" One of: {', '.join(typing.get_args(base))}."
        flag = f"--{kebab(name)}"
        if base is bool:
            params.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, help=text.replace("%", "%%"))
        else:
            metavar = {int: "N", float: "X"}.get(base, "ID" if name.endswith(("Id", "Epoch")) else "TEXT")
            if typing.get_origin(base) is Literal:
                metavar = "NAME"
            elif PARAM_INFO[name].kind == "seed":
                metavar = "N"
            params.add_argument(flag, dest=name, metavar=metavar, help=text.replace("%", "%%"))


def build_parser(with_params: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scenario-tui",
        description="Inpaint + IP-Adapter image generation on Scenario.com, from the terminal. "
                    "With no command, opens the interactive app (sandbox when no credentials are set).",
        epilog="Exit codes: 0 ok, 2 bad input, 3 API/auth error, 4 job failed, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"scenario-tui {__version__}")
    _common(parser, nested=False)
    parser.add_argument("--image-protocol", choices=PROTOCOLS, help="terminal graphics for previews (default: auto)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gen = sub.add_parser("generate", help="quote, submit, follow and download one job (headless)",
                         description="Quote, submit, follow and download one inpaint + IP-Adapter job.")
    _common(gen, nested=True)
    gen.add_argument("--json", action="store_true", help="print one JSON result on stdout")
    gen.add_argument("--dry-run", action="store_true", help="only quote the cost (dryRun); submit nothing")
    gen.add_argument("--max-cost", type=float, metavar="CU", help="refuse to submit if the quote is above this")
    if with_params:
        _param_flags(gen)

    models = sub.add_parser("models", help="list models usable for inpaint + IP-Adapter")
    _common(models, nested=True)
    models.add_argument("--json", action="store_true", help="print JSON on stdout")

    resume = sub.add_parser("resume", help="follow a submitted job and download its results")
    _common(resume, nested=True)
    resume.add_argument("job_id", metavar="JOB_ID")
    resume.add_argument("--json", action="store_true", help="print one JSON result on stdout")

    doctor = sub.add_parser("doctor", help="show what this terminal can draw and the image protocol previews use")
    doctor.add_argument("--json", action="store_true", help="print JSON on stdout")

    sb = sub.add_parser("sandbox", help="run the API simulator as a local server on 127.0.0.1")
    sb.add_argument("--port", type=int, default=8787, help="port (default: 8787; 0 picks a free one)")
    sb.add_argument("--job-seconds", type=float, default=6.0, help="how long a job takes (default: 6)")
    sb.add_argument("--fail-rate", type=float, default=0.0, help="fraction of jobs that fail (default: 0)")
    sb.add_argument("--error-rate", type=float, default=0.0, help="fraction of calls answered 503 (default: 0)")
    sb.add_argument("--latency", type=float, default=0.0, help="seconds added to each call (default: 0)")
    sb.add_argument("--not-cancellable", action="store_true", help="jobs refuse to be canceled")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(with_params="generate" in argv).parse_args(argv)
    if args.command == "sandbox":
        return _run_sandbox(args)
    if args.command == "doctor":
        from scenario_tui.ui.terminal import doctor

        return doctor(args.json, args.image_protocol or "auto")
    try:
        settings = _settings(args)
    except UsageError as exc:
        print(f"scenario-tui: {exc}", file=sys.stderr)
        return BAD_INPUT
    if args.command is None:
        from scenario_tui.ui.app import run

        return run(settings)
    print(settings.mode_reason(), file=sys.stderr)
    command = {"generate": _generate, "models": _models, "resume": _resume}[args.command]
    progress = Progress(args)
    try:
        return asyncio.run(command(args, settings, progress))
    except KeyboardInterrupt:
        progress.interrupted(settings)
        return INTERRUPTED


def _settings(args: argparse.Namespace) -> Settings:
    from scenario_tui.config import ConfigError, load_settings

    overrides = {
        "sandbox": True if getattr(args, "sandbox", False) else None,
        "output_dir": getattr(args, "output_dir", None),
        "base_url": getattr(args, "base_url", None),
        "image_protocol": getattr(args, "image_protocol", None),
    }
    try:
        settings, warnings = load_settings(getattr(args, "config", None), **overrides)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return settings


def _run_sandbox(args: argparse.Namespace) -> int:
    from scenario_tui.sandbox import SandboxConfig
    from scenario_tui.sandbox.server import serve

    config = SandboxConfig(job_seconds=args.job_seconds, fail_rate=args.fail_rate, error_rate=args.error_rate,
                           latency=args.latency, cancellable=not args.not_cancellable)
    try:
        serve(args.port, config)
    except KeyboardInterrupt:
        return OK
    except OSError as exc:
        print(f"scenario-tui: can't listen on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return BAD_INPUT
    return OK


class Progress:
    """Human progress on stderr; the JSON result (if asked for) on stdout. Remembers the job for Ctrl-C."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.json = getattr(args, "json", False)
        self.tty = sys.stderr.isatty()
        self.job_id: str | None = None
        self._last = ""  # the updating line on a terminal
        self._status: str | None = None

    def say(self, text: str) -> None:
        self._end_line()
        print(text, file=sys.stderr)

    def job(self, job: Any) -> None:
        """One line per status on a pipe; a single updating line on a terminal."""
        line = f"job {job.id}: {job.raw_status or 'unknown'} {job.progress:.0%}"
        if self.tty:
            sys.stderr.write("\r" + line.ljust(len(self._last)))
            sys.stderr.flush()
            self._last = line
        elif job.raw_status != self._status:
            print(line, file=sys.stderr)
        self._status = job.raw_status

    def _end_line(self) -> None:
        if self.tty and self._last:
            sys.stderr.write("\n")
            self._last = ""

    def result(self, data: dict[str, Any]) -> None:
        self._end_line()
        if self.json:
            print(json.dumps(data, ensure_ascii=False))

    def interrupted(self, settings: Settings) -> None:
        self._end_line()
        if self.job_id is None:
            print("Interrupted before anything was submitted.", file=sys.stderr)
        elif settings.use_sandbox:
            print(f"Interrupted: sandbox job {self.job_id} ends with this process (nothing was charged).",
                  file=sys.stderr)
        else:
            print(f"Interrupted: job {self.job_id} keeps running on Scenario (and is charged). "
                  f"Get its results with: scenario-tui resume {self.job_id}", file=sys.stderr)


async def _guarded(progress: Progress, work: Any) -> int:
    """Map the errors every command can meet onto messages and exit codes."""
    from scenario_tui.core.api import ApiError
    from scenario_tui.core.imaging import ImageProblem

    try:
        return await work
    except (UsageError, ImageProblem, ApiError) as exc:
        code = API_ERROR if isinstance(exc, ApiError) else BAD_INPUT
        progress.say(f"scenario-tui: {exc}")
        progress.result({"error": str(exc), "exitCode": code})
        return code


async def _models(args: argparse.Namespace, settings: Settings, progress: Progress) -> int:
    from scenario_tui.backend import make_client

    async def work() -> int:
        async with make_client(settings) as client:
            models = await _list_models(client)
        if args.json:
            progress.result({"models": [{"id": m.id, "name": m.name, "type": m.type} for m in models]})
        elif not models:
            progress.say(NO_MODELS)
        else:
            width = max(len(m.id) for m in models)
            for m in models:
                print(f"{m.id.ljust(width)}  {m.type:<18}  {m.name}")
        return OK

    return await _guarded(progress, work())


NO_MODELS = ("No models with the inpaint + IP-Adapter capability in this workspace. Scenario retired its "
             "SD 1.5 / SDXL model types in 2026, and those carry it. If you know a model id, pass it with --model.")


async def _list_models(client: ScenarioClient) -> list[ModelInfo]:
    from scenario_tui.core.api import ForbiddenError, GoneError

    try:
        return await client.list_models()
    except ForbiddenError as exc:
        raise type(exc)(f"{exc.message} (your plan or project can't list models)", exc.status) from None
    except GoneError as exc:
        raise type(exc)(f"{exc.message} (these models were retired)", exc.status) from None


async def _model_info(client: ScenarioClient, model_id: str | None, progress: Progress, sandbox: bool
                      ) -> ModelInfo | None:
    """The chosen model's facts for the model-dependent rules; picks one in the sandbox if none given."""
    from scenario_tui.core.api import ApiError, GoneError, NotFoundError

    if not model_id:
        if not sandbox:
            raise UsageError("--model is required (scenario-tui models lists the compatible ones)")
        models = await client.list_models()
        if not models:
            raise UsageError(NO_MODELS)
        progress.say(f"model: {models[0].id} ({models[0].name}), the sandbox's first; choose with --model")
        return models[0]
    try:
        model = await client.get_model(model_id)
    except NotFoundError:
        raise UsageError(f"model {model_id}: not found (scenario-tui models lists the compatible ones)") from None
    except GoneError:
        raise UsageError(f"model {model_id}: retired by Scenario (HTTP 410); pick another") from None
    except ApiError as exc:
        progress.say(f"warning: couldn't read model {model_id} ({exc}); model-specific limits not checked")
        return None
    if not model.usable:
        raise UsageError(f"model {model_id} ({model.type}) can't do inpaint + IP-Adapter; "
                         "scenario-tui models lists the ones that can")
    return model


def _split_refs(values: list[str]) -> tuple[list[Path], list[str]]:
    """Reference arguments as files or asset ids (not both)."""
    files = [Path(v) for v in values if _is_path(v)]
    ids = [v for v in values if not _is_path(v)]
    if files and ids:
        raise UsageError("give references either all as files or all as asset ids, not both")
    return files, ids


def _is_path(value: str) -> bool:
    """An argument names a file unless it looks like a bare asset id and no such file exists."""
    from scenario_tui.core.params import is_asset_id

    return Path(value).exists() or not is_asset_id(value)


def _concepts(values: list[str]) -> list[dict[str, str]]:
    from scenario_tui.core.params import parse_concept

    try:
        return [parse_concept(v) for v in values]
    except ValueError as exc:
        raise UsageError(f"--concept {exc}") from None


async def _build_values(args: argparse.Namespace, settings: Settings, model: ModelInfo | None,
                        progress: Progress) -> dict[str, Any]:
    """Parameter values from config defaults and flags, with the files loaded and encoded."""
    from scenario_tui.core import imaging
    from scenario_tui.core.params import PARAM_INFO, rules_for

    values: dict[str, Any] = dict(settings.defaults)
    values.update({n: getattr(args, n) for n in PARAM_INFO if n not in _SPECIAL and getattr(args, n, None) is not None})
    if model:
        values["modelId"] = model.id
    if args.concept:
        values["concepts"] = _concepts(args.concept)
    if args.ip_adapter_scales:
        values["ipAdapterScales"] = args.ip_adapter_scales
    if args.dry_run:
        values["dryRun"] = True
    if not args.image or not args.mask:
        raise UsageError("--image and --mask are required")
    ref_files, ref_ids = _split_refs(args.ref)
    if not args.ref and not args.ip_adapter_image and not values.get("ipAdapterImageIds"):
        raise UsageError("at least one --ref is required")
    if ref_ids:
        values["ipAdapterImageIds"] = ref_ids

    single = imaging.load_image(args.ip_adapter_image) if args.ip_adapter_image else None
    refs = [imaging.load_image(p) for p in ref_files] + ([single] if single else [])
    image = imaging.load_image(args.image) if _is_path(args.image) else None
    try:
        mask = imaging.load_mask(args.mask, image.size if image else None)
    except imaging.MaskSizeMismatch as exc:
        if not args.resize_mask or exc.mask is None:
            raise imaging.ImageProblem(f"{exc} Pass --resize-mask to do it.", exc.path) from None
        mask = imaging.resize_mask(exc.mask, exc.image_size)
    for loaded in (image, mask, *refs):
        for note in loaded.notes if loaded else ():
            progress.say(f"note: {loaded.path.name if loaded.path else ''}: {note}")
    encoded = imaging.encode_inputs(image, mask, refs)
    if image is None:
        values["image"] = args.image
    else:
        values["image"] = encoded.image
        if "width" not in values and "height" not in values:
            rules = rules_for(model.type if model else None)
            values["width"], values["height"] = imaging.suggest_size(*image.size, *rules.size)
            progress.say(f"size: {values['width']}×{values['height']} (from the input image; set --width/--height)")
    for note in encoded.notes:
        progress.say(f"note: {note}")
    values["mask"] = encoded.mask
    encoded_refs = list(encoded.references)
    if single:
        values["ipAdapterImage"] = encoded_refs.pop()
    if encoded_refs:
        values["ipAdapterImages"] = encoded_refs
    if not values.get("seed"):
        import secrets

        values["seed"] = str(secrets.randbelow(2**32))
        progress.say(f"seed: {values['seed']} (random; set --seed to reproduce)")
    return values


async def _generate(args: argparse.Namespace, settings: Settings, progress: Progress) -> int:
    from scenario_tui.backend import make_client
    from scenario_tui.core.params import check

    async def work() -> int:
        async with make_client(settings) as client:
            model_id = args.model or settings.defaults.get("modelId")
            model = await _model_info(client, model_id, progress, settings.use_sandbox)
            values = await _build_values(args, settings, model, progress)
            checked = check(values, model)
            for problem in checked.problems:
                progress.say(f"{problem.severity}: {problem}")
            if checked.params is None:
                return BAD_INPUT
            params = checked.params
            quote = await client.quote(params)
            discount = f" (discount {quote.discount:g})" if quote.discount else ""
            progress.say(f"cost: {quote.cost:g} creative units{discount}")
            if params.dryRun:
                progress.result({"dryRun": True, "cost": quote.cost, "discount": quote.discount,
                                 "parameters": params.record()})
                return OK
            if args.max_cost is not None and quote.cost > args.max_cost:
                raise UsageError(f"quoted {quote.cost:g} CU, above --max-cost {args.max_cost:g}; nothing submitted")
            return await _submit_and_follow(client, params, settings, progress, model)

    return await _guarded(progress, work())


async def _submit_and_follow(client: ScenarioClient, params: Any, settings: Settings, progress: Progress,
                             model: ModelInfo | None) -> int:
    from scenario_tui.config import data_dir
    from scenario_tui.core.api import ApiError, NetworkError, ServerError
    from scenario_tui.core.jobs import Ledger

    ledger = Ledger(data_dir() / "jobs.jsonl")
    record = {**params.record(), "model": {"id": model.id, "name": model.name, "type": model.type} if model else None}
    local = ledger.intent(mode="sandbox" if settings.use_sandbox else "live", record=record)
    try:
        submission = await client.generate(params)
    except (NetworkError, ServerError) as exc:
        ledger.unsure(local, str(exc))
        progress.say(f"scenario-tui: {exc}\nThe request may still have created a job (and been charged); it was "
                     "not sent again. Check your jobs on app.scenario.com before retrying.")
        return API_ERROR
    except ApiError:
        raise
    job = submission.job
    progress.job_id = job.id
    ledger.submitted(local, job.id, submission.cost)
    progress.say(f"submitted job {job.id}" + (f" ({submission.cost:g} CU)" if submission.cost is not None else ""))
    return await _follow_and_save(client, job.id, params.seed, record, settings, progress, ledger)


async def _follow_and_save(client: ScenarioClient, job_id: str, seed: str | None, record: dict[str, Any],
                           settings: Settings, progress: Progress, ledger: Any) -> int:
    from scenario_tui.core.api import JobState
    from scenario_tui.core.jobs import PollSchedule, follow, save_results

    schedule = PollSchedule(first=settings.poll_interval, maximum=settings.poll_max_interval)
    job = await follow(client, job_id, on_update=progress.job,
                       on_error=lambda e: progress.say(f"warning: {e} (still polling)"), schedule=schedule)
    if job.state is not JobState.SUCCESS:
        reason = " ".join(x for x in (job.error, f"Hint: {job.hint}" if job.hint else None) if x)
        progress.say(f"job {job.id} {job.raw_status}" + (f": {reason}" if reason else ""))
        ledger.finished(job.id, job.raw_status, [])
        progress.result({"jobId": job.id, "status": job.raw_status, "error": job.error, "hint": job.hint,
                         "files": []})
        return JOB_FAILED
    paths = await save_results(client, job, settings.output_dir, seed=seed, record=record,
                               on_saved=lambda p: progress.say(f"saved {p}"))
    ledger.finished(job.id, job.raw_status, paths)
    progress.result({"jobId": job.id, "status": job.raw_status, "seed": seed, "files": [str(p) for p in paths],
                     "metadata": str(settings.output_dir / f"{job.id}.json")})
    return OK


async def _resume(args: argparse.Namespace, settings: Settings, progress: Progress) -> int:
    from scenario_tui.backend import make_client
    from scenario_tui.config import data_dir
    from scenario_tui.core.jobs import Ledger

    ledger = Ledger(data_dir() / "jobs.jsonl")
    local = next((e["local"] for e in ledger.entries() if e.get("jobId") == args.job_id and "local" in e), None)
    record = next((e["parameters"] for e in ledger.entries() if e.get("local") == local and "parameters" in e), {})
    progress.job_id = args.job_id

    async def work() -> int:
        async with make_client(settings) as client:
            return await _follow_and_save(client, args.job_id, record.get("seed"), record, settings, progress,
                                          ledger)

    return await _guarded(progress, work())
