"""LL901 unresolved-model: the checks could not run for a LoRA site, and this says why."""

from loralint.problems import Kind
from loralint.rule import RuleContext

CODE = "LL901"
NAME = "unresolved-model"
SEVERITY = "warning"
FIX = None
SUMMARY = "The base model (or a setting that decides targeting) could not be resolved, so the checks did not run."


def check(ctx: RuleContext):
    analysis = ctx.analysis
    problem = analysis.unresolved
    if problem is not None:
        ref = analysis.site.model_ref
        what = f"model {ref!r}" if ref and problem.kind is Kind.MODEL_UNRESOLVED else "this LoRA site"
        way_out = f". To check it: {problem.help}" if problem.help else ""
        yield ctx.diagnostic(f"cannot check {what}: {problem.reason}{way_out}",
                             ctx.site.call_span or ctx.span_for("target_modules"))
    weights = analysis.problem(Kind.NOT_AUDITABLE, weights=True)
    if weights is not None:
        name = analysis.site.weights.name
        yield ctx.diagnostic(f"cannot audit {name}: {weights.reason}", ctx.file_start(), file=weights.file)


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
