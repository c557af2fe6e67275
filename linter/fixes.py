"""Rewrites that move adapters off dead modules, each verified on the inventory before it is offered.

A plan is offered only if matching the new config selects exactly the live modules the old one
selected, with the same LoRA parameters each, and PEFT would accept it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

from .analysis import Analysis
from .inventory import Inventory
from .matching import ALL_LINEAR, LoraSpec, match, suffix_match


@dataclass
class FixPlan:
    field: str  # the setting to write
    value: object  # its new value (a regex string, or a bool for a framework's flag)
    message: str
    also: dict = None  # further settings written by the same fix (e.g. Axolotl's lora_target_linear: false)


def covering_roots(names: set[str], forbidden: set[str]) -> list[str]:
    """The highest ancestors of `names` whose subtrees hold no forbidden module."""
    blocked = set()
    for name in forbidden:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            blocked.add(".".join(parts[:i]))
    roots = set()
    for name in names:
        best = name
        parts = name.split(".")
        for i in range(len(parts) - 1, 0, -1):
            ancestor = ".".join(parts[:i])
            if ancestor in blocked:
                break
            best = ancestor
        roots.add(best)
    # drop roots nested in other roots (an ancestor is a dotted prefix: linear in the names, not quadratic)
    def nested(root: str) -> bool:
        parts = root.split(".")
        return any(".".join(parts[:i]) in roots for i in range(1, len(parts)))

    return sorted(r for r in roots if not nested(r))


def natural_key(name: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


COMPONENT_ORDER = {"vision": 0, "audio": 1, "projector": 2, "language": 3, "head": 4}


def dead_roots(inventory: Inventory, dead_names: set[str], is_dead=None) -> list[str]:
    """Where dead adapters sit, as the sub-trees that hold nothing live (`model.visual`, ...),
    towers first, then projectors, then image-only language layers. `is_dead(module)` says what is dead
    (default: with text-only data)."""
    is_dead = is_dead or inventory.text_only_dead
    live = {m.name for m in inventory.modules if not is_dead(m)}
    component = {m.name: m.component for m in inventory.modules}
    roots = covering_roots(dead_names, live)
    return sorted(roots, key=lambda r: (COMPONENT_ORDER.get(component.get(r, "projector"), 2), natural_key(r)))


def _factored(escaped_relative: list[str], raw_relative: list[str]) -> str:
    r"""`layers\.3|layers\.8` -> `layers\.(?:3|8)` when the roots differ only by an index."""
    heads = {r.rpartition(".")[0] for r in raw_relative}
    tails = [r.rpartition(".")[2] for r in raw_relative]
    if len(heads) == 1 and all(t.isdigit() for t in tails) and len(tails) > 1:
        head = re.escape(heads.pop())
        return rf"{head}\.(?:{'|'.join(sorted(tails, key=int))})"
    return _alternation(escaped_relative)


def _alternation(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else "(?:" + "|".join(items) + ")"


def _selection(inventory: Inventory, spec: LoraSpec) -> dict[str, int] | None:
    """{module: LoRA parameters} PEFT would adapt with this spec, or None if it would refuse or crash."""
    try:
        result = match(inventory, spec)
    except re.error:
        return None
    if result.error or result.forward_crash:
        return None
    return {a.module.name: a.params for a in result.adapted}


def verify(inventory: Inventory, spec: LoraSpec, expected: dict[str, int]) -> bool:
    return _selection(inventory, spec) == expected


def _verified(inventory: Inventory, spec: LoraSpec, candidate: str, expected: dict[str, int]) -> str | None:
    """The candidate if it selects exactly the live modules; if it selects them and a few more (a Conv3d
    `patch_embed.proj` sharing a leaf name with the Linear `attn.proj`), the candidate minus those names."""
    selected = _selection(inventory, replace(spec, target_modules=candidate))
    if selected == expected:
        return candidate
    if selected is None or any(selected.get(name) != params for name, params in expected.items()):
        return None
    extra = sorted(set(selected) - set(expected), key=natural_key)
    if len(extra) > 16:
        return None
    narrowed = rf"(?!{_alternation(re.escape(name) for name in extra)}$)(?:{candidate})"
    return narrowed if verify(inventory, replace(spec, target_modules=narrowed), expected) else None


LANGUAGE_ONLY = "target only the language model"


def _target_candidates(inventory: Inventory, spec: LoraSpec, live: list[str], dead_subtrees: list[str]):
    """(pattern, what it does) for each rewrite worth trying, the most readable first."""
    language = inventory.language_prefixes()
    targets = spec.target_modules
    if isinstance(targets, (list, tuple)):
        leaves = [t for t in dict.fromkeys(targets) if any(suffix_match(n, t) for n in live)]
    else:
        # a numbered leaf (`merger.mlp.0`) keeps its parent: `0` alone would also name every layer 0
        leaves = list(dict.fromkeys(".".join(n.split(".")[-2:]) if n.rsplit(".", 1)[-1].isdigit() and "." in n
                                    else n.rsplit(".", 1)[-1] for n in live))
    # a pattern of the user's own is kept as written; a list or all-linear becomes the leaf names it hit
    own_pattern = isinstance(targets, str) and targets.lower() != ALL_LINEAR
    suffix = "(" + "|".join(re.escape(leaf) for leaf in leaves) + ")"
    if language:
        prefix = _alternation(re.escape(p) for p in language)
        yield rf"{prefix}\..*\.{suffix}", LANGUAGE_ONLY
        # language-side modules that only run with images (Mllama's cross-attention layers)
        image_only = set(inventory.image_only)
        if image_only:
            keep = {m.name for m in inventory.modules if m.component == "language" and m.name not in image_only}
            roots = covering_roots(image_only, keep)
            relative = [root[len(p) + 1:] for root in roots for p in language if root.startswith(p + ".")]
            if relative:
                excluded = _factored([re.escape(r) for r in relative], relative)
                yield rf"{prefix}\.(?!{excluded}\.).*\.{suffix}", LANGUAGE_ONLY
        if own_pattern:
            # keep the user's own pattern, anchored to the language model
            yield rf"(?={prefix}\.)(?:{targets})", LANGUAGE_ONLY
    # the user's targets minus the dead sub-trees (media data: a tower lives, a discarded layer does not)
    # many discarded layers of one tower factor into `layers\.(?:5|6|...)`
    excluded = _factored([re.escape(r) for r in dead_subtrees], dead_subtrees) if dead_subtrees else ""
    if dead_subtrees and (len(dead_subtrees) <= 16 or len(excluded) <= 400):
        chosen = targets if own_pattern else rf"(?:.*\.)?(?:{'|'.join(re.escape(t) for t in leaves)})"
        shown = ", ".join(f"`{r}`" for r in dead_subtrees[:3])
        more = f" and {len(dead_subtrees) - 3} more" if len(dead_subtrees) > 3 else ""
        yield rf"(?!{excluded}(?:\.|$))(?:{chosen})", f"leave out {shown}{more}"
    # exact, always right, never pretty
    yield "(" + "|".join(re.escape(n) for n in live) + ")", "target exactly the modules that train"


def _language_leaf_names(inventory: Inventory) -> list[str]:
    counts = Counter(
        m.name.rsplit(".", 1)[-1] for m in inventory.modules
        if m.component == "language" and m.kind == "linear" and not inventory.text_only_dead(m)
    )
    return [name for name, _ in counts.most_common(8)]


def plan_fix(analysis: Analysis) -> tuple[FixPlan | None, str]:
    """(plan, "") or (None, why no fix is offered). The site's front end may have a plan of its own (a
    trainer's flag); otherwise the generic plan below."""
    from . import frontends

    inventory, result = analysis.inventory, analysis.result
    dead = {a.module.name for a in analysis.dead_modules}
    expected = {a.module.name: a.params for a in result.adapted if a.module.name not in dead}
    if not expected:
        leaves = _language_leaf_names(inventory)
        hint = f"; its language model's linear layers are named {', '.join(f'`{n}`' for n in leaves)}" if leaves else ""
        return None, f"every selected module is dead, so no rewrite keeps the intent{hint}"
    return frontends.for_site(analysis.site).plan_fix(
        analysis, expected, lambda also=None: generic_plan(analysis, expected, dead, also))


def generic_plan(analysis: Analysis, expected: dict, dead: set, also: dict | None = None) -> tuple[FixPlan | None, str]:
    """An anchored target regex, or exclude_modules where PEFT forbids a regex (layers_to_transform)."""
    inventory, spec = analysis.inventory, analysis.spec
    if spec.layers_to_transform is not None or spec.layers_pattern:
        # PEFT forbids a regex target with layers_to_transform: exclude the dead sub-trees instead
        live_names = set(expected)
        roots = covering_roots(dead, live_names)
        pattern = _alternation(re.escape(r) for r in roots) + r"(?:\..*)?"
        existing = spec.exclude_modules
        if isinstance(existing, str) and existing:
            pattern = f"(?:{existing})|{pattern}"
        elif isinstance(existing, (list, tuple)) and existing:
            pattern = rf"(?:.*\.)?{_alternation(re.escape(e) for e in existing)}|{pattern}"
        if verify(inventory, replace(spec, exclude_modules=pattern), expected):
            return FixPlan("exclude_modules", pattern, "exclude the modules that never see gradient", also), ""
        return None, "no exclude_modules pattern leaves exactly the live modules"

    subtrees = dead_roots(inventory, dead, analysis.dead)
    valid = []
    for candidate, message in _target_candidates(inventory, spec, list(expected), subtrees):
        checked = _verified(inventory, spec, candidate, expected)
        if checked is not None:
            valid.append((checked, message))
    if not valid:
        return None, "no anchored pattern selects exactly the live modules"
    both = [(c, m) for c, m in valid if _valid_in_other_era(analysis, spec, c)]
    candidate, message = (both or valid)[0]
    if analysis.other_era_inventory is not None and not both:
        message += f" (valid with {analysis.era.describe()}; not with transformers 5's names)"
    return FixPlan("target_modules", candidate, message, also), ""


def _valid_in_other_era(analysis: Analysis, spec: LoraSpec, candidate) -> bool:
    """Does the rewrite also keep exactly the live modules with the other era's module names?"""
    other = analysis.other_era_inventory
    if other is None:
        return True
    original = match(other, spec)
    if original.error:
        return False
    expected = {a.module.name: a.params for a in original.adapted if not other.text_only_dead(a.module)}
    return bool(expected) and verify(other, replace(spec, target_modules=candidate), expected)
