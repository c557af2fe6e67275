"""LL003 target-matches-nothing: an entry of target_modules or exclude_modules names no module."""

from dataclasses import replace

from loralint.matching import match
from loralint.rule import SAFE, UNSAFE, RuleContext, idle_excludes, name_suggestions

CODE = "LL003"
NAME = "target-matches-nothing"
SEVERITY = "error"
FIX = SAFE
SUMMARY = "An entry of a target_modules or exclude_modules list matches no module of the model."


def check(ctx: RuleContext):
    analysis = ctx.analysis
    result = analysis.result
    if result is None or analysis.refused:
        return
    model = analysis.inventory.model_class
    # names a trainer turned into target_parameters (Unsloth's fused MoE experts) are not dead
    covered = {p.rsplit(".", 1)[-1] for p in (analysis.spec.target_parameters or [])}
    if "gate_up_proj" in covered:
        covered |= {"gate_proj", "up_proj"}
    for field, entries in (("target_modules", [e for e in result.dead_target_entries if e not in covered]),
                           ("exclude_modules", result.dead_exclude_entries)):
        if not entries:
            continue
        names = ", ".join(f"`{e}`" for e in entries)
        verb = "matches" if len(entries) == 1 else "match"
        message = (f"{names} in {field} {verb} no module of {model}; PEFT ignores "
                   f"{'it' if len(entries) == 1 else 'them'} silently{name_suggestions(analysis.inventory, entries)}")
        fix = None
        if ctx.site.list_note and any(set(e) & set(".*[]()|^$+?\\") for e in entries):
            message += f" ({ctx.site.list_note})"
        if field == "target_modules" and any("," in e for e in entries):
            message += (" (a list flag is not split on commas: `--lora_target_modules a, b` passes `a,` and `b`)"
                        if ctx.site.syntax in ("shell", "docstring") else " (the commas are part of the names)")
            fix = _without_commas(ctx)
        yield ctx.diagnostic(message, ctx.span_for(field), fix)
    idle = idle_excludes(analysis)
    if idle:
        names = ", ".join(f"`{e}`" for e in idle)
        yield ctx.diagnostic(
            f"{names} in exclude_modules {'excludes' if len(idle) == 1 else 'exclude'} none of the targeted modules: "
            "a list entry matches whole module names by suffix, so a container's name (a tower, a projector) "
            "leaves the Linear layers under it targeted; write a pattern string instead, e.g. "
            f"exclude_modules=r\".*\\.{idle[0]}\\..*\"", ctx.span_for("exclude_modules"))


def _without_commas(ctx: RuleContext):
    """The list split on its commas, as the user meant it; safe when it puts no adapter on a dead module."""
    from loralint import frontends
    from loralint.diagnostics import Fix

    analysis, site = ctx.analysis, ctx.site
    if "target_modules" not in site.spans:
        return None
    cleaned = list(dict.fromkeys(part.strip() for entry in site.lora.target_modules for part in entry.split(",")
                                 if part.strip()))
    result = match(analysis.inventory, replace(analysis.spec, target_modules=cleaned))
    if result.error or result.dead_target_entries:
        return None
    from loralint.rule import OVERRIDABLE_ORIGINS

    adds_dead = any(analysis.inventory.text_only_dead(a.module) for a in result.adapted)
    applicability = UNSAFE if adds_dead or site.origins.get("target_modules") in OVERRIDABLE_ORIGINS else SAFE
    frontend = frontends.for_site(site)
    edit, _ = frontend.edit_for(site, ctx.text, "target_modules", cleaned)
    if edit is None:
        return None
    return Fix(applicability, f"split the entries on their commas: {frontend.spell(site, cleaned)}", [edit])


VALID = [
    '''
model = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-3.1-8B-Instruct")
config = LoraConfig(target_modules=["q_proj", "v_proj"])  # loralint: modality=text
''',
]

INVALID = [
    # GPT-2 style names on a Llama: c_attn matches nothing, q_proj still matches
    '''
model = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-3.1-8B-Instruct")
config = LoraConfig(target_modules=["q_proj", "c_attn"])
''',
    # a container name in an exclude list excludes nothing under it
    '''
model = LlavaForConditionalGeneration.from_pretrained("llava-hf/llava-1.5-7b-hf")
config = LoraConfig(target_modules="all-linear", exclude_modules=["vision_tower"])
''',
]
