"""LL003 target-matches-nothing: an entry of target_modules or exclude_modules names no module."""

from loralint.rule import RuleContext

CODE = "LL003"
NAME = "target-matches-nothing"
SEVERITY = "error"
FIX = None
SUMMARY = "An entry of a target_modules or exclude_modules list matches no module of the model."


def check(ctx: RuleContext):
    analysis = ctx.analysis
    result = analysis.result
    if result is None or analysis.refused:
        return
    model = analysis.inventory.model_class
    for field, entries in (("target_modules", result.dead_target_entries), ("exclude_modules", result.dead_exclude_entries)):
        if not entries:
            continue
        names = ", ".join(f"`{e}`" for e in entries)
        verb = "matches" if len(entries) == 1 else "match"
        message = (f"{names} in {field} {verb} no module of {model}; PEFT ignores "
                   f"{'it' if len(entries) == 1 else 'them'} silently")
        yield ctx.diagnostic(message, ctx.span_for(field))


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
]
