"""The parameter model against the vendored API contract, and every rule it enforces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from scenario_tui.core import params as P
from tests.conftest import CONTRACT, contract_validator

REQUEST = CONTRACT["definitions"]["PostInpaintIpAdapterInferencesRequest"]
QUERY = {p["name"] for p in CONTRACT["paths"]["/generate/inpaint-ip-adapter"]["post"]["parameters"] if p["in"] == "query"}
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVQYV2NgYAAAAAMAAWgmWQ0AAAAASUVORK5CYII="
BASE = {"modelId": "model_x", "prompt": "a red door", "image": PNG, "mask": PNG, "ipAdapterImages": [PNG]}
VALIDATE_BODY = contract_validator("PostInpaintIpAdapterInferencesRequest").validate


@dataclass(frozen=True)
class Model:
    id: str = "model_x"
    name: str = "Test model"
    type: str = "sd-xl"
    compliant_model_ids: tuple[str, ...] = ()
    epochs: tuple[str, ...] = ()


def ok(values: dict[str, Any], model: Model | None = None) -> P.InpaintParams:
    checked = P.check({**BASE, **values}, model)
    assert checked.params is not None, checked.problems
    return checked.params


def errors(values: dict[str, Any], model: Model | None = None, base: dict[str, Any] = BASE) -> dict[str, str]:
    checked = P.check({**base, **values}, model)
    assert checked.params is None
    return {p.field: p.message for p in checked.errors}


# --- the model covers the contract exactly ---------------------------------------------------

def test_exactly_the_33_documented_parameters() -> None:
    assert len(P.PARAM_INFO) == 33
    assert set(P.PARAM_INFO) - P.QUERY_FIELDS == set(REQUEST["properties"])
    assert P.QUERY_FIELDS == QUERY


def test_required_fields_match_contract() -> None:
    required = {n for n, f in P.InpaintParams.model_fields.items() if f.is_required()}
    assert required == set(REQUEST["required"])


@pytest.mark.parametrize("name", sorted(n for n, s in REQUEST["properties"].items() if "minimum" in s))
def test_ranges_match_contract(name: str) -> None:
    spec = REQUEST["properties"][name]
    assert P.bounds(name) == (spec["minimum"], spec["maximum"])


def test_enums_match_contract() -> None:
    assert set(P.SCHEDULERS) == set(REQUEST["properties"]["scheduler"]["enum"])
    assert len(P.SCHEDULERS) == 15
    field = P.InpaintParams.model_fields["ipAdapterType"]
    assert "style" in str(field.annotation) and "character" in str(field.annotation)


def test_every_parameter_has_label_help_and_group() -> None:
    for name, info in P.PARAM_INFO.items():
        assert info.label and P.help_text(name), name
        if info.replaced_by:
            assert info.group is P.Group.DEPRECATED and info.replaced_by in P.PARAM_INFO
            assert "Deprecated" in P.help_text(name)
        lo, hi = P.bounds(name) if name != "concepts" else (None, None)
        if isinstance(info.shown_default, (int, float)) and not isinstance(info.shown_default, bool):
            assert lo <= info.shown_default <= hi, name
    assert {n for n, i in P.PARAM_INFO.items() if i.replaced_by} == {
        "imageId", "ipAdapterImage", "ipAdapterImageId", "ipAdapterScale"}


# --- serialisation ------------------------------------------------------------------------------

FULL = {
    **BASE,
    "negativePrompt": "blur", "strength": 0.5, "numSamples": 2, "seed": 42,
    "maskId": "asset_mask", "imageParentId": "asset_parent", "imageHide": True,
    "ipAdapterType": "character", "ipAdapterImages": [PNG, PNG], "ipAdapterImageIds": ["asset_a"],
    "ipAdapterScales": [0.9, 0.4], "width": 768, "height": 1024, "numInferenceSteps": 28, "guidance": 7.5,
    "scheduler": "EulerDiscreteScheduler", "negativePromptStrength": 2, "baseModelId": "flux_base",
    "modelEpoch": "3", "disableMerging": True, "hideResults": False, "intermediateImages": True,
    "concepts": [{"modelId": "lora_a", "scale": -1.5}, {"modelId": "lora_b", "scale": 2, "modelEpoch": "1"}],
    "originalAssets": True,
}


@pytest.mark.parametrize("values", [
    {},
    FULL,
    {"image": "asset_abc", "mask": None, "maskId": "asset_m", "ipAdapterImages": None, "ipAdapterImageIds": ["a", "b"]},
    {"imageId": "asset_old", "image": None},
    {"ipAdapterImages": None, "ipAdapterImage": PNG, "ipAdapterScale": 0.3},
    {"ipAdapterImages": None, "ipAdapterImageId": "asset_r"},
    {"width": "512", "height": "64.0", "numSamples": "128", "numInferenceSteps": 150.0, "seed": "007"},
], ids=["minimal", "full", "asset-ids", "deprecated-image", "deprecated-ref", "deprecated-ref-id", "strings"])
def test_bodies_validate_against_contract(values: dict[str, Any]) -> None:
    body = ok(values).body()
    VALIDATE_BODY(body)
    assert None not in body.values()
    assert isinstance(body["numSamples"], int)
    for count in ("numSamples", "numInferenceSteps", "width", "height"):
        assert count not in body or type(body[count]) is int
    assert "seed" not in body or isinstance(body["seed"], str)
    assert not P.QUERY_FIELDS & set(body)


def test_unchosen_defaults_are_not_sent_but_num_samples_always_is() -> None:
    body = ok({}).body()
    assert body == {**BASE, "numSamples": 4}


def test_seed_int_becomes_string_and_leading_zeros_drop() -> None:
    assert ok({"seed": 42}).body()["seed"] == "42"
    assert ok({"seed": "007"}).body()["seed"] == "7"


def test_query_holds_original_assets_but_never_dry_run() -> None:
    assert ok({"originalAssets": True, "dryRun": True}).query() == {"originalAssets": "true"}
    assert ok({}).query() == {}


def test_deprecated_fields_are_sent_as_their_successors() -> None:
    assert ok({"image": None, "imageId": "asset_old"}).body()["image"] == "asset_old"
    body = ok({"ipAdapterImages": None, "ipAdapterImage": PNG, "ipAdapterScale": 0.3}).body()
    assert body["ipAdapterImages"] == [PNG] and body["ipAdapterScales"] == [0.3]
    assert "ipAdapterImage" not in body and "ipAdapterScale" not in body
    assert ok({"ipAdapterImages": None, "ipAdapterImageId": "asset_r"}).body()["ipAdapterImageIds"] == ["asset_r"]
    checked = P.check({**BASE, "image": None, "imageId": "asset_old"})
    assert [p.field for p in checked.problems if p.severity == "warning"] == ["imageId"]


def test_successor_wins_over_deprecated_field() -> None:
    params = ok({"ipAdapterScale": 0.2, "ipAdapterScales": [0.7]})
    assert params.body()["ipAdapterScales"] == [0.7] and "ipAdapterScale" not in params.body()
    assert any(w.field == "ipAdapterScale" and "ignored" in w.message for w in params.warnings())


def test_record_shortens_data_urls() -> None:
    record = ok({}).record()
    assert record["image"].startswith("<image/png data URL") and record["ipAdapterImages"][0].startswith("<")
    assert record["prompt"] == "a red door"


# --- field rules: out of range is refused, naming the field ----------------------------------

NUMERIC = ["strength", "numSamples", "numInferenceSteps", "guidance", "width", "height", "negativePromptStrength",
           "ipAdapterScale"]


@pytest.mark.parametrize("name", NUMERIC)
def test_out_of_range_is_refused_with_the_field_named(name: str) -> None:
    lo, hi = P.bounds(name)
    for bad in (lo - 8, hi + 8):
        problems = errors({name: bad})
        assert problems[name].startswith(f"must be between {lo:g} and {hi:g}")
        checked = P.check({**BASE, name: bad})
        assert str(checked.errors[0]).startswith(P.label(name))


@pytest.mark.parametrize("name", NUMERIC)
def test_bounds_themselves_are_accepted(name: str) -> None:
    lo, hi = P.bounds(name)
    ok({name: lo})
    ok({name: hi})


@pytest.mark.parametrize(("name", "value", "message"), [
    ("numSamples", "2.5", "must be a whole number"),
    ("numSamples", "two", "must be a whole number"),
    ("strength", "lots", "must be a number"),
    ("width", 513, "must be a multiple of 8 (try 512 or 520)"),
    ("height", 1001, "must be a multiple of 8 (try 1000 or 1008)"),
    ("seed", -1, "must be a whole number from 0"),
    ("seed", "12a", "must be a whole number from 0"),
    ("seed", 2**64, "must be a whole number from 0"),
    ("scheduler", "FastScheduler", "must be one of: DDIMScheduler"),
    ("ipAdapterType", "pose", "must be one of: style"),
    ("imageHide", "maybe", "must be true or false"),
    ("prompt", "   ", "can't be empty"),
    ("modelId", "", "is required"),
    ("image", "data:text/plain;base64,AAAA", "not a valid image data URL"),
    ("image", "not an id!", "not a valid asset id"),
    ("mask", "asset_abc", "must be an image data URL"),
    ("maskId", "bad id", "not a valid asset id"),
])
def test_field_rules(name: str, value: Any, message: str) -> None:
    assert errors({name: value})[name].startswith(message)


def test_list_items_name_their_position() -> None:
    problems = errors({"ipAdapterImages": [PNG, PNG], "ipAdapterScales": [0.5, 1.5]})
    assert problems["ipAdapterScales"] == "reference 2: must be between 0 and 1"
    problems = errors({"concepts": [{"modelId": "a", "scale": 1}, {"modelId": "b", "scale": -2.5}]})
    assert problems["concepts"] == "concept 2 scale: must be between -2 and 2"
    assert ok({"concepts": [{"modelId": "a", "scale": -2}, {"modelId": "b", "scale": 2}]})


def test_unknown_parameter_is_refused() -> None:
    assert errors({"steps": 30})["steps"] == "is not a parameter of this operation"


# --- cross-field rules ---------------------------------------------------------------------------

def test_input_mask_and_reference_are_required() -> None:
    problems = errors({}, base={"modelId": "m", "prompt": "p"})
    assert problems == {
        "image": "an input image is required (a file or an asset id)",
        "mask": "a mask is required (a file, or a mask asset id)",
        "ipAdapterImages": "at least one reference image is required",
    }


def test_cross_field_errors_are_reported_alongside_field_errors() -> None:
    problems = errors({"strength": 5, "mask": None})
    assert set(problems) == {"strength", "mask"}


def test_one_scale_per_reference() -> None:
    problems = errors({"ipAdapterImages": [PNG, PNG], "ipAdapterScales": [0.5]})
    assert problems["ipAdapterScales"] == "1 scale for 2 reference images: give one scale per reference"
    assert ok({"ipAdapterImages": [PNG, PNG], "ipAdapterScales": [0.5, 0.6]})
    # ids count when no images are given
    assert errors({"ipAdapterImages": None, "ipAdapterImageIds": ["a"], "ipAdapterScales": [1, 1]})


def test_single_reference_image_and_id_are_exclusive() -> None:
    problems = errors({"ipAdapterImages": None, "ipAdapterImage": PNG, "ipAdapterImageId": "asset_r"})
    assert "can't be set together" in problems["ipAdapterImageId"]


def test_negative_prompt_with_low_guidance_is_a_warning_not_an_error() -> None:
    params = ok({"negativePrompt": "blur", "guidance": 0.5})
    assert [(w.field, w.message) for w in params.warnings()] == [("negativePrompt", "ignored because guidance is below 1")]
    assert ok({"negativePrompt": "blur", "guidance": 1}).warnings() == []


def test_ignored_asset_ids_are_warned_about() -> None:
    warnings = {w.field for w in ok({"maskId": "asset_m", "ipAdapterImageIds": ["asset_r"]}).warnings()}
    assert warnings == {"maskId", "ipAdapterImageIds"}


# --- rules that depend on the chosen model ---------------------------------------------------

@pytest.mark.parametrize(("model_type", "field", "value", "message"), [
    ("sd-xl", "width", 256, "must be between 512 and 2048 for the SDXL model Test model"),
    ("sd-xl-lora", "height", 504, "must be between 512 and 2048 for the SDXL model Test model"),
    ("sd-1_5", "width", 1536, "must be between 64 and 1024 for the SD 1.5 model Test model"),
    ("flux.1-pro", "guidance", 6, "must be between 2 and 5 for the Flux pro model Test model"),
    ("flux.1", "guidance", 12, "must be between 0 and 10 for the Flux dev model Test model"),
    ("sd-xl", "baseModelId", "base", "only Flux LoRA models take a base model"),
    ("flux.1", "modelEpoch", "1", "only trained Flux LoRA models take an epoch"),
])
def test_model_dependent_limits(model_type: str, field: str, value: Any, message: str) -> None:
    assert errors({field: value}, Model(type=model_type))[field].startswith(message)
    if field in ("width", "height", "guidance"):
        ok({field: value})  # the same value is fine while the model is unknown


def test_model_dependent_values_accepted_in_range() -> None:
    ok({"width": 256, "height": 1024}, Model(type="sd-1_5"))
    ok({"guidance": 3}, Model(type="flux.1-pro"))
    lora = Model(type="flux.1-lora", compliant_model_ids=("flux_base",), epochs=("1", "2"))
    ok({"baseModelId": "flux_base", "modelEpoch": "2"}, lora)
    assert errors({"baseModelId": "other", "modelEpoch": "9"}, lora) == {
        "baseModelId": "must be one of: flux_base", "modelEpoch": "must be one of: 1, 2"}


def test_flux_negative_prompt_needs_strength() -> None:
    flux = Model(type="flux.1")
    assert any(w.field == "negativePrompt" for w in ok({"negativePrompt": "x"}, flux).warnings(flux))
    assert ok({"negativePrompt": "x", "negativePromptStrength": 1}, flux).warnings(flux) == []


def test_rules_for_unknown_type_are_the_documented_defaults() -> None:
    assert P.rules_for(None) == P.rules_for("gpt-image-1") == P.ModelRules()
    assert P.rules_for("sd-xl").guidance_default == 6


def test_cross_field_rules_tolerate_raw_text_beside_a_bad_field() -> None:
    """A form in progress: one field invalid, the others still raw strings."""
    model = Model(type="sd-xl")
    problems = errors({"width": "513", "height": "256", "guidance": "abc"}, model)
    assert problems["width"].startswith("must be a multiple of 8")
    assert problems["height"].startswith("must be between 512 and 2048 for the SDXL model")
    assert problems["guidance"] == "must be a number"


# --- runs after runs -------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "samples", "expected"), [
    ("42", 2, "44"),  # samples 42 and 43 are taken: 4 runs of 2 make 8 different images
    ("7", 4, "11"),
    ("0", 1, "1"),
    (str(P.MAX_SEED), 2, "1"),  # wraps past the largest seed instead of making an invalid one
])
def test_next_seed_moves_past_every_sample_of_the_run(seed: str, samples: int, expected: str) -> None:
    assert P.next_seed(seed, samples) == expected


def test_increment_over_runs_never_repeats_a_sample_seed() -> None:
    seed, used = "42", []
    for _ in range(4):
        used += [int(seed) + i for i in range(2)]
        seed = P.next_seed(seed, 2)
    assert len(set(used)) == 8


@pytest.mark.parametrize(("name", "typed", "message"), [
    ("numSamples", "2.5", "must be a whole number"),
    ("numSamples", "abc", "must be a whole number"),
    ("strength", "0.5x", "must be a number"),
    ("width", "1e3", "must be a whole number"),
])
def test_text_that_is_not_a_number_is_a_problem_not_a_guess(name: str, typed: str, message: str) -> None:
    checked = P.check({**BASE, name: typed})
    assert checked.params is None and P.Problem(name, message) in checked.problems
