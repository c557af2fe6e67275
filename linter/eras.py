"""Module names of the transformers version the project trains with, derived from today's inventory.

Eras (transformers' own conversion tables, `era_data.py`, say what changed):
- `5`: what loralint builds with (transformers 5): fused MoE experts, no extra tower level.
- `4.52`: transformers 4.52 to 4.57: multimodal models already have today's layout (`model.language_model`,
  `model.visual`), but MoE experts are one Linear per expert (`mlp.experts.3.gate_proj`; Mixtral's
  `block_sparse_moe.experts.3.w1`), MoE routers are plain Linears, and CLIP/SigLIP towers wrap a
  `vision_model` level (`model.vision_tower.vision_model.encoder...`).
- before 4.52 the multimodal layout differs too; loralint does not derive it (and says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .inventory import LINEAR, Inventory, Module
from .pins import version_tuple


@dataclass(frozen=True)
class Era:
    name: str  # "5" | "4.52" | "older"
    version: str | None  # the version that decided it
    why: str  # where that version came from

    def describe(self) -> str:
        return f"transformers {self.version} ({self.why})"


def era_of(version: str | None, why: str) -> Era:
    numbers = version_tuple(version)
    if not numbers or numbers[0] >= 5:
        return Era("5", version, why)
    if numbers[:2] >= (4, 52):
        return Era("4.52", version, why)
    return Era("older", version, why)


_DERIVED: dict[tuple, Inventory] = {}


def inventory_in_era(inventory: Inventory, era: Era) -> Inventory:
    """The inventory as a model built with the era's transformers names its modules (cached)."""
    if era.name != "4.52":
        return inventory
    key = (inventory.config_sha256, inventory.model_class, inventory.transformers_version, era.version)
    if key not in _DERIVED:
        _DERIVED[key] = _derive_452(inventory, era.version or "4.57")
    return _DERIVED[key]


def _derive_452(inventory: Inventory, version: str) -> Inventory:
    from .era_data import MOE_EXPERT_CONVERSIONS, REMOVED_LEVELS

    # CLIP-style sub-models had a level more: every name below them gains it
    levels = {m.name: REMOVED_LEVELS[m.cls] for m in inventory.modules if m.cls in REMOVED_LEVELS}

    def rename(name: str) -> str:
        for root, level in levels.items():
            if name.startswith(root + "."):
                return f"{root}.{level}.{name[len(root) + 1:]}"
        return name

    conversion = MOE_EXPERT_CONVERSIONS.get(inventory.model_type) or MOE_EXPERT_CONVERSIONS.get("qwen2_moe")
    fused = {(module, param): shape for module, param, shape in inventory.parameters}
    experts = {module for module, param in fused if param in ("gate_up_proj", "down_proj")}
    renamings = [(_literal(source), _literal(target)) for source, target in (conversion or {}).get("renamings", [])]

    def moe_rename(name: str) -> str:
        for old, new in renamings:
            if old and new and new in f".{name}.":
                name = f".{name}.".replace(new, old)[1:-1]
        return name

    modules: list[Module] = []
    for module in inventory.modules:
        name = rename(module.name)
        if module.name in levels:
            modules.append(replace(module, name=name))
            modules.append(Module(f"{name}.{levels[module.name]}", module.cls.replace("Model", "Transformer"), "other",
                                  module.component, (), module.numel))
            continue
        if experts and _is_router(module, fused):
            out_features, in_features = fused[(module.name, "weight")]
            modules.append(replace(module, name=moe_rename(name), kind=LINEAR, cls="Linear",
                                   dims=(in_features, out_features)))
            continue
        modules.append(replace(module, name=moe_rename(name)))
        if module.name in experts and conversion:
            modules.extend(_unfused(module, fused, conversion["experts"], moe_rename))
    parameters = [(rename(m), p, s) for m, p, s in inventory.parameters
                  if m not in experts and not (experts and p == "weight" and m.rsplit(".", 1)[-1] == "gate")]
    return replace(inventory, modules=modules, parameters=parameters, transformers_version=version,
                   source=f"{inventory.source}, names of transformers {version}",
                   image_only=frozenset(rename(n) for n in inventory.image_only))


def _literal(pattern: str) -> str:
    return pattern.replace("\\.", ".") if not re.search(r"[\[\]()*+?^$|]", pattern.replace("\\.", "")) else ""


def _is_router(module: Module, fused: dict) -> bool:
    return module.name.rsplit(".", 1)[-1] == "gate" and (module.name, "weight") in fused and \
        len(fused[(module.name, "weight")]) == 2


def _unfused(experts: Module, fused: dict, converters: list, rename) -> list[Module]:
    """One container and its Linears per expert, named as the converter's source patterns name them."""
    out, per_expert = [], {}
    for sources, target in converters:
        param = target.rsplit(".", 1)[-1]
        shape = fused.get((experts.name, param))
        if shape is None or len(shape) != 3:
            continue
        count, rows, columns = shape
        leaves = [source.split(".*.", 1)[1].removesuffix(".weight") for source in sources if ".*." in source]
        if not leaves:
            continue
        rows //= len(leaves)  # gate_proj and up_proj were concatenated along the output dimension
        for index in range(count):
            for leaf in leaves:
                per_expert.setdefault(index, []).append((leaf, (columns, rows)))
    for index in sorted(per_expert):
        container = rename(f"{experts.name}.{index}")
        out.append(Module(container, "MLP", "other", experts.component, (), 0))
        for leaf, dims in per_expert[index]:
            out.append(Module(f"{container}.{leaf}", "Linear", LINEAR, experts.component, dims, dims[0] * dims[1]))
    return out
