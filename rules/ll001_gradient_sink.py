"""LL001 gradient-sink: text-only training with adapters on modules that never see gradient."""

from loralint.rule import SAFE, RuleContext, evidence_note, gradient_sink

CODE = "LL001"
NAME = "gradient-sink"
SEVERITY = "error"
FIX = SAFE
SUMMARY = "The data is text-only and the targets select vision, audio or projector modules."


def check(ctx: RuleContext):
    modality = ctx.analysis.modality
    if ctx.analysis.mix is None:
        return  # unknown data: LL002's question
    condition = "with text-only data" if modality == "text" else f"with {modality} data"
    finding = gradient_sink(ctx, condition)
    if finding is None:
        return
    fix = ctx.fix_from_plan(finding.plan, SAFE) if finding.plan else None
    value = "text" if modality == "text" else next((e.value for e in ctx.site.evidence if e.value != "text"), modality)
    message = finding.message + evidence_note(ctx.analysis, value)
    yield ctx.diagnostic(message, ctx.span_for("target_modules", "finetune_vision_layers", "lora_target_linear"), fix)


VALID = [
    # text-only data, targets on the language model only
    '''
from trl import SFTTrainer, SFTConfig
model = Qwen2_5_VLForConditionalGeneration.from_pretrained("Qwen/Qwen2.5-VL-7B-Instruct")
config = LoraConfig(r=16, target_modules=r"model\\.language_model\\..*\\.(q_proj|v_proj|down_proj)")
trainer = SFTTrainer(model=model, peft_config=config, args=SFTConfig(dataset_text_field="text"))
''',
    # the same targets on a text-only model are all live
    '''
model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2.5-7B-Instruct")
model = get_peft_model(model, LoraConfig(target_modules=["q_proj", "v_proj", "down_proj"]))
collator = DataCollatorForLanguageModeling(tokenizer=None, mlm=False)
''',
]

INVALID = [
    '''
from trl import SFTTrainer, SFTConfig
model = Qwen2_5_VLForConditionalGeneration.from_pretrained("Qwen/Qwen2.5-VL-7B-Instruct")
config = LoraConfig(r=16, target_modules=["q_proj", "v_proj", "down_proj"])
trainer = SFTTrainer(model=model, peft_config=config, args=SFTConfig(dataset_text_field="text"))
''',
]
