"""Fixes for data with media, checked by PEFT itself: the rewrite loralint offers for an image- or
audio-trained script must make PEFT adapt exactly the modules that train with that mix, with the same LoRA
parameters each (a tower that trains stays adapted; a discarded layer or the other medium's tower goes)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from peft_oracle import build, peft_adapted, zoo_config

from loralint.config import Settings
from loralint.engine import Linter
from loralint.fixes import plan_fix
from loralint.resolve import Resolver

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("offline_env")]

CASES = [
    # (hub id, model class, targets, mix, the dead sub-tree the fix must leave out)
    ("llava-hf/llava-1.5-7b-hf", "LlavaForConditionalGeneration", '"all-linear"', "text+image",
     "model.vision_tower.encoder.layers.23"),
    ("llava-hf/llava-1.5-7b-hf", "LlavaForConditionalGeneration", '["q_proj", "v_proj", "fc1"]', "text+image",
     "model.vision_tower.encoder.layers.23"),
    ("Qwen/Qwen2.5-Omni-7B", "Qwen2_5OmniForConditionalGeneration", '"all-linear"', "text+audio", "thinker.model.visual"),
    ("Qwen/Qwen2.5-Omni-7B", "Qwen2_5OmniForConditionalGeneration", '["q_proj", "v_proj"]', "text+image", "thinker.model.audio_tower"),
    # the thinker alone, loaded from the whole model's config.json as fine-tuning recipes do
    ("Qwen/Qwen2.5-Omni-7B", "Qwen2_5OmniThinkerForConditionalGeneration", '"all-linear"', "text+audio", "model.visual"),
    ("Qwen/Qwen2.5-Omni-7B", "Qwen2_5OmniThinkerForConditionalGeneration", '["q_proj", "v_proj", "fc1"]', "text+image",
     "model.audio_tower"),
    # a local copy whose config reads layers [3, -20]: layers 5-23 are discarded, one factored exclusion
    ("llava-hf/llava-1.5-7b-hf+vision_feature_layer=[3,-20]", "LlavaForConditionalGeneration", '"all-linear"',
     "text+image", "model.vision_tower.encoder.layers.23"),
    # the whole model loaded, LoRA applied to its thinker: get_peft_model(model.thinker, ...)
    ("Qwen/Qwen2.5-Omni-7B", "Qwen2_5OmniForConditionalGeneration.thinker", '"all-linear"', "text+image",
     "model.audio_tower"),
]


@pytest.mark.parametrize(("hub_id", "model_class", "targets", "mix", "dead_root"), CASES)
def test_media_fix_adapts_exactly_what_trains(tmp_path: Path, hub_id, model_class, targets, mix, dead_root):
    model_class, _, part = model_class.partition(".")
    hub_id, _, override = hub_id.partition("+")
    config = zoo_config(hub_id)
    if override:
        key, _, value = override.partition("=")
        config[key] = json.loads(value)
        (tmp_path / "model").mkdir()
        (tmp_path / "model" / "config.json").write_text(json.dumps(config))
        hub_id = "./model"
    path = tmp_path / "train.py"
    path.write_text(f"from peft import LoraConfig, get_peft_model\nfrom transformers import {model_class}\n"
                    f"model = {model_class}.from_pretrained('{hub_id}')\n"
                    f"model = get_peft_model(model{'.' + part if part else ''}, LoraConfig(target_modules={targets}))"
                    f"  # loralint: modality={mix}\n")
    result = Linter(Settings(root=tmp_path), Resolver(offline=True)).lint_path(path)
    (analysis,) = result.analyses
    dead = {a.module.name for a in analysis.dead_modules}
    assert any(name.startswith(dead_root + ".") for name in dead)
    live = {a.module.name: a.params for a in analysis.result.adapted if a.module.name not in dead}
    assert live and not any(name.startswith(dead_root + ".") for name in live)

    plan, why = plan_fix(analysis)
    assert plan is not None, why
    assert plan.field == "target_modules" and len(plan.value) < 400  # a pattern, not a list of every name

    model, _ = build(config, model_class)
    model = getattr(model, part) if part else model
    assert peft_adapted(model, analysis.spec)[0] == {a.module.name: a.params for a in analysis.result.adapted}
    adapted, _ = peft_adapted(model, replace(analysis.spec, target_modules=plan.value))
    assert adapted == live
