"""LL004 peft-would-raise: PEFT would refuse this config on this model, or its first forward would crash."""

from loralint.matching import unmatched_entries
from loralint.problems import Kind
from loralint.rule import RuleContext, name_suggestions

CODE = "LL004"
NAME = "peft-would-raise"
SEVERITY = "error"
FIX = None
SUMMARY = "PEFT would refuse the config on this model, or the wrapped model would crash on its first step."


def check(ctx: RuleContext):
    analysis = ctx.analysis
    problem = analysis.problem(Kind.WOULD_REFUSE, Kind.FORWARD_CRASH)
    if problem is None:
        return
    # a trainer's own refusal can come before any model is known
    where = f"on {analysis.inventory.model_class}: " if analysis.inventory is not None else ""
    reason = problem.reason
    targets = analysis.spec.target_modules if analysis.spec is not None else None
    if isinstance(targets, (list, tuple)) and analysis.inventory is not None:
        names = [m.name for m in analysis.inventory.modules]
        reason += name_suggestions(analysis.inventory, unmatched_entries(names, targets))
    yield ctx.diagnostic(f"{where}{reason}", problem.span or ctx.span_for("target_modules", "layers_to_transform"))


VALID = [
    '''
model = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-3.1-8B-Instruct")
config = LoraConfig(target_modules=None)  # llama has PEFT default targets
''',
]

INVALID = [
    # Qwen2.5-VL has no PEFT default target list
    '''
model = Qwen2_5_VLForConditionalGeneration.from_pretrained("Qwen/Qwen2.5-VL-7B-Instruct")
config = LoraConfig(r=8)
''',
    # TRL's ModelConfig turns a one-entry list into a string, which PEFT reads as a full-match regex
    '''
from trl import ModelConfig, get_peft_config
args = ModelConfig(model_name_or_path="meta-llama/Llama-3.1-8B-Instruct", use_peft=True, lora_target_modules=["q_proj"])
peft_config = get_peft_config(args)
''',
    # a regex target together with layers_to_transform
    '''
model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2.5-7B-Instruct")
config = LoraConfig(target_modules=".*q_proj", layers_to_transform=[0, 1])
''',
]
