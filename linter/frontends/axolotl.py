"""Axolotl configs (axolotl 0.19 `axolotl/loaders/adapter.py: _build_peft_lora_config, find_all_linear_names`).

`lora_target_linear: true` adds every Linear's leaf name (minus the output embedding) to
`lora_target_modules` as a list, so a regex string turns into a literal name beside them; a string
alone is a regex (re.fullmatch); nothing at all is an empty list (PEFT then raises).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from ..matching import LoraSpec
from ..site import Site
from .data_evidence import dataset_evidence
from .trainer_config import Trainer, fill, new_site, sniff

KEYS = {"adapter", "lora_target_modules", "lora_target_linear", "datasets", "sequence_len", "micro_batch_size"}
TEXT_TYPES = {"alpaca", "completion", "pretrain", "oasst", "sharegpt", "input_output", "alpaca_chat",
              "alpaca_w_system", "explainchoice", "context_qa", "summarizetldr", "metharme"}


def linear_names(inventory) -> list[str]:
    """axolotl.loaders.adapter.find_all_linear_names on the inventory."""
    names = {m.name.split(".")[-1] for m in inventory.modules
             if m.kind == "linear" or ("Linear" in m.cls and m.cls != "LlamaLinearScalingRotaryEmbedding")}
    output = {"gpt_neox": "embed_out", "falcon": "lm_head", "nemotron_h": "lm_head"}.get(inventory.model_type, "lm_head")
    names.discard(output)
    return sorted(names)


class Axolotl(Trainer):
    name = "axolotl"
    package, modelled_version = "axolotl", "0.19"

    def detect(self, data: dict) -> bool:
        return "base_model" in data and bool(set(data) & KEYS)

    def build(self, data: dict, keys: dict, text: str, path: Path) -> Site | None:
        if str(data.get("adapter") or "").lower() not in ("lora", "qlora"):
            return None
        targets = data.get("lora_target_modules")
        linear = bool(data.get("lora_target_linear"))
        spec = LoraSpec(
            target_modules=targets if targets else ([] if not linear else None),
            exclude_modules=data.get("lora_exclude_modules"),
            layers_to_transform=data.get("peft_layers_to_transform"),
            layers_pattern=data.get("peft_layers_pattern"),
            modules_to_save=data.get("lora_modules_to_save") or None,
            r=data.get("lora_r") if data.get("lora_r") is not None else 8,
            use_dora=data.get("peft_use_dora") if isinstance(data.get("peft_use_dora"), bool) else bool(data.get("peft_use_dora")),
            target_parameters=_as_list(data.get("lora_target_parameters")),
        )
        ref = data.get("base_model_config") or data.get("base_model")
        site = new_site(path, "axolotl", ref, spec)
        model_type = data.get("model_type")
        if isinstance(model_type, str) and re.fullmatch(r"[A-Z]\w+", model_type):
            site.model_class = model_type
        if linear:
            site.flags = {"lora_target_linear": True}
        if data.get("freeze_mm_modules"):
            site.dead_note = ("Axolotl's freeze_mm_modules freezes them after PEFT has made them: they cost memory "
                              "but never train")
        # axolotl.utils.schemas.config.check_lora_target_modules_regex compiles list entries as regexes
        site.list_note = ("Axolotl accepts list entries that are regular expressions, but PEFT matches each entry of "
                          "a list as a module-name suffix; write one pattern as a string, or plain names")
        fill(site, keys, text, {"target_modules": "lora_target_modules", "exclude_modules": "lora_exclude_modules",
                                "lora_target_linear": "lora_target_linear",
                                "target_parameters": "lora_target_parameters", "r": "lora_r",
                                "modules_to_save": "lora_modules_to_save", "use_dora": "peft_use_dora"})
        return site

    def spec_for(self, site: Site, inventory):
        if not site.flags.get("lora_target_linear"):
            return site.lora
        targets = site.lora.target_modules or []
        as_list = targets if isinstance(targets, list) else [targets]
        return replace(site.lora, target_modules=sorted(set(as_list) | set(linear_names(inventory))))

    def plan_fix(self, analysis, expected: dict, generic):
        # the fix writes explicit targets, so Axolotl must stop adding every Linear beside them
        linear = analysis.site.flags.get("lora_target_linear")
        return generic(also={"lora_target_linear": False} if linear else None)

    def evidence(self, data: dict, keys: dict, path: Path, add) -> None:
        if data.get("processor_type"):
            add("multimodal", f"sets processor_type: {data['processor_type']}", "processor_type")
        datasets = data.get("datasets")
        for entry in datasets if isinstance(datasets, list) else []:
            if not isinstance(entry, dict):
                continue
            ds_path, ds_type = str(entry.get("path", "")), entry.get("type")
            if dataset_evidence(ds_path) is not None:
                add(*dataset_evidence(ds_path), "datasets")
            if isinstance(ds_type, str) and ds_type.split(".")[0] in TEXT_TYPES:
                add("text", f"dataset type {ds_type} is text-only", "datasets")
            if ds_path.endswith((".json", ".jsonl", ".csv")):
                sniff(path.parent / ds_path, ds_path, add, "datasets")
            if any(k in entry for k in ("image_column", "images_field")):
                add("multimodal", "dataset declares an image field", "datasets")
        # axolotl.common.datasets.load_datasets: a processor only with processor_type; without one the
        # data is tokenized text, whatever the model can see
        if not data.get("processor_type"):
            add("text", "no processor_type: Axolotl loads only a tokenizer, so the data holds no images", "base_model")
            if data.get("sample_packing"):
                add("text", "sample_packing, which Axolotl does not support for multimodal data", "sample_packing")


def _as_list(value):
    if value is None or value == []:
        return None
    return [value] if isinstance(value, str) else value
