"""PEFT's LoRA target matching, reproduced on an inventory (peft 0.21).

Mirrors, in order: `LoraConfig.__post_init__` validation, `LoraModel._prepare_adapter_config`
(per-model-type defaults), `_maybe_include_all_linear_layers`, `check_target_module_exists`,
`_set_trainable` (modules_to_save), `LoraModel._create_new_module` (what LoRA can wrap) and the
`NoMatchingPeftModuleError` branches of `BaseTuner.inject_adapter`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from math import prod

from .arch import LORA_BREAKS_FORWARD
from .inventory import (
    ALL_LINEAR_KINDS,
    CONV1D,
    CONV2D,
    CONV3D,
    EMBEDDING,
    LORA_WRAPPABLE,
    MHA,
    Inventory,
    Module,
)
from .peft_data import (
    ALL_LINEAR,
    DEFAULT_TARGET_MODULES,
    MOE_CONVERTED_MODEL_TYPES,
    MOE_FUSED_TARGETS,
    MOE_TARGET_MODULE_MAPPING,
    SEQ_CLS_HEAD_NAMES,
)

@dataclass
class LoraSpec:
    """The LoRA arguments that decide where adapters go and how big they are."""

    target_modules: object = None  # None | str | list[str]
    exclude_modules: object = None  # None | str | list[str]
    layers_to_transform: object = None  # None | int | list[int]
    layers_pattern: object = None  # None | str | list[str]
    modules_to_save: list[str] | None = None
    r: int = 8
    rank_pattern: dict = field(default_factory=dict)
    use_dora: bool = False
    lora_bias: bool = False
    target_parameters: list[str] | None = None
    task_type: str | None = None

    def describe(self) -> dict:
        out = {"target_modules": _jsonable(self.target_modules), "r": self.r}
        for key in ("exclude_modules", "layers_to_transform", "layers_pattern", "modules_to_save", "target_parameters"):
            value = getattr(self, key)
            if value not in (None, [], ""):
                out[key] = _jsonable(value)
        if self.rank_pattern:
            out["rank_pattern"] = dict(self.rank_pattern)
        if self.use_dora:
            out["use_dora"] = True
        if self.lora_bias:
            out["lora_bias"] = True
        return out


def _jsonable(value):
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    return value


@dataclass
class Adapted:
    module: Module
    r: int
    params: int


@dataclass
class MatchResult:
    adapted: list[Adapted] = field(default_factory=list)
    saved: list[Module] = field(default_factory=list)  # modules_to_save: full trainable copies
    error: str | None = None  # what PEFT would raise, when it would
    # Entries of a list target_modules / exclude_modules that match no module at all.
    dead_target_entries: list[str] = field(default_factory=list)
    dead_exclude_entries: list[str] = field(default_factory=list)
    effective_targets: object = None  # target_modules after defaults / all-linear expansion
    # PEFT accepts the config, but the first forward crashes on a wrapped module (arch.LORA_BREAKS_FORWARD).
    forward_crash: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def total_params(self) -> int:
        return sum(a.params for a in self.adapted)


class PeftWouldRaise(Exception):
    pass


# PEFT's exception, in loralint's words (PEFT's own texts carry typos and advice for a running program)
RAISES = "get_peft_model would raise ValueError: "


def suffix_match(name: str, entry: str) -> bool:
    """PEFT's test for a list entry: the module name is the entry or ends with "." + entry."""
    return name == entry or name.endswith("." + entry)


def unmatched_entries(names, entries) -> list[str]:
    """The list entries (first occurrence, in order) that no module name matches by PEFT's suffix test."""
    return [entry for entry in dict.fromkeys(entries) if not any(suffix_match(name, entry) for name in names)]


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def _unbounded(op, av) -> bool:
    import re._parser as sre_parse  # noqa: PLC0415 - the stdlib's own regex parser

    return op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT) and av[1] > 1


def _children(op, av):
    import re._parser as sre_parse  # noqa: PLC0415

    if op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT):
        return [av[2]]
    if op is sre_parse.SUBPATTERN:
        return [av[-1]]
    if op is sre_parse.BRANCH:
        return list(av[1])
    if op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
        return [av[1]]
    return []


def _has_unbounded(items) -> bool:
    return any(_unbounded(op, av) or any(_has_unbounded(c) for c in _children(op, av)) for op, av in items)


def _nested_unbounded(items) -> bool:
    """True if an unbounded repetition contains another one (`(a+)+`, `(.*)*`)."""
    for op, av in items:
        if _unbounded(op, av) and _has_unbounded(av[2]):
            return True
        if any(_nested_unbounded(c) for c in _children(op, av)):
            return True
    return False


def catastrophic_pattern(pattern: str) -> bool:
    """Nested unbounded repetition can backtrack exponentially on a module name: not evaluated."""
    import re._parser as sre_parse  # noqa: PLC0415

    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return False  # invalid patterns are reported by validate_spec
    return _nested_unbounded(list(parsed))


def patterns_of(spec: LoraSpec) -> list[str]:
    """Every regular expression PEFT would run for this spec."""
    out = []
    if isinstance(spec.target_modules, str):
        out.append(spec.target_modules)
    if isinstance(spec.exclude_modules, str):
        out.append(spec.exclude_modules)
    saved = spec.modules_to_save if isinstance(spec.modules_to_save, (list, tuple)) else []
    out.extend(rf"(^|.*\.){m}($|\..*)" for m in saved if isinstance(m, str))
    out.extend(str(k) for k in (spec.rank_pattern if isinstance(spec.rank_pattern, dict) else {}))
    layers = spec.layers_pattern
    if isinstance(layers, str):
        out.append(layers)
    elif isinstance(layers, (list, tuple)):
        out.extend(p for p in layers if isinstance(p, str))
    return out


def validate_spec(spec: LoraSpec) -> None:
    """`LoraConfig.__post_init__` checks that concern targeting."""
    if isinstance(spec.target_modules, str) and spec.layers_to_transform is not None:
        raise PeftWouldRaise("LoraConfig would raise ValueError: `layers_to_transform` cannot be used when `target_modules` is a str")
    if isinstance(spec.target_modules, str) and spec.layers_pattern is not None:
        raise PeftWouldRaise("LoraConfig would raise ValueError: `layers_pattern` cannot be used when `target_modules` is a str")
    if spec.layers_pattern and spec.layers_to_transform is None:
        raise PeftWouldRaise(RAISES + "`layers_pattern` is set without `layers_to_transform`, which it needs")
    for name in ("target_modules", "exclude_modules"):
        value = getattr(spec, name)
        if value is not None and not isinstance(value, (str, list, tuple, set, frozenset)):
            raise PeftWouldRaise(f"`{name}` must be a string, a list of strings or None, not {type(value).__name__}")
        if isinstance(value, (list, tuple, set, frozenset)) and not all(isinstance(v, str) for v in value):
            raise PeftWouldRaise(f"every entry of `{name}` must be a string")
    if spec.modules_to_save is not None and not (
            isinstance(spec.modules_to_save, (list, tuple)) and all(isinstance(m, str) for m in spec.modules_to_save)):
        raise PeftWouldRaise("`modules_to_save` must be a list of strings")
    if not isinstance(spec.rank_pattern, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in spec.rank_pattern.values()):
        raise PeftWouldRaise("`rank_pattern` must map patterns to integer ranks")
    layers = spec.layers_to_transform
    if layers is not None and not (isinstance(layers, int) and not isinstance(layers, bool)) and not (
            isinstance(layers, (list, tuple)) and all(isinstance(i, int) and not isinstance(i, bool) for i in layers)):
        raise PeftWouldRaise("`layers_to_transform` must be an integer or a list of integers")
    pattern = spec.layers_pattern
    if pattern is not None and not isinstance(pattern, str) and not (
            isinstance(pattern, (list, tuple)) and all(isinstance(p, str) for p in pattern)):
        raise PeftWouldRaise("`layers_pattern` must be a string or a list of strings")
    for pattern in patterns_of(spec):
        try:
            re.compile(pattern)
        except (re.error, RecursionError, OverflowError) as exc:
            raise PeftWouldRaise(f"invalid regular expression {pattern!r}: {exc}") from None


def _exclusion_checker(spec: LoraSpec):
    exclude = spec.exclude_modules
    modules_to_save = spec.modules_to_save or []
    save_res = [re.compile(rf"(^|.*\.){m}($|\..*)") for m in modules_to_save]

    def is_excluded(key: str) -> bool:
        if exclude:
            if isinstance(exclude, str):
                if re.fullmatch(exclude, key):
                    return True
            elif any(suffix_match(key, e) for e in exclude):
                return True
        return any(r.match(key) for r in save_res)

    return is_excluded


_LAYER_INDEX_ANY = re.compile(r".*?\.[^.]*\.(?P<idx>\d+)\.")


def _layer_index(key: str, layers_pattern) -> int | None:
    if layers_pattern is None or len(layers_pattern) == 0:
        match = _LAYER_INDEX_ANY.match(key)
    else:
        patterns = [layers_pattern] if isinstance(layers_pattern, str) else layers_pattern
        match = None
        for pattern in patterns:
            match = re.match(rf"(?:^|.*?\.){pattern}\.(?P<idx>\d+)\.", key)
            if match is not None:
                break
    if match is None:
        return None
    idx = match.groupdict().get("idx")
    return None if idx is None else int(idx)


def _target_checker(spec: LoraSpec, targets):
    """`check_target_module_exists` minus the exclusion part."""
    if isinstance(targets, str):
        compiled = re.compile(targets)
        return lambda key: compiled.fullmatch(key) is not None

    target_set = set(targets)
    suffixes = tuple("." + t for t in target_set)
    layer_indexes = spec.layers_to_transform
    using_layer_indexes = layer_indexes is not None and (
        len(layer_indexes) != 0 if isinstance(layer_indexes, list) else True
    )

    def check(key: str) -> bool:
        if key in target_set:
            return True
        found = key.endswith(suffixes)
        if using_layer_indexes and found:
            index = _layer_index(key, spec.layers_pattern)
            if index is None:
                return False
            if isinstance(layer_indexes, int):
                return index == layer_indexes
            return index in layer_indexes
        return found

    return check


def _rank_for(spec: LoraSpec, key: str, rank_pattern: dict | None = None) -> int:
    # peft.utils.other.get_pattern_key: first rank_pattern key (dict order) matching the name's tail
    for pattern, rank in (spec.rank_pattern if rank_pattern is None else rank_pattern).items():
        if re.match(rf"(.*\.)?({pattern})$", key):
            return rank
    return spec.r


def lora_params(module: Module, r: int, use_dora: bool = False, lora_bias: bool = False) -> int:
    """Trainable parameters PEFT adds to one module (lora_A, lora_B, DoRA magnitude, LoRA bias)."""
    kind, dims = module.kind, module.dims
    if kind == EMBEDDING:
        num, dim = dims
        count = r * (num + dim)
        out = dim
    elif kind in (CONV1D, CONV2D, CONV3D):
        in_ch, out_ch, *kernel, groups = dims
        count = in_ch * r * prod(kernel) + out_ch * (r // groups)
        out = out_ch
    elif kind == MHA:
        embed_dim, out_dim = dims
        # in_proj (E -> 3E) and out_proj (E -> out) each get a LoRA pair
        count = r * (embed_dim + 3 * embed_dim) + r * (embed_dim + out_dim)
        out = 3 * embed_dim + out_dim
    else:
        in_f, out_f = dims
        count = r * (in_f + out_f)
        out = out_f
    if use_dora:
        count += out
    if lora_bias:
        count += out
    return count


def _all_linear_targets(inventory: Inventory, spec: LoraSpec) -> set[str]:
    names = {m.name for m in inventory.modules if m.kind in ALL_LINEAR_KINDS}
    if inventory.output_embedding is not None:
        names.discard(inventory.output_embedding)
    elif (spec.task_type or "").upper() == "SEQ_CLS":
        for head in SEQ_CLS_HEAD_NAMES:
            if head in names:
                names.discard(head)
                break
    return names


def _moe_conversion(inventory: Inventory, spec: LoraSpec, targets, result: MatchResult):
    """PEFT (transformers v5) turns expert targets of some MoE models into `target_parameters`
    (peft.utils.transformers_weight_conversion._convert_peft_config_moe). A string target is first
    resolved to the leaf names it matches, so a regex widens into a suffix list there.

    Returns (module targets left, parameter targets added, rank patterns added)."""
    base = MOE_CONVERTED_MODEL_TYPES.get(inventory.model_type)
    if base is None or inventory.transformers_version.startswith("4."):
        return targets, [], {}  # under transformers 4 the experts are modules: nothing to convert
    mapping = MOE_TARGET_MODULE_MAPPING[base]
    fused = MOE_FUSED_TARGETS.get(base, {})
    if not fused:
        return targets, [], {}
    if isinstance(targets, str):
        if targets.lower() == ALL_LINEAR:
            leaves = {name.rsplit(".", 1)[-1] for name in _all_linear_targets(inventory, spec)} | set(mapping)
        else:
            compiled = re.compile(targets)
            keys = [m.name for m in inventory.modules] + [f"{m}.{p}" for m, p, _ in inventory.parameters]
            leaves = {key.rsplit(".", 1)[-1] for key in keys if compiled.fullmatch(key)}
        if not leaves:
            return targets, [], {}
        targets = sorted(leaves)
        result.notes.append(f"PEFT resolves the string target_modules to the names {targets} on {inventory.model_type}")
    if targets is None:
        # The conversion runs before PEFT's per-model defaults and turns None into an empty set,
        # so on these models target_modules=None targets nothing.
        result.notes.append(f"on {inventory.model_type} PEFT turns target_modules=None into an empty set")
    remaining, parameters, present = [], [], {}
    for target in targets or []:
        old = next((o for o in mapping if suffix_match(target, o)), None)
        if old is None:
            remaining.append(target)
            continue
        parameters.append(mapping[old])
        if mapping[old] in fused:
            present.setdefault(mapping[old], set()).add(old)
    rank_patterns = {}
    for new_name, required in fused.items():
        have = present.get(new_name, set())
        if 0 < len(have) < len(required):
            missing = ", ".join(sorted(set(required) - have))
            raise PeftWouldRaise(
                RAISES + f"{', '.join(sorted(have))} cannot be targeted without {missing}, "
                f"because they are fused into {new_name}"
            )
        if len(have) == len(required) and len(required) > 1:
            rank_patterns[rf".*\.{re.escape(new_name)}"] = spec.r * len(required)
    if parameters:
        result.notes.append(
            f"on {inventory.model_type} PEFT moves {sorted(set(targets) - set(remaining))} to expert "
            f"target_parameters {sorted(set(parameters))}"
        )
    return remaining, parameters, rank_patterns


def _parameter_adapters(inventory: Inventory, spec: LoraSpec, targets: list[str], rank_pattern: dict) -> list[Adapted]:
    """`BaseTuner._inject_parameters`: a ParamWrapper per matched parameter. Several parameters of one module
    nest, in the module's parameter order: the first is innermost (`experts.base_layer`), the last outermost
    (`experts`), each a LoRA layer of its own."""
    if spec.use_dora:
        raise PeftWouldRaise(RAISES + "`use_dora` does not work with `target_parameters` (lora.ParamWrapper)")
    modules = {m.name: m for m in inventory.modules}
    by_module: dict[str, list[tuple[int, int]]] = {}
    for module_name, param_name, shape in inventory.parameters:
        key = f"{module_name}.{param_name}"
        if not any(suffix_match(key, t) for t in targets):
            continue
        num_experts, a, b = shape if len(shape) == 3 else (1, *shape)
        r = _rank_for(spec, key, rank_pattern)
        params = r * num_experts * (a + b) + (a if len(shape) == 2 and spec.lora_bias else 0)
        by_module.setdefault(module_name, []).append((r, params))
    out = []
    for module_name, wrappers in by_module.items():
        module = modules[module_name]
        for depth, (r, params) in enumerate(reversed(wrappers)):
            layer = module if depth == 0 else replace(module, name=module_name + ".base_layer" * depth)
            out.append(Adapted(layer, r, params))
    return out


def match(inventory: Inventory, spec: LoraSpec) -> MatchResult:
    """Which modules get an adapter, with their LoRA parameter counts, or the error PEFT would raise."""
    result = MatchResult()
    try:
        _match(inventory, spec, result)
    except PeftWouldRaise as exc:
        result.error = str(exc)
        result.adapted = []
    return result


def _match(inventory: Inventory, spec: LoraSpec, result: MatchResult) -> None:
    validate_spec(spec)
    if isinstance(spec.r, bool) or not isinstance(spec.r, int) or spec.r <= 0:
        raise PeftWouldRaise(RAISES + f"`r` must be a positive integer, not {spec.r}")

    targets = spec.target_modules
    if isinstance(targets, (list, tuple, set, frozenset)):
        targets = list(dict.fromkeys(targets))
    # Order of BaseTuner.inject_adapter: the v5 MoE conversion, then the per-model-type defaults.
    targets, converted_parameters, fused_ranks = _moe_conversion(inventory, spec, targets, result)
    rank_pattern = {**spec.rank_pattern, **fused_ranks}
    parameter_targets = sorted(set(spec.target_parameters or []) | set(converted_parameters))
    if targets is None:
        default = DEFAULT_TARGET_MODULES.get(inventory.model_type)
        if default is None:
            if not spec.target_parameters:
                raise PeftWouldRaise(
                    RAISES + f"`target_modules` is not set and PEFT has no default target modules for model_type "
                    f"{inventory.model_type!r}; set `target_modules` or `target_parameters`"
                )
        else:
            targets = default if isinstance(default, str) else list(default)
    if isinstance(targets, str) and targets.lower() == ALL_LINEAR:
        targets = sorted(_all_linear_targets(inventory, spec))
    result.effective_targets = targets

    is_excluded = _exclusion_checker(spec)
    names = [m.name for m in inventory.modules]
    excluded, unmatched = [], []
    # No module targets left (target_parameters only, or all converted): the module pass matches nothing.
    check = _target_checker(spec, targets) if targets else None

    for module in inventory.modules:
        key = module.name
        if is_excluded(key):
            excluded.append(key)
            continue
        if check is None or not check(key):
            unmatched.append(key)
            continue
        if module.kind not in LORA_WRAPPABLE:
            raise PeftWouldRaise(
                RAISES + f"target module `{key}` ({module.cls}) is not supported: LoRA wraps only Linear, "
                "Embedding, Conv1d/2d/3d, transformers' Conv1D and MultiheadAttention modules"
            )
        r = _rank_for(spec, key, rank_pattern)
        if module.kind in (CONV1D, CONV2D, CONV3D) and r % module.dims[-1]:
            raise PeftWouldRaise(RAISES + f"`r` must be divisible by the groups of `{key}` ({module.dims[-1]})")
        result.adapted.append(Adapted(module, r, lora_params(module, r, spec.use_dora, spec.lora_bias)))

    param_adapters = _parameter_adapters(inventory, spec, parameter_targets, rank_pattern) if parameter_targets else []
    if not result.adapted and not param_adapters:
        _raise_no_match(spec, targets, excluded, unmatched)
    result.adapted.extend(param_adapters)

    breaking = [a.module for a in result.adapted if a.module.cls in LORA_BREAKS_FORWARD]
    if breaking:
        first = breaking[0]
        result.forward_crash = (
            f"{len(breaking)} targeted module(s) such as `{first.name}` are {first.cls}, which "
            f"{LORA_BREAKS_FORWARD[first.cls]}; exclude them (e.g. exclude_modules=[\"{first.name.rsplit('.', 1)[-1]}\"])"
        )

    # modules_to_save: peft.utils.other._set_trainable uses a plain suffix test (no dot)
    if spec.modules_to_save:
        result.saved = [m for m in inventory.modules if any(m.name.endswith(s) for s in spec.modules_to_save)]

    if isinstance(spec.target_modules, (list, tuple, set, frozenset)):
        result.dead_target_entries = unmatched_entries(names, spec.target_modules)
    if isinstance(spec.exclude_modules, (list, tuple, set, frozenset)):
        result.dead_exclude_entries = unmatched_entries(names, spec.exclude_modules)


def _raise_no_match(spec: LoraSpec, targets, excluded: list, unmatched: list) -> None:
    # The branches of BaseTuner.inject_adapter's "CHECK FOR ERRORS" section, in order.
    layer_note = ""
    if spec.layers_to_transform is not None:
        layer_note += f" (with `layers_to_transform` {spec.layers_to_transform}"
    if spec.layers_pattern is not None:
        layer_note += f" and `layers_pattern` {spec.layers_pattern!r}"
    layer_note += ")" if layer_note else ""
    if excluded and not unmatched:
        raise PeftWouldRaise(
            RAISES + "`exclude_modules` excludes every module, so nothing is left to adapt; check `target_modules`, "
            "`exclude_modules` and `modules_to_save`"
        )
    if not excluded and unmatched and not targets:
        raise PeftWouldRaise(
            RAISES + "neither `target_modules` nor `target_parameters` selects anything"
        )
    if not excluded and unmatched:
        raise PeftWouldRaise(
            RAISES + f"no module matches `target_modules` "
            f"{_jsonable(spec.target_modules) if spec.target_modules is not None else targets!r}{layer_note}"
        )
    raise PeftWouldRaise(
        RAISES + "every module that `target_modules` matches is excluded by `exclude_modules` or "
        f"`modules_to_save`, so no module is adapted{layer_note}"
    )
