"""The engine against PEFT itself: same adapted modules, same LoRA parameters, same refusals.

Models are built on the meta device from transformers' default configs and from the real configs of
the bundled zoo; nothing is downloaded.
"""

from __future__ import annotations

import re

import pytest

from peft_oracle import build, default_config, peft_adapted, zoo_config

from loralint.matching import LoraSpec, match
from loralint.resolve import zoo_ids

pytestmark = pytest.mark.slow

MULTIMODAL_DEFAULTS = [
    "qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_vl_moe", "qwen3_5", "qwen3_5_moe", "gemma3",
    "llava", "llava_next", "llava_onevision", "llava_next_video", "video_llava", "mllama", "llama4",
    "mistral3", "idefics2", "idefics3", "smolvlm", "internvl", "paligemma", "kimi_k25", "glm4v",
    "glm4v_moe", "blip-2", "instructblip", "lfm2_vl", "phi4_multimodal", "janus", "ovis2", "deepseek_vl", "fuyu",
]
TEXT_DEFAULTS = ["gpt2", "mixtral", "qwen3_moe", "opt"]


def _thinker_config() -> dict:
    return default_config("qwen2_5_omni")["thinker_config"]


MODELS = (
    [(f"default:{t}", lambda t=t: (default_config(t), None)) for t in MULTIMODAL_DEFAULTS + TEXT_DEFAULTS]
    + [("default:qwen2_5_omni_thinker", lambda: (_thinker_config(), "Qwen2_5OmniThinkerForConditionalGeneration"))]
    + [(f"zoo:{hub_id}", lambda h=hub_id: (zoo_config(h), None)) for hub_id in zoo_ids()]
)

SEVEN = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _language_regex(inv, suffixes):
    prefixes = "|".join(re.escape(p) for p in inv.language_prefixes())
    return rf"(?:{prefixes})\..*\.({'|'.join(suffixes)})"


SHAPES = {
    "suffix-list": lambda inv: LoraSpec(target_modules=["q_proj", "v_proj", "down_proj"], r=16),
    "seven-projections": lambda inv: LoraSpec(target_modules=SEVEN, r=8),
    "all-linear": lambda inv: LoraSpec(target_modules="all-linear", r=8),
    "ALL-LINEAR-uppercase": lambda inv: LoraSpec(target_modules="ALL-LINEAR", r=4),
    "default-none": lambda inv: LoraSpec(target_modules=None, r=8),
    "loose-regex": lambda inv: LoraSpec(target_modules=r".*\.(q_proj|v_proj|fc1|qkv)", r=8),
    "anchored-language-regex": lambda inv: LoraSpec(target_modules=_language_regex(inv, ["q_proj", "o_proj", "down_proj"]), r=8),
    "exclude-string": lambda inv: LoraSpec(target_modules="all-linear", exclude_modules=r".*(vision|visual).*", r=8),
    "exclude-bare-string": lambda inv: LoraSpec(target_modules=SEVEN, exclude_modules="visual", r=8),
    "exclude-list": lambda inv: LoraSpec(target_modules=SEVEN, exclude_modules=["down_proj", "visual", "nonexistent"], r=8),
    "layers-to-transform": lambda inv: LoraSpec(target_modules=["q_proj", "v_proj", "fc1"], layers_to_transform=[0, 1, 3], r=8),
    "layers-pattern": lambda inv: LoraSpec(target_modules=["q_proj", "v_proj"], layers_to_transform=[1], layers_pattern="layers", r=8),
    "modules-to-save": lambda inv: LoraSpec(target_modules=["q_proj", "v_proj"], modules_to_save=["lm_head", "embed_tokens"], r=8),
    "rank-pattern-dora": lambda inv: LoraSpec(target_modules=["q_proj", "down_proj", "fc2"], rank_pattern={"down_proj": 4, r"layers\.0\.self_attn\.q_proj": 2}, use_dora=True, r=16),
    "embedding": lambda inv: LoraSpec(target_modules=["embed_tokens", "q_proj"], r=8),
    "regex-with-layers": lambda inv: LoraSpec(target_modules=".*q_proj", layers_to_transform=[0], r=8),
    "unsupported-container": lambda inv: LoraSpec(target_modules=["mlp", "q_proj"], r=8),
    "nothing-matches": lambda inv: LoraSpec(target_modules=["no_such_proj"], r=8),
    "all-excluded": lambda inv: LoraSpec(target_modules=["q_proj"], exclude_modules=r".*", r=8),
}


# PEFT's refusals by what they say: PEFT's text, then loralint's own words for the same cause
REASONS = {
    "regex-with-layers": ("cannot be used when `target_modules` is a str",),
    "all-excluded": ("All modules were excluded", "`exclude_modules` excludes every module"),
    "no-default-targets": ("Please specify `target_modules`", "PEFT has no default target modules"),
    "unsupported-module": ("is not supported",),
    "not-found": ("not found in the base model", "no module matches `target_modules`"),
    "targets-excluded": ("No modules were targeted for adaptation", "every module that `target_modules` matches is excluded"),
    "fused-experts": ("because they are fused into",),
    "no-targets": ("No `target_modules` passed but also no `target_parameters`", "neither `target_modules` nor `target_parameters`"),
    "dora-parameters": ("ParamWrapper does not work with use_dora", "`use_dora` does not work with `target_parameters`"),
}


def _reason(message: str) -> str:
    return next((reason for reason, phrases in REASONS.items() if any(p in message for p in phrases)), message)


@pytest.fixture(scope="module", params=[m[0] for m in MODELS])
def built(request):
    config, model_class = dict(MODELS)[request.param]()
    try:
        return build(config, model_class)
    except Exception as exc:  # pragma: no cover - a model transformers cannot build is a test bug
        pytest.fail(f"{request.param} did not build: {exc}")


@pytest.mark.parametrize("shape", list(SHAPES))
def test_matches_peft(built, shape):
    model, inventory = built
    spec = SHAPES[shape](inventory)
    ours = match(inventory, spec)
    oracle = peft_adapted(model, spec)
    if isinstance(oracle, Exception):
        assert ours.error is not None, f"PEFT raised {type(oracle).__name__}: {oracle}; loralint predicted no error"
        assert _reason(ours.error) == _reason(str(oracle)), f"PEFT: {oracle}\nloralint: {ours.error}"
        return
    assert ours.error is None, f"loralint predicted {ours.error!r}; PEFT accepted the config"
    adapted, saved = oracle
    assert {a.module.name: a.params for a in ours.adapted} == adapted
    assert {m.name: m.numel for m in ours.saved} == saved
