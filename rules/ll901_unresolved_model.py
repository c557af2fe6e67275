"""LL901 unresolved-model: the checks could not run for a LoRA site, and this says why."""

from loralint.rule import RuleContext

CODE = "LL901"
NAME = "unresolved-model"
SEVERITY = "warning"
FIX = None
SUMMARY = "The base model (or a setting that decides targeting) could not be resolved, so the checks did not run."


def check(ctx: RuleContext):
    analysis = ctx.analysis
    if not analysis.unresolved:
        return
    ref = analysis.site.model_ref
    what = f"model {ref!r}" if ref and analysis.inventory is None and not analysis.site.unknown else "this LoRA site"
    yield ctx.diagnostic(f"cannot check {what}: {analysis.unresolved}", ctx.site.call_span or ctx.span_for("target_modules"))


VALID = []
INVALID = [
    '''
model = AutoModelForCausalLM.from_pretrained("someorg/not-bundled-and-not-cached")
config = LoraConfig(target_modules=["q_proj"])
''',
    # the targets come from somewhere loralint cannot see
    '''
import json
model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2.5-7B-Instruct")
config = LoraConfig(target_modules=json.load(open("targets.json")))
''',
]
