"""TRL YAML configs (TRL 1.16 `trl/trainer/model_config.py: ModelConfig.__post_init__` and
`trainer/utils.py: get_peft_config`): a one-entry `lora_target_modules` list becomes that string (a
regex for PEFT); nothing happens unless `use_peft: true`."""

from __future__ import annotations

from pathlib import Path

from ..matching import LoraSpec
from ..site import Site
from .data_evidence import dataset_evidence
from .trainer_config import Trainer, fill, new_site

KEYS = {"use_peft", "lora_target_modules", "dataset_name", "lora_r"}


def trl_targets(value):
    """ModelConfig.__post_init__: a one-entry list becomes its string."""
    if isinstance(value, (list, tuple)) and len(value) == 1:
        return value[0]
    return list(value) if isinstance(value, tuple) else value


class TrlConfig(Trainer):
    name = "trl"
    package, modelled_version = "trl", "1.16"

    def detect(self, data: dict) -> bool:
        return "model_name_or_path" in data and bool(set(data) & KEYS)

    def build(self, data: dict, keys: dict, text: str, path: Path) -> Site | None:
        if data.get("use_peft") is not True:
            return None
        spec = LoraSpec(target_modules=trl_targets(data.get("lora_target_modules")),
                        modules_to_save=data.get("lora_modules_to_save"),
                        r=data.get("lora_r") if data.get("lora_r") is not None else 16,
                        use_dora=bool(data.get("use_dora")), target_parameters=data.get("lora_target_parameters"))
        site = new_site(path, "trl", data.get("model_name_or_path"), spec)
        fill(site, keys, text, {"target_modules": "lora_target_modules", "r": "lora_r",
                                "target_parameters": "lora_target_parameters"})
        return site

    def evidence(self, data: dict, keys: dict, path: Path, add) -> None:
        found = dataset_evidence(data.get("dataset_name"))
        if found is not None:
            add(*found, "dataset_name")
        if data.get("dataset_text_field"):
            add("text", "sets dataset_text_field", "dataset_text_field")
