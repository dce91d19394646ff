"""The 33 parameters of ``POST /generate/inpaint-ip-adapter``: the single source of truth.

Every fact about a parameter lives here once: its exact API name (the attribute name), type,
range, documented default, help text, UI group, and the rules that tie fields together. The form,
the CLI flags, the request body and the sandbox's validation are all derived from this module.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol, Union, cast, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError


class Group(StrEnum):
    """Where a parameter is shown in the form, in display order."""

    INPUTS = "Inputs"
    ESSENTIALS = "Essentials"
    REFERENCES = "References"
    SIZE = "Size"
    ADVANCED = "Advanced"
    DEPRECATED = "Deprecated"
    REQUEST = "Request"  # query flags the app sets itself


@dataclass(frozen=True)
class ParamInfo:
    """UI and wire facts that pydantic's ``Field`` has no slot for."""

    group: Group
    label: str
    shown_default: Any = None  # the API's documented default, shown to the user, never sent
    location: Literal["body", "query"] = "body"
    replaced_by: str | None = None  # deprecated: the successor field
    kind: Literal["text", "prompt", "image", "images", "asset", "assets", "scales", "concepts", "seed"] | None = None


Scheduler = Literal[
    "DDIMScheduler",
    "DDPMScheduler",
    "DEISMultistepScheduler",
    "DPMSolverMultistepScheduler",
    "DPMSolverSinglestepScheduler",
    "EulerAncestralDiscreteScheduler",
    "EulerDiscreteScheduler",
    "HeunDiscreteScheduler",
    "KDPM2AncestralDiscreteScheduler",
    "KDPM2DiscreteScheduler",
    "LCMScheduler",
    "LMSDiscreteScheduler",
    "PNDMScheduler",
    "TCDScheduler",
    "UniPCMultistepScheduler",
]
SCHEDULERS: tuple[str, ...] = get_args(Scheduler)
IpAdapterType = Literal["style", "character"]
DEFAULT_REFERENCE_SCALE = 0.9
MAX_SEED = 2**63 - 1

_DATA_URL = re.compile(r"^data:image/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+$", re.IGNORECASE)
_ASSET_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def next_seed(seed: str, samples: int) -> str:
    """The seed of the run after one that started at ``seed`` with ``samples`` images.

    Sample ``i`` of a job uses ``seed + i``, so the next run starts after all of them (wrapping
    past ``MAX_SEED``): no image is paid for twice.
    """
    return str((int(seed) + max(1, samples)) % (MAX_SEED + 1))


def is_data_url(value: str) -> bool:
    return value[:5].lower() == "data:"


def is_asset_id(value: str) -> bool:
    return bool(_ASSET_ID.match(value))


def looks_like_asset_id(value: str) -> bool:
    """Whether a typed value that names no file is taken as an asset id (``asset_...``): anything else is
    a mistyped file name, said as such, never sent as an id."""
    return value.startswith("asset_") and is_asset_id(value)


def _check_image_ref(value: str, *, allow_asset: bool) -> str:
    """An image given as a data URL (or, where allowed, an asset id)."""
    value = value.strip()
    if is_data_url(value):
        if not _DATA_URL.match(value[:200] + ("A" if len(value) > 200 else "")):
            raise PydanticCustomError("image_ref", "not a valid image data URL (data:image/…;base64,…)")
        return value
    if not allow_asset:
        raise PydanticCustomError("image_ref", "must be an image data URL (data:image/…;base64,…)")
    if not is_asset_id(value):
        raise PydanticCustomError("image_ref", "not a valid asset id (letters, digits, _ and - only)")
    return value


def _check_asset_id(value: str) -> str:
    value = value.strip()
    if not is_asset_id(value):
        raise PydanticCustomError("asset_id", "not a valid asset id (letters, digits, _ and - only)")
    return value


class Concept(BaseModel):
    """A LoRA-style add-on model blended into the generation."""

    model_config = ConfigDict(extra="forbid")

    modelId: Annotated[str, Field(min_length=1, description="Id of the concept model.")]
    scale: Annotated[float, Field(ge=-2, le=2, description="How strongly the concept applies; negative pushes away.")]
    modelEpoch: Annotated[str | None, Field(description="Epoch of a trained concept model.")] = None


class ModelLike(Protocol):
    """What the cross-field rules need to know about the chosen model (``api.ModelInfo`` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def compliant_model_ids(self) -> tuple[str, ...]: ...
    @property
    def epochs(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class ModelRules:
    """Limits that depend on the chosen model's ``type`` (from the operation's own docs)."""

    family: str | None = None
    size: tuple[int, int] = (64, 2048)
    guidance: tuple[float, float] = (0, 20)
    guidance_default: float | None = None
    flux: bool = False
    lora: bool = False


def rules_for(model_type: str | None) -> ModelRules:
    t = (model_type or "").lower()
    if t in ("sd-xl", "sd-xl-lora", "sd-xl-composition"):
        return ModelRules("SDXL", size=(512, 2048), guidance_default=6)
    if t.startswith("sd-1_5"):
        return ModelRules("SD 1.5", size=(64, 1024) if t == "sd-1_5" else (64, 2048), guidance_default=7.5)
    if t in ("flux.1-pro", "flux1.1-pro", "flux.1.1-pro-ultra"):
        return ModelRules("Flux pro", guidance=(2, 5), guidance_default=3, flux=True)
    if t.startswith("flux"):
        return ModelRules("Flux dev", guidance=(0, 10), guidance_default=3.5, flux=True, lora=t.endswith("-lora"))
    return ModelRules()


def _p(group: Group, label: str, help: str, **kw: Any) -> tuple[Any, ParamInfo]:
    """Shorthand: help text and bounds go to ``Field``, the rest to ``ParamInfo``."""
    field_kw = {k: kw.pop(k) for k in ("ge", "le", "min_length") if k in kw}
    return Field(description=help, **field_kw), ParamInfo(group, label, **kw)


class InpaintParams(BaseModel):
    """All parameters of one inpaint + IP-Adapter request, validated.

    Attribute names are the exact API names. Unset optional fields are ``None`` and never sent;
    ``numSamples`` is always sent. Validate with ``check()`` to get every problem at once.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # --- Essentials -------------------------------------------------------------------------
    modelId: Annotated[
        str,
        *_p(Group.ESSENTIALS, "Model", "Id of a model with the inpaint + IP-Adapter capability.", min_length=1),
    ]
    prompt: Annotated[
        str,
        *_p(Group.ESSENTIALS, "Prompt", "What to paint inside the mask. Include the model's keyword if it has one.",
            kind="prompt", min_length=1),
    ]
    negativePrompt: Annotated[
        str | None,
        *_p(Group.ESSENTIALS, "Negative prompt", "What to keep out of the result. Has no effect when guidance is below 1.",
            kind="prompt"),
    ] = None
    strength: Annotated[
        float | None,
        *_p(Group.ESSENTIALS, "Strength", "How much the masked area may change: 1 ignores what was there, "
            "low values keep its shapes and colours.", ge=0.01, le=1, shown_default=0.75),
    ] = None
    numSamples: Annotated[
        int,
        *_p(Group.ESSENTIALS, "Samples", "How many images to generate in this job. Cost grows with it.",
            ge=1, le=128, shown_default=4),
    ] = 4
    seed: Annotated[
        str | None,
        *_p(Group.ESSENTIALS, "Seed", "Same seed + same parameters = same images. Empty picks a random one.",
            kind="seed"),
    ] = None

    # --- Inputs -------------------------------------------------------------------------------
    image: Annotated[
        str | None,
        *_p(Group.INPUTS, "Input image", "The picture to edit: a file (uploaded once, then sent by id) or an existing asset id.",
            kind="image"),
    ] = None
    mask: Annotated[
        str | None,
        *_p(Group.INPUTS, "Mask", "Black and white picture of the input's size: white is repainted, black is kept.",
            kind="image"),
    ] = None

    # --- References ---------------------------------------------------------------------------
    ipAdapterType: Annotated[
        IpAdapterType | None,
        *_p(Group.REFERENCES, "Reference type", "style: borrow look and palette. character: keep a character's identity.",
            shown_default="style"),
    ] = None
    ipAdapterImages: Annotated[
        list[str] | None,
        *_p(Group.REFERENCES, "Reference images", "One or more pictures whose style or character guides the result.",
            kind="images"),
    ] = None
    ipAdapterScales: Annotated[
        list[Annotated[float, Field(ge=0, le=1)]] | None,
        *_p(Group.REFERENCES, "Reference scales", "How strongly each reference guides the result (0-1), one per reference.",
            kind="scales", shown_default=DEFAULT_REFERENCE_SCALE),
    ] = None

    # --- Size ---------------------------------------------------------------------------------
    width: Annotated[
        int | None,
        *_p(Group.SIZE, "Width", "Width of the results in pixels, a multiple of 8. With neither size set, both "
            "follow the input image (its aspect, within the model's limits).", ge=64, le=2048, shown_default=512),
    ] = None
    height: Annotated[
        int | None,
        *_p(Group.SIZE, "Height", "Height of the results in pixels, a multiple of 8. With neither size set, both "
            "follow the input image (its aspect, within the model's limits).", ge=64, le=2048, shown_default=512),
    ] = None

    # --- Advanced -----------------------------------------------------------------------------
    numInferenceSteps: Annotated[
        int | None,
        *_p(Group.ADVANCED, "Steps", "Denoising steps: more is slower and usually finer, with diminishing returns.",
            ge=1, le=150, shown_default=30),
    ] = None
    guidance: Annotated[
        float | None,
        *_p(Group.ADVANCED, "Guidance", "How literally to follow the prompt. Sweet spots: SD 1.5 ≈ 7.5, SDXL ≈ 6, "
            "Flux dev ≈ 3.5.", ge=0, le=20),
    ] = None
    scheduler: Annotated[
        Scheduler | None,
        *_p(Group.ADVANCED, "Scheduler", "Sampling algorithm. Empty uses the model's configured one."),
    ] = None
    negativePromptStrength: Annotated[
        float | None,
        *_p(Group.ADVANCED, "Negative prompt strength", "Weight of the negative prompt on Flux dev based models "
            "(0 = no effect).", ge=0, le=10, shown_default=0),
    ] = None
    concepts: Annotated[
        list[Concept] | None,
        *_p(Group.ADVANCED, "Concepts", "LoRA-style add-on models, each with a scale from -2 to 2.", kind="concepts"),
    ] = None
    baseModelId: Annotated[
        str | None,
        *_p(Group.ADVANCED, "Base model id", "Flux LoRA models only: the base model to run on (one of the model's "
            "compliant models)."),
    ] = None
    modelEpoch: Annotated[
        str | None,
        *_p(Group.ADVANCED, "Model epoch", "Trained Flux LoRA models only: which training epoch to use."),
    ] = None
    disableMerging: Annotated[
        bool | None,
        *_p(Group.ADVANCED, "Disable merging", "Let the whole image change: faster, but harder to blend back into a "
            "larger picture.", shown_default=False),
    ] = None
    hideResults: Annotated[
        bool | None,
        *_p(Group.ADVANCED, "Hide results", "Hide the generated assets from asset listings.", shown_default=False),
    ] = None
    intermediateImages: Annotated[
        bool | None,
        *_p(Group.ADVANCED, "Intermediate images", "Also produce the intermediate denoising images.", shown_default=False),
    ] = None
    originalAssets: Annotated[
        bool | None,
        *_p(Group.ADVANCED, "Original assets", "Ask for links to the original files rather than optimised copies.",
            location="query", shown_default=False),
    ] = None

    maskId: Annotated[
        str | None,
        *_p(Group.ADVANCED, "Mask asset id", "A mask already uploaded as an asset. The API ignores it when an input "
            "image is given, so prefer a mask file.", kind="asset"),
    ] = None
    imageParentId: Annotated[
        str | None,
        *_p(Group.ADVANCED, "Parent asset id", "Records which asset the input image came from (when it is sent as a file).",
            kind="asset"),
    ] = None
    imageHide: Annotated[
        bool | None,
        *_p(Group.ADVANCED, "Hide input asset", "Hide the asset created from the uploaded input image.", shown_default=False),
    ] = None
    ipAdapterImageIds: Annotated[
        list[str] | None,
        *_p(Group.ADVANCED, "Reference asset ids", "References already uploaded as assets. Ignored when reference "
            "images are given.", kind="assets"),
    ] = None

    # --- Deprecated (kept for completeness; mapped to their successors when sent) -------------
    imageId: Annotated[
        str | None,
        *_p(Group.DEPRECATED, "Input image asset id", "Deprecated: put the asset id in Input image instead.",
            replaced_by="image", kind="asset"),
    ] = None
    ipAdapterImage: Annotated[
        str | None,
        *_p(Group.DEPRECATED, "Reference image (single)", "Deprecated: use Reference images.",
            replaced_by="ipAdapterImages", kind="image"),
    ] = None
    ipAdapterImageId: Annotated[
        str | None,
        *_p(Group.DEPRECATED, "Reference asset id (single)", "Deprecated: use Reference asset ids.",
            replaced_by="ipAdapterImageIds", kind="asset"),
    ] = None
    ipAdapterScale: Annotated[
        float | None,
        *_p(Group.DEPRECATED, "Reference scale (single)", "Deprecated: use Reference scales.",
            replaced_by="ipAdapterScales", ge=0, le=1, shown_default=DEFAULT_REFERENCE_SCALE),
    ] = None

    # --- Request flags --------------------------------------------------------------------------
    dryRun: Annotated[
        bool | None,
        *_p(Group.REQUEST, "Dry run", "Only quote the cost in creative units; no job is created.", location="query",
            shown_default=False),
    ] = None

    # --- Field rules ----------------------------------------------------------------------------
    @field_validator("width", "height")
    @classmethod
    def _multiple_of_8(cls, v: int | None) -> int | None:
        if v is not None and v % 8:
            lower, upper = v - v % 8, v - v % 8 + 8
            raise PydanticCustomError("multiple_of", "must be a multiple of 8 (try {lower} or {upper})",
                                      {"lower": lower, "upper": upper})
        return v

    @field_validator("seed", mode="before")
    @classmethod
    def _seed(cls, v: Any) -> Any:
        if v is None or v == "":
            return None
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise PydanticCustomError("seed", "must be a whole number")
        text = str(v).strip()
        if not text.isdigit() or int(text) > MAX_SEED:
            raise PydanticCustomError("seed", "must be a whole number from 0 to {max}", {"max": MAX_SEED})
        return str(int(text))

    @field_validator("image", "ipAdapterImage")
    @classmethod
    def _image_or_asset(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return None
        return _check_image_ref(v, allow_asset=info.field_name == "image")

    @field_validator("mask")
    @classmethod
    def _mask_data_url(cls, v: str | None) -> str | None:
        return None if v is None else _check_image_ref(v, allow_asset=False)

    @field_validator("ipAdapterImages")
    @classmethod
    def _ref_data_urls(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [_check_image_ref(x, allow_asset=False) for x in v]

    @field_validator("maskId", "imageId", "ipAdapterImageId", "imageParentId")
    @classmethod
    def _asset(cls, v: str | None) -> str | None:
        return None if v is None else _check_asset_id(v)

    @field_validator("ipAdapterImageIds")
    @classmethod
    def _assets(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [_check_asset_id(x) for x in v]

    @model_validator(mode="after")
    def _cross_field(self, info: ValidationInfo) -> InpaintParams:
        model = (info.context or {}).get("model")
        errors = [p for p in cross_field_problems(self.model_dump(), model) if p.severity == "error"]
        if errors:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [InitErrorDetails(type=PydanticCustomError("cross_field", p.message), loc=(p.field,),
                                  input=getattr(self, p.field)) for p in errors],
            )
        return self

    # --- Wire format ------------------------------------------------------------------------------
    def body(self) -> dict[str, Any]:
        """The exact JSON body: API names, no ``None``, deprecated fields moved to their successors."""
        data = self.model_dump(exclude_none=True, exclude=set(QUERY_FIELDS))
        if "imageId" in data and "image" not in data:
            data["image"] = data.pop("imageId")
        if "ipAdapterImage" in data and not data.get("ipAdapterImages"):
            data["ipAdapterImages"] = [data.pop("ipAdapterImage")]
        if "ipAdapterImageId" in data and not data.get("ipAdapterImageIds"):
            data["ipAdapterImageIds"] = [data.pop("ipAdapterImageId")]
        if "ipAdapterScale" in data and not data.get("ipAdapterScales"):
            data["ipAdapterScales"] = [data.pop("ipAdapterScale")] * max(1, len(_effective_references(data)))
        for name in ("imageId", "ipAdapterImage", "ipAdapterImageId", "ipAdapterScale"):
            if name in data and data.get(PARAM_INFO[name].replaced_by or ""):
                del data[name]  # the successor wins (documented precedence); don't send both
        return data

    def query(self) -> dict[str, str]:
        """Query parameters other than ``dryRun`` (the client adds that when quoting)."""
        return {"originalAssets": str(self.originalAssets).lower()} if self.originalAssets is not None else {}

    def record(self) -> dict[str, Any]:
        """The body for logs and result metadata: data URLs replaced by a short description."""
        def short(v: Any) -> Any:
            if isinstance(v, str) and is_data_url(v):
                return f"<{v[5:v.find(';')]} data URL, {len(v) * 3 // 4 // 1024} KiB>"
            if isinstance(v, list):
                return [short(x) for x in v]
            return v
        return {k: short(v) for k, v in self.body().items()}

    def warnings(self, model: ModelLike | None = None) -> list[Problem]:
        return [p for p in cross_field_problems(self.model_dump(), model) if p.severity == "warning"]


PARAM_INFO: dict[str, ParamInfo] = {
    name: next(m for m in f.metadata if isinstance(m, ParamInfo)) for name, f in InpaintParams.model_fields.items()
}
QUERY_FIELDS: frozenset[str] = frozenset(n for n, i in PARAM_INFO.items() if i.location == "query")


def label(name: str) -> str:
    return PARAM_INFO[name].label if name in PARAM_INFO else name


def help_text(name: str) -> str:
    return InpaintParams.model_fields[name].description or ""


def bounds(name: str) -> tuple[float | None, float | None]:
    """Documented (lo, hi) of a numeric field, or of the items of a numeric list field."""
    metadata = list(InpaintParams.model_fields[name].metadata)
    if name == "ipAdapterScales":
        return 0, 1
    # annotated_types types the bounds as SupportsGe / SupportsLe; this model's are all numbers.
    lo = next((cast(float, m.ge) for m in metadata if isinstance(m, annotated_types.Ge)), None)
    hi = next((cast(float, m.le) for m in metadata if isinstance(m, annotated_types.Le)), None)
    return lo, hi


def base_type(name: str) -> Any:
    """The field's type without ``| None`` (``float``, ``bool``, a ``Literal``, ``list[...]``)."""
    annotation = InpaintParams.model_fields[name].annotation
    args = [a for a in get_args(annotation) if a is not type(None)]
    return args[0] if get_origin(annotation) in (Union, types.UnionType) and len(args) == 1 else annotation


def limits_text(name: str) -> str:
    """Range and documented default in words, e.g. ``0.01–1 · default 0.75`` (empty if neither)."""
    parts = []
    if base_type(name) in (int, float):
        lo, hi = bounds(name)
        parts.append(f"{lo:g}–{hi:g}")
    shown = PARAM_INFO[name].shown_default
    if shown is not None:
        parts.append(f"default {str(shown).lower() if isinstance(shown, bool) else shown}")
    return " · ".join(parts)


def fields_in(group: Group) -> list[str]:
    return [n for n, i in PARAM_INFO.items() if i.group == group]


@dataclass(frozen=True)
class Problem:
    """A message tied to one field; errors block submission, warnings don't."""

    field: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{label(self.field)}: {self.message}"


def _effective_references(data: Mapping[str, Any]) -> list[str]:
    """The references the API will use, by its documented precedence."""
    for name in ("ipAdapterImages", "ipAdapterImageIds"):
        if data.get(name):
            return list(data[name])
    single = data.get("ipAdapterImage") or data.get("ipAdapterImageId")
    return [single] if single else []


def parse_concept(spec: str) -> dict[str, str]:
    """``MODEL_ID:SCALE[:EPOCH]`` (the CLI and form syntax) as a concept dict; values checked later."""
    parts = [p.strip() for p in spec.split(":")]
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"{spec.strip()!r}: expected MODEL_ID:SCALE or MODEL_ID:SCALE:EPOCH")
    return {"modelId": parts[0], "scale": parts[1], **({"modelEpoch": parts[2]} if len(parts) == 3 else {})}


def _number(value: Any) -> float | None:
    """A number from a validated or still-raw value (a form in progress); ``None`` if it isn't one."""
    try:
        return None if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None


def _fmt(x: float) -> str:
    return f"{x:g}"


def cross_field_problems(data: Mapping[str, Any], model: ModelLike | None = None) -> list[Problem]:
    """Rules between fields and against the chosen model. ``data`` may be partial (form in progress)."""
    out: list[Problem] = []
    err = lambda f, m: out.append(Problem(f, m))  # noqa: E731
    warn = lambda f, m: out.append(Problem(f, m, "warning"))  # noqa: E731

    if not data.get("image") and not data.get("imageId"):
        err("image", "an input image is required (a file or an asset id)")
    if not data.get("mask") and not data.get("maskId"):
        err("mask", "a mask is required (a file, or a mask asset id)")
    refs = _effective_references(data)
    if not refs:
        err("ipAdapterImages", "at least one reference image is required")
    if data.get("ipAdapterImage") and data.get("ipAdapterImageId"):
        err("ipAdapterImageId", "can't be set together with the single reference image")
    scales = data.get("ipAdapterScales")
    if scales and refs and len(scales) != len(refs):
        err("ipAdapterScales", f"{len(scales)} scale{'s'[:len(scales) != 1]} for {len(refs)} reference "
            f"image{'s'[:len(refs) != 1]}: give one scale per reference")

    guidance = _number(data.get("guidance"))
    if data.get("negativePrompt") and guidance is not None and guidance < 1:
        warn("negativePrompt", "ignored because guidance is below 1")
    if data.get("maskId") and data.get("image"):
        warn("maskId", "the API ignores a mask asset id when an input image is given: pick the mask file instead")
    if data.get("ipAdapterImages") and data.get("ipAdapterImageIds"):
        warn("ipAdapterImageIds", "ignored because reference images are given")
    for name, info in PARAM_INFO.items():
        if info.replaced_by and data.get(name) is not None:
            successor = info.replaced_by
            if data.get(successor):
                warn(name, f"deprecated and ignored because {label(successor)} is set")
            else:
                warn(name, f"deprecated: sent as {label(successor)}")

    if model is not None:
        rules = rules_for(model.type)
        who = f"{rules.family or model.type} model {model.name or model.id}"
        lo, hi = rules.size
        for name in ("width", "height"):
            v = _number(data.get(name))
            if v is not None and not lo <= v <= hi:
                err(name, f"must be between {lo} and {hi} for the {who}")
        glo, ghi = rules.guidance
        if guidance is not None and not glo <= guidance <= ghi:
            err("guidance", f"must be between {_fmt(glo)} and {_fmt(ghi)} for the {who}")
        if data.get("baseModelId"):
            if not rules.lora:
                err("baseModelId", f"only Flux LoRA models take a base model; the {who} doesn't")
            elif model.compliant_model_ids and data["baseModelId"] not in model.compliant_model_ids:
                err("baseModelId", "must be one of: " + ", ".join(model.compliant_model_ids))
        if data.get("modelEpoch"):
            if not rules.lora:
                err("modelEpoch", f"only trained Flux LoRA models take an epoch; the {who} doesn't")
            elif model.epochs and data["modelEpoch"] not in model.epochs:
                err("modelEpoch", "must be one of: " + ", ".join(model.epochs))
        if rules.flux and data.get("negativePrompt") and not (_number(data.get("negativePromptStrength")) or 0) > 0:
            warn("negativePrompt", "has no effect on Flux models unless negative prompt strength is above 0")
    return out


def _message(error: Mapping[str, Any]) -> tuple[str, str]:
    """Field name and a plain-words message for one pydantic error."""
    loc = error["loc"]
    name = str(loc[0]) if loc else "modelId"
    kind = error["type"]
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        lo, hi = bounds(name) if name in PARAM_INFO and name != "concepts" else (-2, 2)
        msg = f"must be between {_fmt(lo)} and {_fmt(hi)}" if lo is not None and hi is not None else error["msg"]
    elif kind in ("int_parsing", "int_from_float", "int_type"):
        msg = "must be a whole number"
    elif kind in ("float_parsing", "float_type", "finite_number"):
        msg = "must be a number"
    elif kind in ("bool_parsing", "bool_type"):
        msg = "must be true or false"
    elif kind == "literal_error":
        msg = "must be one of: " + error["ctx"]["expected"].replace("'", "")
    elif kind == "missing":
        msg = "is required"
    elif kind == "string_too_short":
        msg = "can't be empty"
    elif kind == "extra_forbidden":
        msg = "is not a parameter of this operation"
    else:
        msg = error["msg"]
    if name in ("ipAdapterScales", "ipAdapterImages", "ipAdapterImageIds") and len(loc) > 1:
        msg = f"reference {int(loc[1]) + 1}: {msg}"
    elif name == "concepts" and len(loc) > 1:
        msg = f"concept {int(loc[1]) + 1}" + (f" {loc[2]}" if len(loc) > 2 else "") + f": {msg}"
    return name, msg


@dataclass(frozen=True)
class Checked:
    """Outcome of ``check``: the params when valid, and every problem found."""

    params: InpaintParams | None
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    def for_field(self, name: str) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.field == name)


def check(values: Mapping[str, Any], model: ModelLike | None = None) -> Checked:
    """Validate raw values (empty strings mean unset) and report every problem, per field.

    Field errors and cross-field errors are both reported even when some fields are invalid,
    so a form can show everything that blocks submission at once.
    """
    data = {k: v for k, v in values.items() if v is not None and v != "" and v != []}
    try:
        params = InpaintParams.model_validate(data, context={"model": model})
    except ValidationError as exc:
        problems = [Problem(*_message(e)) for e in exc.errors(include_url=False) if e["type"] != "cross_field"]
        bad = {p.field for p in problems}
        partial = {k: v for k, v in data.items() if k not in bad}
        problems += [p for p in cross_field_problems(partial, model) if p.field not in bad]
        return Checked(None, tuple(_unique(problems)))
    return Checked(params, tuple(params.warnings(model)))


def _unique(problems: Sequence[Problem]) -> Iterator[Problem]:
    seen: set[tuple[str, str]] = set()
    for p in problems:
        if (p.field, p.message) not in seen:
            seen.add((p.field, p.message))
            yield p
