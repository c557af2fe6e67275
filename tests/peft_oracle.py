"""PEFT itself, as the oracle the engine is compared with, and the models both run on."""

from __future__ import annotations

import copy
import json
import logging
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from loralint.build import build_meta_model, inventory_from_model  # noqa: E402
from loralint.matching import LoraSpec  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ZOO = REPO / "linter" / "zoo"

logging.getLogger("transformers").setLevel(logging.ERROR)
logging.getLogger("peft").setLevel(logging.ERROR)


def zoo_config(hub_id: str) -> dict:
    return json.loads((ZOO / hub_id.replace("/", "--") / "config.json").read_text())


def default_config(model_type: str) -> dict:
    """transformers' own default config for a model type, as a plain dict."""
    from transformers import CONFIG_MAPPING

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CONFIG_MAPPING[model_type]().to_dict()


def build(config: dict, model_class: str | None = None):
    model = build_meta_model(config, model_class)
    return model, inventory_from_model(model, config)


def peft_config(spec: LoraSpec):
    kwargs = dict(
        target_modules=spec.target_modules,
        exclude_modules=spec.exclude_modules,
        layers_to_transform=spec.layers_to_transform,
        layers_pattern=spec.layers_pattern,
        modules_to_save=spec.modules_to_save,
        r=spec.r,
        rank_pattern=dict(spec.rank_pattern),
        use_dora=spec.use_dora,
    )
    return peft.LoraConfig(**kwargs)


def peft_adapted(model, spec: LoraSpec):
    """{module name: LoRA parameters} and {modules_to_save name: parameters} as PEFT makes them,
    or the exception PEFT raises."""
    from peft.tuners.lora import LoraLayer
    from peft.utils.other import ModulesToSaveWrapper

    try:
        config = peft_config(spec)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wrapped = peft.get_peft_model(copy.deepcopy(model), config, low_cpu_mem_usage=True)
    except Exception as exc:  # noqa: BLE001 - any refusal is the oracle's answer
        return exc
    adapted, saved = {}, {}
    for name, module in wrapped.base_model.model.named_modules():
        if isinstance(module, LoraLayer):
            # Nested ParamWrappers (several parameters of one module) are LoRA layers of their own, at
            # `name` and `name.base_layer`, as PEFT reports them.
            key = name
            own = sum(
                p.numel()
                for attr in ("lora_A", "lora_B", "lora_embedding_A", "lora_embedding_B", "lora_magnitude_vector")
                for adapter, sub in getattr(module, attr, {}).items()
                if adapter == "default"
                for p in (sub.parameters() if hasattr(sub, "parameters") else [sub])
            )
            adapted[key] = own
        elif isinstance(module, ModulesToSaveWrapper):
            saved[name] = sum(p.numel() for p in module.modules_to_save["default"].parameters())
    return adapted, saved
