"""LLaMA-Factory configs (0.9.5 `llamafactory/model/adapter.py: _setup_lora_tuning` with
`model_utils/misc.py: find_all_linear_modules` and `model_utils/visual.py: patch_target_modules`).

`lora_target: all` takes every Linear's leaf name outside the projector (and the vision tower when
`freeze_vision_tower`); on registered composite models the targets then become the full names of
modules whose name contains a target and none of the frozen parts (`freeze_vision_tower` and
`freeze_multi_modal_projector` default to true), so the trainer protects the tower by itself.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from ..matching import LoraSpec
from ..site import Site
from ..trainer_data import LLAMAFACTORY_COMPOSITE_MODELS
from .data_evidence import dataset_evidence
from .trainer_config import Trainer, comma_list, fill, new_site

KEYS = {"finetuning_type", "lora_target", "stage", "template", "freeze_vision_tower"}
# the bundled demo datasets (data/dataset_info.json), by what they carry
TEXT_DEMO_DATASETS = {"identity", "alpaca_en_demo", "alpaca_zh_demo", "glaive_toolcall_en_demo",
                      "glaive_toolcall_zh_demo", "c4_demo", "dpo_en_demo", "dpo_zh_demo", "kto_en_demo"}
THINKER_MODEL_TYPES = {"qwen2_5_omni", "qwen3_omni_moe"}
# ... and the media each demo's columns hold (its data/dataset_info.json)
MEDIA_DEMO_DATASETS = {"mllm_demo": ("image",), "mllm_audio_demo": ("audio",), "mllm_video_demo": ("video",),
                       "mllm_video_audio_demo": ("video", "audio")}


def targets_for(inventory, *, targets, freeze_vision, freeze_projector, freeze_language):
    composite = LLAMAFACTORY_COMPOSITE_MODELS.get(inventory.model_type)
    names = [m.name for m in inventory.modules]
    if targets == ["all"]:
        forbidden = {"lm_head"}
        if inventory.model_type == "chatglm":
            forbidden.add("output_layer")
        elif inventory.model_type == "internlm2":
            forbidden.add("output")
        if composite:
            forbidden.update(composite["projector_keys"])
            if freeze_vision:
                forbidden.update(composite["vision_model_keys"])
        targets = sorted({m.name.split(".")[-1] for m in inventory.modules
                          if not any(f in m.name for f in forbidden)
                          and "Linear" in m.cls and "Embedding" not in m.cls})
    if composite:
        forbidden = set(composite["lora_conflict_keys"])
        if freeze_vision:
            forbidden.update(composite["vision_model_keys"])
        if freeze_projector:
            forbidden.update(composite["projector_keys"])
        if freeze_language:
            forbidden.update(composite["language_model_keys"])
        return [n for n in names if any(t in n for t in targets) and not any(f in n for f in forbidden)]
    return targets


class LlamaFactory(Trainer):
    name = "llamafactory"
    package, modelled_version = "llamafactory", "0.9.5"

    def detect(self, data: dict) -> bool:
        return "model_name_or_path" in data and bool(set(data) & KEYS) and "use_peft" not in data

    def build(self, data: dict, keys: dict, text: str, path: Path) -> Site | None:
        if str(data.get("finetuning_type") or "lora").lower() != "lora":
            return None
        targets = comma_list(data.get("lora_target", "all")) or ["all"]
        flags = {
            "freeze_vision_tower": data.get("freeze_vision_tower", True) is not False,
            "freeze_multi_modal_projector": data.get("freeze_multi_modal_projector", True) is not False,
            "freeze_language_model": bool(data.get("freeze_language_model", False)),
        }
        spec = LoraSpec(target_modules=targets, modules_to_save=comma_list(data.get("additional_target")),
                        r=data.get("lora_rank") if data.get("lora_rank") is not None else 8,
                        use_dora=bool(data.get("use_dora")))
        site = new_site(path, "llamafactory", data.get("model_name_or_path"), spec)
        site.flags = flags
        fill(site, keys, text, {"target_modules": "lora_target", "freeze_vision_tower": "freeze_vision_tower",
                                "freeze_multi_modal_projector": "freeze_multi_modal_projector", "r": "lora_rank"})
        return site

    def submodule_for(self, site: Site, config: dict | None) -> str:
        # model/loader.py: load_model trains `model.thinker` of the Omni models
        return "thinker" if (config or {}).get("model_type") in THINKER_MODEL_TYPES else ""

    def spec_for(self, site: Site, inventory):
        flags = site.flags
        return replace(site.lora, target_modules=targets_for(
            inventory, targets=site.lora.target_modules, freeze_vision=flags["freeze_vision_tower"],
            freeze_projector=flags["freeze_multi_modal_projector"], freeze_language=flags["freeze_language_model"]))

    def plan_fix(self, analysis, expected: dict, generic):
        """LLaMA-Factory's idiom: its freeze flags (a regex is no option: lora_target is a name list)."""
        from ..fixes import FixPlan, verify

        site, inventory = analysis.site, analysis.inventory
        if inventory.model_type not in LLAMAFACTORY_COMPOSITE_MODELS:
            return None, (f"LLaMA-Factory does not know {inventory.model_type} as a composite model, so its freeze "
                          "flags cannot help; list the language model's modules in lora_target")
        new_targets = targets_for(inventory, targets=site.lora.target_modules, freeze_vision=True, freeze_projector=True,
                                  freeze_language=site.flags.get("freeze_language_model", False))
        if not verify(inventory, replace(analysis.spec, target_modules=new_targets), expected):
            return None, "LLaMA-Factory's freeze flags do not leave exactly the live modules"
        off = [flag for flag in ("freeze_vision_tower", "freeze_multi_modal_projector") if not site.flags.get(flag)]
        if not off:
            return None, "the vision tower and projector are frozen already; the dead targets come from lora_target"
        also = {flag: True for flag in off[1:]}
        return FixPlan(off[0], True, "let LLaMA-Factory freeze the vision tower and projector", also or None), ""

    def evidence(self, data: dict, keys: dict, path: Path, add) -> None:
        if data.get("use_audio_in_video") is True:
            add("audio", "use_audio_in_video feeds the videos' sound to the audio tower", "use_audio_in_video")
        names = comma_list(data.get("dataset")) or []
        info = _dataset_info(path.parent / str(data.get("dataset_dir", "data")))
        for name in names:
            entry = info.get(name)
            if isinstance(entry, dict):
                columns = entry.get("columns") or {}
                media = sorted(c for c in ("images", "videos", "audios") if c in columns)
                for column in media:
                    add(column.rstrip("s"), f"dataset {name} has {', '.join(media)} columns (dataset_info.json)", "dataset")
                if media:
                    continue
                add("text", f"dataset {name} has only text columns (dataset_info.json)", "dataset")
            elif name in MEDIA_DEMO_DATASETS:
                for medium in MEDIA_DEMO_DATASETS[name]:
                    add(medium, f"dataset {name} is LLaMA-Factory's demo of {' and '.join(MEDIA_DEMO_DATASETS[name])} data",
                        "dataset")
            elif name in TEXT_DEMO_DATASETS:
                add("text", f"dataset {name} is text-only", "dataset")
            elif dataset_evidence(name) is not None:
                add(*dataset_evidence(name), "dataset")


def _dataset_info(directory: Path) -> dict:
    from ..files import read_text

    try:
        data = json.loads(read_text(directory / "dataset_info.json", 16 * 1024 * 1024))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def v1_linear_names(inventory) -> list[str]:
    """llamafactory/v1/plugins/model_plugins/peft.py: _find_all_linear_modules. Every Linear leaf name whose
    full name holds none of the output heads' names: the towers are not excluded."""
    forbidden = ("lm_head", "output_layer", "output", "score", "classifier")
    return sorted({m.name.split(".")[-1] for m in inventory.modules
                   if not any(f in m.name for f in forbidden) and "Linear" in m.cls and "Embedding" not in m.cls})


class LlamaFactoryV1(Trainer):
    """LLaMA-Factory's v1 configs (`USE_V1=1`): `model:` and a `peft_config:` block (get_lora_model): `all` is every
    Linear leaf name, a string is a one-entry list (a suffix, not a regex), PEFT's list matching applies."""

    name = "llamafactory-v1"

    def detect(self, data: dict) -> bool:
        return "model" in data and isinstance(data.get("peft_config"), dict)

    def build(self, data: dict, keys: dict, text: str, path: Path) -> Site | None:
        peft = data["peft_config"]
        if str(peft.get("name") or "").lower() != "lora" or peft.get("adapter_name_or_path"):
            return None
        targets = peft.get("target_modules", "all")
        spec = LoraSpec(target_modules=[targets] if isinstance(targets, str) else targets,
                        r=peft.get("r") if peft.get("r") is not None else 8, use_dora=bool(peft.get("use_dora")),
                        modules_to_save=peft.get("modules_to_save"))
        site = new_site(path, "llamafactory", data.get("model"), spec)
        fill(site, keys, text, {"target_modules": "peft_config"})
        nested = _nested(keys.get("peft_config"), "target_modules", text)
        if nested is not None:
            site.spans["target_modules"], site.call_span = nested
            site.line = site.call_span.line
        site.spans.pop("target_modules", None) if nested is None else None
        site.origins = {}  # a string here is a list entry: no pattern can be written into it
        return site

    def spec_for(self, site: Site, inventory):
        if site.lora.target_modules == ["all"]:
            return replace(site.lora, target_modules=v1_linear_names(inventory))
        return site.lora

    def plan_fix(self, analysis, expected: dict, generic):
        return None, ("LLaMA-Factory v1 passes target_modules to PEFT as a list of names (a string becomes a "
                      "one-entry list), so no pattern can select the language model alone; list its modules")


def _nested(entry, key: str, text: str):
    """(value span, key span) of `key` inside a top-level mapping entry, or None."""
    import yaml

    from ..diagnostics import span_at

    if entry is None or not isinstance(entry[1], yaml.MappingNode):
        return None
    for key_node, value_node in entry[1].value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            value = span_at(text, value_node.start_mark.index, value_node.end_mark.index)
            return value, span_at(text, key_node.start_mark.index, value_node.end_mark.index)
    return None
