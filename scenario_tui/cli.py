"""The ``scenario-tui`` command: the TUI by default, plus headless subcommands.

Exit codes: 0 ok, 2 bad input (flags, files, parameters, config), 3 API or auth error (or a
submission whose outcome is unknown), 4 the job failed or was canceled, 5 still running after the
follow deadline (``follow_timeout``; the resume command is printed), 130 interrupted.

Every step of a run (model, request, uploads, quote, submit, reconcile, follow, download) is the
engine's (``core/engine.py``); this module parses flags and prints what the engine reports.

Heavy modules (pydantic, httpx, Pillow, Textual) are imported inside the commands that need
them, so ``--help`` and ``--version`` answer at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import signal
import sys
import threading
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from scenario_tui import __version__

if TYPE_CHECKING:
    from scenario_tui.config import Settings
    from scenario_tui.core.api import ModelInfo
    from scenario_tui.core.engine import Draft, Engine, Event
    from scenario_tui.core.store import Run

OK, BAD_INPUT, API_ERROR, JOB_FAILED, STILL_RUNNING, INTERRUPTED = 0, 2, 3, 4, 5, 130
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
    d: dict[str, Any] = {"default": argparse.SUPPRESS} if nested else {}
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
        epilog="Exit codes: 0 ok, 2 bad input, 3 API/auth error, 4 job failed, 5 still running after the "
               "follow deadline (resume later), 130 interrupted.",
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
    gen.add_argument("--max-cost", type=_cost, metavar="CU", help="refuse to submit if the quote is above this")
    gen.add_argument("--context-crop", action=argparse.BooleanOptionalAction, default=None,
                     help="send only the mask's box of the input (plus --crop-padding) and paste the result back "
                          "into the whole image; pixels outside the mask stay exactly as they were. References "
                          "are not cropped (default: context_crop in the config, off)")
    gen.add_argument("--crop-padding", type=_pixels, metavar="PX",
                     help="context kept around the mask's box (default: crop_padding in the config, 32)")
    if with_params:
        _param_flags(gen)

    models = sub.add_parser("models", help="list models usable for inpaint + IP-Adapter")
    _common(models, nested=True)
    models.add_argument("--json", action="store_true", help="print JSON on stdout")

    resume = sub.add_parser("resume", help="follow unfinished runs (or one) and download their results",
                            description="Find, follow and download what earlier runs left unfinished: jobs still "
                                        "running, results not yet saved, and requests whose answer was lost.")
    _common(resume, nested=True)
    resume.add_argument("job_id", nargs="?", metavar="ID", help="a run or job id (default: every unfinished run)")
    resume.add_argument("--json", action="store_true", help="print one JSON result on stdout")

    jobs = sub.add_parser("jobs", help="list past runs (jobs show ID: one run in full)")
    _common(jobs, nested=True)
    jobs.add_argument("--json", action="store_true", help="print JSON on stdout")
    jobs.add_argument("--limit", type=int, default=50, help="how many runs, newest first (default: 50)")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", metavar="show")
    show = jobs_sub.add_parser("show", help="one run: parameters, inputs, status history, results")
    show.add_argument("job_id", metavar="ID", help="a run or job id (a unique prefix will do)")
    show.add_argument("--json", action="store_true", help="print JSON on stdout")

    cancel = sub.add_parser("cancel", help="ask the server to cancel a running job (best effort)")
    _common(cancel, nested=True)
    cancel.add_argument("job_id", metavar="ID", help="a run or job id")
    cancel.add_argument("--json", action="store_true", help="print JSON on stdout")

    doctor = sub.add_parser("doctor", help="show what this terminal can draw and the image protocol previews use")
    doctor.add_argument("--json", action="store_true", help="print JSON on stdout")

    _mask_parser(sub)

    sb = sub.add_parser("sandbox", help="run the API simulator as a local server on 127.0.0.1")
    sb.add_argument("--port", type=_port, default=8787, help="port (default: 8787; 0 picks a free one)")
    sb.add_argument("--job-seconds", type=float, default=6.0, help="how long a job takes (default: 6)")
    sb.add_argument("--fail-rate", type=float, default=0.0, help="fraction of jobs that fail (default: 0)")
    sb.add_argument("--error-rate", type=float, default=0.0, help="fraction of calls answered 503 (default: 0)")
    sb.add_argument("--latency", type=float, default=0.0, help="seconds added to each call (default: 0)")
    sb.add_argument("--not-cancellable", action="store_true", help="jobs refuse to be canceled")
    sb.add_argument("--lose-generate-answers", type=int, default=0, metavar="N",
                    help="the first N generate requests create their job but get no answer (default: 0)")
    sb.add_argument("--generate-answer-delay", type=float, default=0.0, metavar="S",
                    help="seconds between creating a job and answering its generate request (default: 0)")
    return parser


def _cost(text: str) -> float:
    """A cost limit: a finite number of creative units, not negative (``nan`` would disable the guard)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number of CU, 0 or more")
    return value


def _pixels(text: str) -> int:
    """A padding in pixels, 0 to 4096."""
    if not text.strip().isdigit() or int(text) > 4096:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number of pixels, 0 to 4096")
    return int(text)


def _port(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: a port is 0 to 65535")
    return value


def _stop(signum: int, frame: object) -> None:
    """SIGTERM and SIGHUP (a closed SSH session) end a command the way Ctrl-C does."""
    raise KeyboardInterrupt


def _closed_streams_to_devnull() -> None:
    """A closed stdout or stderr (``2>&-``) becomes /dev/null: messages are dropped, not sent to the other
    stream (``print(file=None)`` writes to stdout) and fd 1 or 2 is not reused by the next file opened."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            setattr(sys, name, open(fd, "w", encoding="utf-8", errors="replace", closefd=False))  # noqa: SIM115


def main(argv: list[str] | None = None) -> int:
    _closed_streams_to_devnull()
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(with_params="generate" in argv).parse_args(argv)
    if args.command == "sandbox":
        return _run_sandbox(args)
    if args.command == "mask":
        return _mask(args)
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
    command = {"generate": _generate, "models": _models, "resume": _resume, "jobs": _jobs,
               "cancel": _cancel}[args.command]
    progress = Progress(args)
    if threading.current_thread() is threading.main_thread():  # signals can only be caught there
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _stop)
    code = OK
    try:
        code = asyncio.run(_guarded(progress, command(args, settings, progress)))
        sys.stdout.flush()  # here, not at exit, so a closed pipe is caught below
        return code
    except KeyboardInterrupt:
        progress.interrupted(settings)
        return INTERRUPTED
    except BrokenPipeError:  # the reader of stdout went away (| head): end quietly, with the command's code
        _stdout_to_devnull()
        return code


def _stdout_to_devnull() -> None:
    """After a closed pipe: what is still written to stdout (and its flush at exit) goes nowhere."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


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
                           latency=args.latency, cancellable=not args.not_cancellable,
                           lose_generate_answers=args.lose_generate_answers,
                           generate_answer_delay=args.generate_answer_delay)
    try:
        serve(args.port, config)
    except KeyboardInterrupt:
        return OK
    except OSError as exc:
        print(f"scenario-tui: can't listen on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return BAD_INPUT
    return OK




def _clean(value: object) -> str:
    """Text for the terminal: server strings lose their control characters here."""
    from scenario_tui.core.boundary import printable

    return printable(str(value))


class Progress:
    """Human progress on stderr; the JSON result (if asked for) on stdout. Remembers the run for Ctrl-C."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.json = getattr(args, "json", False)
        self.tty = sys.stderr.isatty()
        self.run: Run | None = None
        self._last = ""  # the updating line on a terminal
        self._status: dict[str, str] = {}

    def say(self, text: str) -> None:
        self._end_line()
        print(_clean(text), file=sys.stderr)

    def attach(self, engine: Engine) -> None:
        engine.subscribe(self.event)

    def event(self, event: Event) -> None:
        from scenario_tui.core.engine import FileSaved, NeedsDecision, Notice, RunChanged

        if isinstance(event, RunChanged):
            self._run_line(event.run)
        elif isinstance(event, FileSaved):
            self.say(f"saved {event.path}")
        elif isinstance(event, Notice):
            self.say(f"{'warning: ' if event.level == 'warning' else ''}{event.message}")
        elif isinstance(event, NeedsDecision):
            self.say(f"run {event.run.job_id or event.run.id}: {event.question}")

    def _run_line(self, run: Run) -> None:
        """One line per status on a pipe; a single updating line on a terminal."""
        if self.run is None or self.run.id == run.id:
            self.run = run
        if run.job_id is None:
            return
        line = _clean(f"job {run.job_id}: {run.raw_status or run.state.value} {run.progress:.0%}")
        if self.tty:
            sys.stderr.write("\r" + line.ljust(len(self._last)))
            sys.stderr.flush()
            self._last = line
        elif self._status.get(run.id) != run.raw_status:
            print(line, file=sys.stderr)
        self._status[run.id] = run.raw_status

    def _end_line(self) -> None:
        if self.tty and self._last:
            sys.stderr.write("\n")
            self._last = ""

    def result(self, data: dict[str, Any]) -> None:
        self._end_line()
        if self.json:
            try:
                print(_json_line(data), flush=True)
            except BrokenPipeError:  # the reader went away (| head): the command still ends with its own code
                _stdout_to_devnull()

    def interrupted(self, settings: Settings) -> None:
        self._end_line()
        run = self.run
        if run is None:
            print("Interrupted before anything was submitted.", file=sys.stderr)
        elif settings.use_sandbox:
            print(_clean(f"Interrupted: sandbox job {run.job_id or run.id} ends with this process "
                         "(nothing was charged)."), file=sys.stderr)
        elif run.job_id is None:
            print(_clean(f"Interrupted while submitting: a job may have been created (and charged). "
                         f"scenario-tui resume {run.id} finds it; the request is not sent again."), file=sys.stderr)
        else:
            print(_clean(f"Interrupted: job {run.job_id} keeps running on Scenario (and is charged). "
                         f"Get its results with: scenario-tui resume {run.job_id}"), file=sys.stderr)


_RAW_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _json_line(data: dict[str, Any]) -> str:
    """One line of JSON with no control character raw: json escapes C0 controls itself, not DEL, the C1
    controls (0x9b is a terminal's CSI) or the bidi overrides that server text may carry."""
    text = json.dumps(data, ensure_ascii=False)
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


async def _guarded(progress: Progress, work: Any) -> int:
    """Map the errors every command can meet onto messages and exit codes."""
    from scenario_tui.core.api import ApiError
    from scenario_tui.core.engine import ModelProblem, RequestProblem
    from scenario_tui.core.imaging import ImageProblem
    from scenario_tui.core.store import StoreError

    try:
        return int(await work)
    except RequestProblem as exc:
        for problem in exc.problems:
            progress.say(f"{problem.severity}: {problem}")
        progress.result({"error": str(exc), "exitCode": BAD_INPUT})
        return BAD_INPUT
    except BrokenPipeError:  # stdout's reader went away: not bad input (main ends quietly)
        raise
    except (UsageError, ImageProblem, ModelProblem, ApiError, OSError, StoreError) as exc:
        code = API_ERROR if isinstance(exc, ApiError) else BAD_INPUT
        message = str(exc)
        data: dict[str, Any] = {"error": message, "exitCode": code}
        run = progress.run
        if run is not None:  # after submitting, every message names the run and how to take it up again
            message += f" (run {run.job_id or run.id}: scenario-tui resume {run.job_id or run.id})"
            data.update(jobId=run.job_id, runId=run.id, resume=f"scenario-tui resume {run.job_id or run.id}")
        progress.say(f"scenario-tui: {message}")
        progress.result(data)
        return code


def _engine(settings: Settings, progress: Progress) -> Engine:
    from scenario_tui.backend import make_engine

    engine = make_engine(settings)
    progress.attach(engine)
    return engine


async def _models(args: argparse.Namespace, settings: Settings, progress: Progress) -> int:
    from scenario_tui.backend import make_client

    async with make_client(settings) as client:
        models = await _list_models(client.list_models())
    if args.json:
        progress.result({"models": [{"id": m.id, "name": m.name, "type": m.type} for m in models]})
    elif not models:
        from scenario_tui.core.engine import NO_MODELS

        progress.say(NO_MODELS.replace("type it", "pass it with --model"))
    else:
        width = max(len(m.id) for m in models)
        for m in models:
            print(_clean(f"{m.id.ljust(width)}  {m.type:<18}  {m.name}"))
    return OK


async def _list_models(listing: Any) -> list[ModelInfo]:
    from scenario_tui.core.api import ForbiddenError, GoneError

    try:
        return list(await listing)
    except ForbiddenError as exc:
        raise type(exc)(f"{exc.message} (your plan or project can't list models)", exc.status) from None
    except GoneError as exc:
        raise type(exc)(f"{exc.message} (these models were retired)", exc.status) from None


async def _model(engine: Engine, model_id: str | None, progress: Progress, sandbox: bool) -> ModelInfo | None:
    """The chosen model's facts for the model-dependent rules; the sandbox's first when none is given."""
    from scenario_tui.core.api import ApiError
    from scenario_tui.core.engine import ModelProblem

    if not model_id:
        if not sandbox:
            raise UsageError("--model is required (scenario-tui models lists the compatible ones)")
        model = await engine.first_model()
        progress.say(f"model: {model.id} ({model.name}), the sandbox's first; choose with --model")
        return model
    try:
        return await engine.resolve_model(model_id)
    except ModelProblem as exc:
        raise UsageError(f"model {model_id}: {exc} (scenario-tui models lists the compatible ones)") from None
    except ApiError as exc:
        progress.say(f"warning: couldn't read model {model_id} ({exc}); model-specific limits not checked")
        return None


def _split_refs(values: list[str]) -> tuple[list[Path], list[str]]:
    """Reference arguments as files or asset ids (not both)."""
    files = [Path(v) for v in values if _is_path(v)]
    ids = [v for v in values if not _is_path(v)]
    if files and ids:
        raise UsageError("give references either all as files or all as asset ids, not both")
    return files, ids


def _is_path(value: str) -> bool:
    """An argument names a file unless no such file exists and it looks like an asset id (``asset_...``)."""
    from scenario_tui.core.params import looks_like_asset_id

    return Path(value).exists() or not looks_like_asset_id(value)


def _concepts(values: list[str]) -> list[dict[str, str]]:
    from scenario_tui.core.params import parse_concept

    try:
        return [parse_concept(v) for v in values]
    except ValueError as exc:
        raise UsageError(f"--concept {exc}") from None


def _draft(args: argparse.Namespace, settings: Settings, progress: Progress) -> Draft:
    """Parameter values from config defaults and flags, with the files loaded."""
    from scenario_tui.core import imaging
    from scenario_tui.core.engine import Draft
    from scenario_tui.core.params import PARAM_INFO

    values: dict[str, Any] = dict(settings.defaults)
    values.update({n: getattr(args, n) for n in PARAM_INFO if n not in _SPECIAL and getattr(args, n, None) is not None})
    if args.concept:
        values["concepts"] = _concepts(args.concept)
    if args.ip_adapter_scales:
        values["ipAdapterScales"] = args.ip_adapter_scales
    if args.model:  # also when the model couldn't be read: the request still names it
        values["modelId"] = args.model
    if not args.image or not args.mask:
        raise UsageError("--image and --mask are required")
    ref_files, ref_ids = _split_refs(args.ref)
    if not args.ref and not args.ip_adapter_image and not values.get("ipAdapterImageIds"):
        raise UsageError("at least one --ref is required")
    if ref_ids:
        values["ipAdapterImageIds"] = ref_ids
    refs = [imaging.load_image(p) for p in ref_files]
    if args.ip_adapter_image:
        refs.append(imaging.load_image(args.ip_adapter_image))
    image = imaging.load_image(args.image) if _is_path(args.image) else None
    if image is None:
        values["image"] = args.image
    try:
        mask = imaging.load_mask(args.mask, image.size if image else None)
    except imaging.MaskSizeMismatch as exc:
        if not args.resize_mask or exc.mask is None:
            raise imaging.ImageProblem(f"{exc} Pass --resize-mask to do it.", exc.path) from None
        mask = imaging.resize_mask(exc.mask, exc.image_size)
    for loaded in (image, mask, *refs):
        for note in loaded.notes if loaded else ():
            progress.say(f"note: {loaded.path.name if loaded and loaded.path else ''}: {note}")
    crop = settings.context_crop if args.context_crop is None else args.context_crop
    padding = settings.crop_padding if args.crop_padding is None else args.crop_padding
    return Draft(values, image=image, mask=mask, references=tuple(refs), context_crop=padding if crop else None)


async def _generate(args: argparse.Namespace, settings: Settings, progress: Progress) -> int:
    engine = _engine(settings, progress)
    async with engine.client:
        model = await _model(engine, args.model or settings.defaults.get("modelId"), progress, settings.use_sandbox)
        request = await engine.prepare(_draft(args, settings, progress), model)
        for line in request.settled:
            progress.say(line)
        for note in request.notes:
            progress.say(f"note: {note}")
        for problem in request.warnings:
            progress.say(f"{problem.severity}: {problem}")
        quote = await engine.quote(request)
        discount = f" (discount {quote.discount:g})" if quote.discount else ""
        progress.say(f"cost: {quote.cost:g} creative units{discount}")
        if args.dry_run:
            progress.result({"dryRun": True, "cost": quote.cost, "discount": quote.discount,
                             "parameters": request.params.record()})
            return OK
        if args.max_cost is not None and quote.cost > args.max_cost:
            raise UsageError(f"quoted {quote.cost:g} CU, above --max-cost {args.max_cost:g}; nothing submitted")
        run = await engine.submit(request, quote)
        progress.run = run
        code = _submitted(run, progress)
        if code is not None:
            return code
        return _outcome(await engine.follow(run.id), progress)


def _submitted(run: Run, progress: Progress) -> int | None:
    """What the submission came to: None when there is a job to follow, else the exit code."""
    from scenario_tui.core.store import RunState

    if run.state is RunState.REFUSED:
        progress.say(f"scenario-tui: not submitted: {run.error}")
        progress.result({"error": run.error, "runId": run.id, "state": run.state.value, "exitCode": API_ERROR})
        return API_ERROR
    if run.state is RunState.UNSURE:
        progress.say(f"scenario-tui: {run.error}. Check your jobs on app.scenario.com; "
                     f"scenario-tui resume {run.id} looks for it again.")
        progress.result({"error": run.error, "runId": run.id, "state": run.state.value,
                         "resume": f"scenario-tui resume {run.id}", "exitCode": API_ERROR})
        return API_ERROR
    progress.say(f"submitted job {run.job_id}" + (f" ({run.cost:g} CU)" if run.cost is not None else ""))
    return None


def _summary(run: Run) -> dict[str, Any]:
    from scenario_tui.core.boundary import safe_name

    data: dict[str, Any] = {
        "runId": run.id, "jobId": run.job_id, "state": run.state.value, "status": run.raw_status,
        "created": run.created, "prompt": run.prompt, "seed": run.seed, "model": run.model, "quote": run.quote,
        "cost": run.cost, "files": [str(p) for p in run.files], "error": run.error, "hint": run.hint,
        "note": run.note,
    }
    if run.job_id and run.files:
        data["metadata"] = str(run.files[0].with_name(f"{safe_name(run.job_id)}.json"))
    return data


def _outcome(run: Run, progress: Progress) -> int:
    """Say how a followed run ended; its exit code."""
    from scenario_tui.core import engine
    from scenario_tui.core.store import RunState

    summary = _summary(run)
    if run.state is RunState.SUCCESS and not run.missing_results:
        progress.result(summary)
        return OK
    if run.state in (RunState.FAILURE, RunState.CANCELED):
        reason = " ".join(x for x in (run.error, f"Hint: {run.hint}" if run.hint else None) if x)
        progress.say(f"job {run.job_id} {run.raw_status or run.state.value}" + (f": {reason}" if reason else ""))
        progress.result(summary)
        return JOB_FAILED
    resume = f"scenario-tui resume {run.job_id or run.id}"
    if run.state is RunState.RUNNING and run.note == engine.STILL_RUNNING:
        progress.say(f"job {run.job_id}: {run.note} (past follow_timeout); get its results with: {resume}")
        progress.result({**summary, "resume": resume, "exitCode": STILL_RUNNING})
        return STILL_RUNNING
    what = run.note or run.error or run.state.value
    progress.say(f"run {run.job_id or run.id}: {what}. Try again with: scenario-tui resume {run.job_id or run.id}")
    progress.result({**summary, "resume": f"scenario-tui resume {run.job_id or run.id}", "exitCode": API_ERROR})
    return API_ERROR


def _find(engine: Engine, key: str) -> Run:
    run = engine.store.get(key)
    if run is None:
        raise UsageError(f"no run or job {key} in {engine.store.path} (scenario-tui jobs lists them)")
    return run


async def _resume(args: argparse.Namespace, settings: Settings, progress: Progress) -> int:
    engine = _engine(settings, progress)
    async with engine.client:
        if args.job_id:
            run = engine.store.get(args.job_id) or await engine.adopt(args.job_id)
            progress.run = run
            runs = await engine.resume([run])
        else:
            runs = await engine.resume()
            if not runs:
                progress.say("Nothing to resume: every run has ended and its results are saved.")
                progress.result({"runs": []})
                return OK
    quiet = Progress(argparse.Namespace(json=False))
    codes = [_outcome(run, quiet) for run in runs]
    for run in runs:
        progress.say(f"run {run.job_id or run.id}: {run.state.value}" + (f", {len(run.files)} file(s)"
                                                                          if run.files else ""))
    if len(runs) == 1 and args.job_id:
        progress.result(_summary(runs[0]))
    else:
        progress.result({"runs": [_summary(run) for run in runs]})
    return worst(codes)


def worst(codes: list[int]) -> int:
    """The exit code of several runs: a failure or an error before "still running" (5 is only the
    highest number), else 5 if any run is still running, else OK."""
    failed = [c for c in codes if c not in (OK, STILL_RUNNING)]
    return max(failed) if failed else STILL_RUNNING if STILL_RUNNING in codes else OK


async def _jobs(args: argparse.Namespace, settings: Settings, progress: Progress) -> int:
    from scenario_tui.backend import open_store

    store = open_store(settings)
    if getattr(args, "jobs_command", None) == "show":
        run = store.get(args.job_id)
        if run is None:
            raise UsageError(f"no run or job {args.job_id} (scenario-tui jobs lists them)")
        history = store.history(run.id)
        if args.json:
            progress.result({**_summary(run), "parameters": run.params, "inputs": run.inputs,
                             "history": [{"time": t, "state": s, "status": st, "detail": d}
                                         for t, s, st, d in history]})
            return OK
        for key, value in _summary(run).items():
            if value not in (None, "", []):
                print(_clean(f"{key}: {value}"))
        print("parameters:")
        for key, value in run.params.items():
            print(_clean(f"  {key}: {value}"))
        for entry in run.inputs:
            print(_clean(f"input {entry.get('field')}: {entry.get('path')} (sha256 {entry.get('sha256')})"))
        print("history:")
        for when, state, status, detail in history:
            print(_clean(f"  {_when(when)}  {state:<13} {status}" + (f"  {detail}" if detail else "")))
        return OK
    runs = store.runs(limit=max(1, args.limit))
    if args.json:
        progress.result({"runs": [_summary(run) for run in runs]})
        return OK
    if not runs:
        progress.say("No runs yet.")
    for run in runs:
        cost = f"{run.cost:g} CU" if run.cost is not None else "-"
        prompt = " ".join(run.prompt.split())
        print(_clean(f"{_when(run.created)}  {run.state.value:<13}  {cost:>7}  {run.job_id or run.id:<28}  "
                     f"{len(run.files)} file(s)  {prompt[:40]}"))
    return OK


def _when(t: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


async def _cancel(args: argparse.Namespace, settings: Settings, progress: Progress) -> int:
    engine = _engine(settings, progress)
    async with engine.client:
        run = _find(engine, args.job_id)
        try:
            outcome = await engine.cancel(run.id)
        except ValueError as exc:
            raise UsageError(f"run {run.id}: {exc}") from None
    progress.say(f"job {run.job_id}: {outcome.message}" + ("" if outcome.accepted else " (it keeps running)"))
    progress.result({"jobId": run.job_id, "accepted": outcome.accepted, "message": outcome.message})
    return OK if outcome.accepted else API_ERROR


# --------------------------------------------------------------------------- mask


class _MaskStep(argparse.Action):
    """Appends (step name, value text) to ``args.steps``, so steps run in the order they were given."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        from scenario_tui.core import masks

        name = self.dest.replace("_", "-")
        try:
            step = masks.parse_step(name, values)  # type: ignore[arg-type]  # dest is one of masks.STEPS
        except masks.MaskError as exc:
            raise argparse.ArgumentError(self, str(exc)) from None
        namespace.steps = [*(getattr(namespace, "steps", None) or []), step]


def _mask_parser(sub: Any) -> None:
    mask = sub.add_parser(
        "mask", help="make or reshape a mask file from the keyboard (no painting)",
        description="Write a mask (white = repaint) made of shapes, grid cells and edits, applied in the order "
                    "given. Values are pixels or percentages of the image (10%%: x and width of its width, y and "
                    "height of its height).",
        epilog="Example: scenario-tui mask m.png --like room.png --rect 10%%,50%%,30%%,40%% --grow 12 --feather 6")
    mask.add_argument("out", type=Path, metavar="OUT.png", help="the mask file to write (replaced atomically)")
    start = mask.add_argument_group("start from (one of --size / --like, or --from alone)")
    start.add_argument("--size", metavar="WxH", help="an empty mask of this size, e.g. 1024x768")
    start.add_argument("--like", type=Path, metavar="IMAGE", help="an empty mask the size of this image")
    start.add_argument("--from", dest="start", type=Path, metavar="MASK", help="start from this mask file")
    steps = mask.add_argument_group("steps (repeatable; run in the order given)")
    box = "X,Y,W,H"
    for flag, metavar, text in (
            ("--rect", box, "add a rectangle"), ("--ellipse", box, "add the ellipse inscribed in this box"),
            ("--subtract-rect", box, "remove a rectangle"), ("--subtract-ellipse", box, "remove an ellipse"),
            ("--grid", "COLSxROWS", "lay a grid over the image for the --cells after it"),
            ("--cells", "N,N,...", "add grid cells, numbered from 0 row by row"),
            ("--subtract-cells", "N,N,...", "remove grid cells"),
            ("--grow", "PX", "grow the area by PX pixels on every side"),
            ("--shrink", "PX", "shrink the area by PX pixels on every side"),
            ("--feather", "PX", "soften the edge (a ramp about 2×PX wide)"),
            ("--threshold", "N", "make a soft mask black and white again (grey from N up is white)")):
        steps.add_argument(flag, action=_MaskStep, metavar=metavar, help=text)
    steps.add_argument("--invert", action=_MaskStep, nargs=0, help="swap repaint and keep")
    steps.add_argument("--fill-holes", action=_MaskStep, nargs=0, help="fill black areas enclosed by white")
    mask.add_argument("--json", action="store_true", help='print {"coverage": %%, "bbox": [x, y, w, h]} on stdout')


def _mask(args: argparse.Namespace) -> int:
    """Build the mask the flags describe and write it; exit 2 naming the option on a bad value."""
    from scenario_tui.core import imaging, masks

    def fail(message: str) -> int:
        print(f"scenario-tui mask: {message}", file=sys.stderr)
        return BAD_INPUT

    try:
        size = masks.parse_size(args.size, imaging.MAX_PIXELS) if args.size else None
    except masks.MaskError as exc:
        return fail(f"--size: {exc}")
    if args.size and args.like:
        return fail("give --size or --like, not both")
    try:
        if args.like:
            size = imaging.load_image(args.like).size
    except imaging.ImageProblem as exc:
        return fail(f"--like: {exc}")
    try:
        start = imaging.read_mask(args.start) if args.start else None
    except imaging.ImageProblem as exc:
        return fail(f"--from: {exc}")
    if start is not None:
        for note in start.notes:
            print(_clean(f"note: {args.start.name}: {note}"), file=sys.stderr)
        if size is not None and start.image.size != size:
            (mw, mh), (w, h) = start.image.size, size
            return fail(f"--from: the mask is {mw}×{mh} but the size asked for is {w}×{h}")
        mask = start.image
    elif size is not None:
        mask = masks.blank(size)
    else:
        return fail("give --size WxH, --like IMAGE or --from MASK")
    try:
        mask = masks.apply(mask, getattr(args, "steps", None) or [])
        masks.save(mask, args.out)
    except masks.MaskError as exc:
        return fail(str(exc))
    coverage, box = masks.coverage(mask), masks.bbox(mask)
    if coverage == 0:
        print("warning: the mask is empty: nothing would be repainted", file=sys.stderr)
    if args.json:
        print(json.dumps({"coverage": round(coverage, 3), "bbox": list(box) if box else None,
                          "size": list(mask.size), "path": str(args.out)}))
    else:
        where = f", bbox x={box[0]} y={box[1]} {box[2]}×{box[3]}" if box else ""
        print(_clean(f"wrote {args.out}: {mask.width}×{mask.height}, {coverage:.1f} % to repaint{where}"))
    return OK
