"""A generation request checked the way the app checks it, its inputs read, and its price."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scenario_tui.core.api import CAPABILITY
from scenario_tui.core.params import (
    DEFAULT_REFERENCE_SCALE,
    PARAM_INFO,
    QUERY_FIELDS,
    InpaintParams,
    Problem,
    check,
    is_data_url,
)
from scenario_tui.sandbox.catalogue import MODELS_BY_ID, CatalogueModel
from scenario_tui.sandbox.replies import Fault, invalid

if TYPE_CHECKING:
    from scenario_tui.sandbox.assets import StoredAsset
    from scenario_tui.sandbox.render import Scene

CU_PER_UNIT = 5  # creative units for one 512 x 512 sample at the default steps
DEFAULT_STEPS: int = PARAM_INFO["numInferenceSteps"].shown_default
DEFAULT_STRENGTH: float = PARAM_INFO["strength"].shown_default
_UNIT = 512 * 512 * DEFAULT_STEPS
_INPUT_FIELDS = frozenset({"image", "imageId", "mask", "maskId", "ipAdapterImages", "ipAdapterImageIds",
                           "ipAdapterImage", "ipAdapterImageId"})


@dataclass(frozen=True)
class Picture:
    """One input image: its encoded bytes (decoded only to paint), size, and the asset it came from (``None`` when
    sent as a data URL)."""

    field: str
    data: bytes
    size: tuple[int, int]
    asset_id: str | None


@dataclass(frozen=True)
class Generation:
    """A valid request, ready to price and run."""

    params: InpaintParams
    image: Picture
    mask: Picture
    references: tuple[Picture, ...]
    scales: tuple[float, ...]

    @property
    def size(self) -> tuple[int, int]:
        """Size of the results: the requested one, else the input's."""
        return self.params.width or self.image.size[0], self.params.height or self.image.size[1]

    @property
    def cost(self) -> int:
        """Creative units: per sample, 5 per 512² at 30 steps, in proportion, rounded up (at least 1)."""
        width, height = self.size
        per_sample = -(-CU_PER_UNIT * width * height * (self.params.numInferenceSteps or DEFAULT_STEPS) // _UNIT)
        return self.params.numSamples * max(1, per_sample)

    def scene(self) -> Scene:
        """What the result images are painted from."""
        from scenario_tui.sandbox.render import Scene

        strength = self.params.strength
        return Scene(image=self.image.data, mask=self.mask.data, references=tuple(p.data for p in self.references),
                     scales=self.scales, size=self.size, prompt=self.params.prompt,
                     strength=DEFAULT_STRENGTH if strength is None else strength)

    def echo(self, image_id: str, mask_id: str, reference_ids: list[str], seed: str) -> dict[str, Any]:
        """The ``inference`` object: the parameters, with every input image as an asset id."""
        kept = {k: v for k, v in self.params.body().items() if k not in _INPUT_FIELDS}
        return {**kept, "type": CAPABILITY, "image": image_id, "imageId": image_id, "mask": mask_id,
                "maskId": mask_id, "ipAdapterImageIds": reference_ids, "seed": seed}


def parse_generation(body: Any, find_asset: Callable[[str], StoredAsset | None]) -> Generation:
    """Check a request body; raise a ``Fault`` (400, or 404 for an unknown model) naming what is wrong."""
    if not isinstance(body, dict):
        raise Fault(400, "The body must be a JSON object")
    misplaced = [Problem(k, "is a query parameter, not a body field") for k in body if k in QUERY_FIELDS]
    if misplaced:
        raise invalid(misplaced)
    model = _model(body.get("modelId"))
    checked = check(body, model)
    if checked.params is None:
        raise invalid(checked.errors)
    params = checked.params
    problems: list[Problem] = []

    def resolve(field: str, values: list[str]) -> list[Picture]:
        pictures = []
        for index, value in enumerate(values):
            where = f"reference {index + 1}: " if field.startswith("ipAdapterImage") else ""
            try:
                pictures.append(_picture(field, value, find_asset))
            except ValueError as exc:
                problems.append(Problem(field, where + str(exc)))
        return pictures

    image = resolve(*_chosen(params, "image", "imageId"))
    mask = resolve(*_chosen(params, "mask", "maskId"))
    references = resolve(*_chosen(params, "ipAdapterImages", "ipAdapterImageIds", "ipAdapterImage", "ipAdapterImageId"))
    if problems:
        raise invalid(problems)
    scales = params.body().get("ipAdapterScales") or [DEFAULT_REFERENCE_SCALE] * len(references)
    return Generation(params, image[0], mask[0], tuple(references), tuple(scales))


def _model(model_id: Any) -> CatalogueModel | None:
    """The requested model when there is one to check against; unknown → 404, not capable → 400."""
    if not isinstance(model_id, str) or not model_id.strip():
        return None  # check() reports it
    model = MODELS_BY_ID.get(model_id.strip())
    if model is None:
        raise Fault(404, f"Model {model_id.strip()} not found")
    if not model.usable:
        raise Fault(400, f"Model {model.name} ({model.id}) does not have the {CAPABILITY} capability")
    return model


def read_data_url(url: str) -> tuple[bytes, tuple[int, int]]:
    """The encoded image a data URL holds and its size; ``ValueError`` (one line) for what the app's decoder refuses.

    The image is fully decoded to check it, then dropped: only the bytes are kept.
    """
    from scenario_tui.core.imaging import decode_data_url

    size = decode_data_url(url).size
    payload = "".join(url.partition(",")[2].split())
    return base64.b64decode(payload + "=" * (-len(payload) % 4)), size


def _chosen(params: InpaintParams, *fields: str) -> tuple[str, list[str]]:
    """The first of ``fields`` that is set (the API's precedence), with its values as a list."""
    values: Mapping[str, Any] = params.model_dump(include=set(fields))
    field = next(f for f in fields if values[f])  # check() ensured one is set
    value = values[field]
    return field, value if isinstance(value, list) else [value]


def _picture(field: str, value: str, find_asset: Callable[[str], StoredAsset | None]) -> Picture:
    """Read a data URL or find an asset; ``ValueError`` with a short reason if neither works."""
    if is_data_url(value):
        return Picture(field, *read_data_url(value), None)
    asset = find_asset(value)
    if asset is None:
        raise ValueError(f"no asset with id {value}")
    return Picture(field, asset.png(), asset.size, asset.id)
