"""Unsloth's own LoRA targeting.

Mirrors unsloth `FastBaseModel.get_peft_model` (unsloth/models/vision.py, 2025.x): with
`target_modules=None` or `"all-linear"` it builds a regex with unsloth_zoo's
`peft_utils.get_peft_regex` from the model's Linear leaf names and the `finetune_*` flags
("all-linear" forces every flag on); an explicit list or string goes to PEFT unchanged.
`FastLanguageModel.get_peft_model` (unsloth/models/llama.py) defaults to the seven projections.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

from .base import FrontEnd

FAST_LANGUAGE_DEFAULT_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

VISION_TAGS = ["vision", "image", "visual", "patch"]
LANGUAGE_TAGS = ["language", "text"]
ATTENTION_TAGS = ["self_attn", "attention", "attn"]
MLP_TAGS = ["mlp", "feed_forward", "ffn", "dense"]
FLAGS = ("finetune_vision_layers", "finetune_language_layers", "finetune_attention_modules", "finetune_mlp_modules")


class UnslothWouldRaise(Exception):
    pass


def _alternation(words) -> str:
    return "|".join(re.escape(w) for w in words) or "$^"  # empty: matches nothing


def peft_regex(linear_names: list[str], flags: dict[str, bool], target_modules: list[str] | None = None) -> str:
    """The regex unsloth_zoo's get_peft_regex returns for a model with these Linear module names."""
    vision, language = flags["finetune_vision_layers"], flags["finetune_language_layers"]
    attention, mlp = flags["finetune_attention_modules"], flags["finetune_mlp_modules"]
    if not (vision or language):
        raise UnslothWouldRaise("Select at least one of vision / language layers to finetune.")
    if not (attention or mlp):
        raise UnslothWouldRaise("Select at least one of attention / MLP modules to finetune.")
    leaf_counts = Counter(name.rsplit(".", 1)[-1] for name in linear_names)
    if target_modules is None:
        # names seen more than once: single heads (lm_head, one-off projectors) are left out
        leaves = [leaf for leaf, count in leaf_counts.items() if count > 1]
    else:
        leaves = list(target_modules)
    part = _alternation(VISION_TAGS if vision else []) + "|" + _alternation(LANGUAGE_TAGS if language else [])
    component = _alternation(ATTENTION_TAGS if attention else []) + "|" + _alternation(MLP_TAGS if mlp else [])
    leaf = r"(?:(?<=\.)|^)(?:" + _alternation(leaves) + r")$"
    regex = r".*?(?:" + part + r")" + r".*?(?:" + component + r")" + r".*?" + leaf
    if language:
        regex += r"|(?:\bmodel\.layers\.\d+\.(?:" + component + r")\." + leaf + ")"
    if not any(re.search(regex, name) for name in linear_names):
        raise UnslothWouldRaise("the generated regex matched no linear layers (check the finetune_* flags)")
    return regex


def moe_target_parameters(inventory, target_modules) -> list[str] | None:
    """unsloth_zoo get_moe_target_parameters: on a model with fused experts, the expert weights (as
    target_parameters) for the MLP names among the targets (all of them when there are none)."""
    fused = {(module.rpartition(".")[2], param) for module, param, _ in inventory.parameters}
    if not any(owner == "experts" for owner, _ in fused):
        return None
    prefix = "mlp.experts" if any(module.endswith("mlp.experts") for module, _, _ in inventory.parameters) else "experts"
    if target_modules is None:
        wanted = {"gate_proj", "up_proj", "down_proj", "gate_up_proj"}
    elif isinstance(target_modules, str):
        wanted = {target_modules}
        if "proj" in target_modules and ("mlp" in target_modules or "ffn" in target_modules):
            wanted |= {"gate_proj", "up_proj", "down_proj", "gate_up_proj"}
    else:
        wanted = set(target_modules)
    out = []
    if wanted & {"gate_proj", "up_proj", "gate_up_proj"}:
        out.append(f"{prefix}.gate_up_proj")
    if "down_proj" in wanted:
        out.append(f"{prefix}.down_proj")
    return out or None


def targets_for(inventory, flags: dict[str, bool]) -> str:
    """What FastVisionModel.get_peft_model passes to PEFT for this model and these flags."""
    return peft_regex([m.name for m in inventory.modules if m.kind == "linear"], flags)


class Unsloth(FrontEnd):
    """The semantics of Unsloth's get_peft_model sites (found by the Python front end): it claims no files."""

    name = "unsloth"

    @staticmethod
    def derives(site) -> bool:
        """FastVisionModel with no targets or "all-linear": Unsloth builds the regex from its flags."""
        return bool(site.flags) and (site.lora.target_modules is None or site.lora.target_modules == "all-linear")

    def spec_for(self, site, inventory):
        spec = site.lora
        if self.derives(site):
            spec = replace(spec, target_modules=targets_for(inventory, {f: site.flags[f] for f in FLAGS}))
        moe = moe_target_parameters(inventory, site.lora.target_modules)
        if moe:
            spec = replace(spec, target_parameters=list(dict.fromkeys((spec.target_parameters or []) + moe)))
        return spec

    def plan_fix(self, analysis, expected: dict, generic):
        if not self.derives(analysis.site):
            return generic()
        from ..fixes import FixPlan, verify

        site, inventory = analysis.site, analysis.inventory
        asked = {flag: site.flags[f"asked_{flag}"] for flag in FLAGS if f"asked_{flag}" in site.flags}
        if asked:
            # "all-linear" overrode the user's flags: drop it, and Unsloth builds its regex from them
            plan = FixPlan("target_modules", None, "let Unsloth's finetune_* flags choose the targets")
            flags, which = asked, "the finetune_* flags as written"
        elif not site.flags.get("finetune_vision_layers"):
            return None, "the targets come from Unsloth's own rules and its vision flag is already off"
        else:
            plan = FixPlan("finetune_vision_layers", False, "stop finetuning the vision layers")
            flags = {**{f: site.flags[f] for f in FLAGS}, "finetune_vision_layers": False}
            which = "the config with finetune_vision_layers off"
        try:
            targets = targets_for(inventory, flags)
        except UnslothWouldRaise:
            return None, f"Unsloth would refuse {which}"
        if verify(inventory, replace(analysis.spec, target_modules=targets), expected):
            return plan, ""
        return None, f"{which} do not leave exactly the live modules"
