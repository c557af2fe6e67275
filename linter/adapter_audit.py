"""Saved adapters: which LoRA weights never trained, per component, without torch.

A LoRA pair starts with one matrix at exactly zero (`lora_B`; `lora_embedding_A` for embeddings) under
PEFT's default, Gaussian and EVA initialisations. If that matrix is still all zero bytes when saved,
the adapter never received a gradient step.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .safetensors_reader import SafetensorsError, TensorInfo, all_zero, read_header

WEIGHTS = "adapter_model.safetensors"
PICKLE_WEIGHTS = "adapter_model.bin"
# init_lora_weights values under which a zero matrix at save time means "never trained"
ZERO_INIT = {True, "gaussian", "eva"}


class AuditError(Exception):
    """The weights cannot be read (malformed, truncated): LL900 material."""


@dataclass
class AdapterWeights:
    module: str
    params: int = 0
    zero_tensor: str | None = None  # the tensor that is zero at init
    trained: bool | None = None
    component: str = ""


@dataclass
class Audit:
    weights: Path
    adapters: list[AdapterWeights] = field(default_factory=list)
    broken: str | None = None  # a real-world broken save (ZeRO-3 placeholders, no tensors): LL005
    not_applicable: str | None = None  # the zero test says nothing here, and why: LL901

    @property
    def dead(self) -> list[AdapterWeights]:
        return [a for a in self.adapters if a.trained is False]


_PARTS = ("lora_A", "lora_B", "lora_embedding_A", "lora_embedding_B", "lora_magnitude_vector")
_SUFFIX_PART = re.compile(r"[A-Za-z0-9_-]+")


def _split_key(name: str, skip_prefix: bool = True) -> tuple[str, str] | None:
    """(module, LoRA part) of a saved tensor's name, in one pass over its dotted parts (a regex with a lazy
    module group backtracks quadratically on a long name)."""
    parts = name.split(".")
    skip = 2 if skip_prefix and parts[:2] == ["base_model", "model"] else 0
    for index in range(len(parts) - 1, skip, -1):
        if parts[index] in _PARTS:
            return ".".join(parts[skip:index]), parts[index]
        if not _SUFFIX_PART.fullmatch(parts[index]):
            return None
    return _split_key(name, False) if skip else None


def weights_beside(config_path: Path) -> Path | None:
    for name in (WEIGHTS, PICKLE_WEIGHTS):
        candidate = config_path.parent / name
        if candidate.is_file():
            return candidate
    return None


def audit(weights: Path, init_lora_weights=True) -> Audit:
    result = Audit(weights)
    if weights.name.endswith(".bin") or weights.suffix in (".pt", ".pth", ".ckpt"):
        result.not_applicable = (f"{weights.name} is a pickle; loralint never unpickles files "
                                 "(save with safe_serialization=True to audit it)")
        return result
    try:
        tensors, _ = read_header(weights)
    except (SafetensorsError, OSError) as exc:
        raise AuditError(str(exc)) from None
    if not tensors:
        result.broken = "the adapter holds no tensors (saved before the weights were gathered?)"
        return result
    if all(t.numel == 0 for t in tensors):
        result.broken = (f"all {len(tensors)} tensors are empty shape-[0] placeholders: a DeepSpeed ZeRO-3 save "
                         "without gathering the parameters (use `zero3_save_16bit_model` or gather before saving)")
        return result

    by_module: dict[str, AdapterWeights] = {}
    zero_init_tensors: list[TensorInfo] = []
    for tensor in tensors:
        found = _split_key(tensor.name)
        if found is None:
            continue  # modules_to_save copies, trainable tokens ...
        module, part = found
        entry = by_module.setdefault(module, AdapterWeights(module))
        entry.params += tensor.numel
        if part in ("lora_B", "lora_embedding_A") and tensor.name.endswith((".weight", part)):
            entry.zero_tensor = tensor.name
            zero_init_tensors.append(tensor)
    result.adapters = sorted(by_module.values(), key=lambda a: a.module)

    init = init_lora_weights
    if init not in ZERO_INIT and not (isinstance(init, str) and init.lower() in ("gaussian", "eva")):
        result.not_applicable = (f"init_lora_weights={init!r} does not start any matrix at zero, so a zero test "
                                 "cannot tell trained from untrained adapters")
        return result
    zero = all_zero(weights, zero_init_tensors)
    for entry in result.adapters:
        if entry.zero_tensor is not None:
            entry.trained = not zero[entry.zero_tensor]
    return result


def init_value(value):
    """An adapter config's `init_lora_weights` as PEFT reads it (absent or null: True)."""
    return True if value is None else value


def audit_saved(weights: Path, init_lora_weights, inventory) -> Audit:
    """Audit saved weights as their adapter config says they were initialised, with components from
    the base model's inventory when it resolved. Raises AuditError for unreadable weights."""
    result = audit(weights, init_lora_weights)
    assign_components(result, inventory)
    return result


def assign_components(result: Audit, inventory) -> None:
    """Components from the base model's inventory; otherwise the name up to its first layer index."""
    components = {m.name: m.component for m in inventory.modules} if inventory is not None else {}
    for entry in result.adapters:
        entry.component = components.get(entry.module) or _name_group(entry.module)


def _name_group(module: str) -> str:
    parts = module.split(".")
    for i, part in enumerate(parts):
        if part.isdigit():
            return ".".join(parts[:i]) or module
    return ".".join(parts[:2])


def collapse(names: list[str]) -> list[str]:
    """`a.0.x`, `a.1.x`, `a.2.x` -> `a.{0-2}.x`: each distinct shape once, indices as ranges."""
    groups: dict[str, list[int]] = defaultdict(list)
    plain = []
    for name in names:
        match = re.search(r"\.(\d+)\.", name)
        if match is None:
            plain.append(name)
            continue
        shape = name[: match.start(1)] + "{}" + name[match.end(1):]
        groups[shape].append(int(match.group(1)))
    out = list(plain)
    for shape, indices in groups.items():
        out.append(shape.replace("{}", "{" + _ranges(sorted(set(indices))) + "}", 1))
    return sorted(out)


def _ranges(values: list[int]) -> str:
    parts, start, previous = [], values[0], values[0]
    for value in values[1:] + [None]:
        if value is not None and value == previous + 1:
            previous = value
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if value is not None:
            start = previous = value
    return ",".join(parts)
