"""The simulator's built-in models: some can inpaint with IP-Adapter, some can't (clients must filter)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scenario_tui.core.api import CAPABILITY

Rgb = tuple[int, int, int]
CREATED = "2025-06-02T09:30:00.000Z"
OWNER = "sandbox-owner"


@dataclass  # not frozen: ``params.ModelLike`` declares plain (settable) attributes
class CatalogueModel:
    """One model; fits ``params.ModelLike`` so the app's model-dependent rules apply to it."""

    id: str
    name: str
    type: str
    capabilities: tuple[str, ...]
    colors: tuple[Rgb, Rgb]  # of its thumbnail
    privacy: str = "public"
    compliant_model_ids: tuple[str, ...] = ()
    epochs: tuple[str, ...] = ()
    keyword: str | None = None
    description: str = ""

    @property
    def usable(self) -> bool:
        return CAPABILITY in self.capabilities

    @property
    def thumbnail_id(self) -> str:
        return f"{self.id}_thumbnail"

    def to_json(self, thumbnail_url: str) -> dict[str, Any]:
        """The ``model`` object of the API."""
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "capabilities": list(self.capabilities),
            "privacy": self.privacy,
            "status": "trained",
            "source": "scenario",
            "custom": self.privacy == "private",
            "shortDescription": self.description,
            "authorId": OWNER,
            "ownerId": OWNER,
            "collectionIds": [],
            "exampleAssetIds": [],
            "tags": ["sandbox"],
            "trainingImagesNumber": 12 if self.epochs else 0,
            "thumbnail": {"assetId": self.thumbnail_id, "url": thumbnail_url},
            "createdAt": CREATED,
            "updatedAt": CREATED,
        }
        if self.compliant_model_ids:
            data["compliantModelIds"] = list(self.compliant_model_ids)
        if self.epochs:
            data["epochs"] = [{"epoch": epoch} for epoch in self.epochs]
            data["epoch"] = self.epochs[-1]
        if self.keyword:
            data["modelKeyword"] = self.keyword
        return data


_GENERAL = ("txt2img", "img2img", "txt2img_ip_adapter", "img2img_ip_adapter")

_LEGACY = "Legacy type (retired in 2026)"

# Listing order: the first usable model (the app's default in the sandbox) has a 2026 type.
MODELS: tuple[CatalogueModel, ...] = (
    CatalogueModel("model_sandbox-flux-fill", "Flux Fill (sandbox)", "flux.1",
                   (*_GENERAL, "inpaint", CAPABILITY), ((30, 40, 70), (120, 210, 255)),
                   description="Flux dev based: guidance 0-10, 3.5 by default; sides up to 2048 px."),
    CatalogueModel("model_sandbox-flux-pro", "Flux Pro (sandbox)", "flux.1-pro",
                   (*_GENERAL, "inpaint", CAPABILITY), ((70, 20, 20), (255, 200, 120)),
                   description="Flux pro: guidance 2-5, 3 by default."),
    CatalogueModel("model_sandbox-sdxl-painter", "SDXL Painter (sandbox)", "sd-xl",
                   (*_GENERAL, "inpaint", CAPABILITY), ((36, 52, 98), (236, 170, 80)),
                   description=f"{_LEGACY}: Stable Diffusion XL, sides 512-2048 px."),
    CatalogueModel("model_sandbox-flux-dev", "Flux Dev (sandbox)", "flux.1", _GENERAL, ((20, 20, 28), (150, 120, 255)),
                   description="Text to image only: no inpaint + IP-Adapter."),
    CatalogueModel("model_sandbox-sd15-classic", "SD 1.5 Classic (sandbox)", "sd-1_5",
                   ("txt2img", "img2img", "inpaint", CAPABILITY), ((40, 90, 60), (220, 230, 150)),
                   description=f"{_LEGACY}: Stable Diffusion 1.5, up to 1024 px."),
    CatalogueModel("model_sandbox-flux-watercolor", "Watercolor Flux LoRA (sandbox)", "flux.1-lora",
                   ("txt2img", "img2img", "inpaint", CAPABILITY), ((90, 160, 200), (250, 240, 225)),
                   privacy="private", compliant_model_ids=("flux.1-dev", "flux.1-krea-dev"),
                   epochs=("000005", "000010"), keyword="wtrclr", description="A trained Flux LoRA."),
    CatalogueModel("model_sandbox-gpt-image", "GPT Image (sandbox)", "gpt-image-1", ("txt2img", "img2img"),
                   ((60, 60, 60), (200, 200, 200)), description="Prompt editing only: no inpaint + IP-Adapter."),
    CatalogueModel("model_sandbox-pixel-art", "Pixel Art Flux LoRA (sandbox)", "flux.1-lora",
                   ("txt2img", "img2img", CAPABILITY), ((200, 40, 120), (40, 220, 200)),
                   privacy="private", compliant_model_ids=("flux.1-dev",), keyword="pxlart",
                   description="A Flux LoRA without published epochs."),
    CatalogueModel("model_sandbox-flux-kontext", "Flux Kontext (sandbox)", "flux.1-kontext-dev",
                   ("img2img",), ((50, 30, 60), (230, 180, 230)),
                   description="Instruction editing only: no inpaint + IP-Adapter."),
)
MODELS_BY_ID: dict[str, CatalogueModel] = {m.id: m for m in MODELS}
