"""LL002 possible-gradient-sink: adapters on modules that never see gradient if the data is text-only."""

from loralint.rule import UNSAFE, RuleContext, gradient_sink

CODE = "LL002"
NAME = "possible-gradient-sink"
SEVERITY = "warning"
FIX = UNSAFE
SUMMARY = "The targets select vision, audio or projector modules, and the data's modality is unknown."


def check(ctx: RuleContext):
    if ctx.analysis.modality != "unknown":
        return
    finding = gradient_sink(ctx, "if the data is text-only")
    if finding is None:
        return
    fix = ctx.fix_from_plan(finding.plan, UNSAFE) if finding.plan else None
    message = finding.message + " (modality unknown: declare it with `# loralint: modality=text` or `--modality`)"
    yield ctx.diagnostic(message, ctx.span_for("target_modules", "finetune_vision_layers", "lora_target_linear"), fix)


VALID = [
    # images in the data: the vision tower trains
    '''
from qwen_vl_utils import process_vision_info
model = Qwen2_5_VLForConditionalGeneration.from_pretrained("Qwen/Qwen2.5-VL-7B-Instruct")
config = LoraConfig(target_modules=["q_proj", "v_proj", "down_proj"])
''',
]

INVALID = [
    '''
model = AutoModelForImageTextToText.from_pretrained("google/gemma-3-4b-it")
model = get_peft_model(model, LoraConfig(target_modules="all-linear"))
''',
]
