"""A VLM fine-tuned on images: the vision tower trains, nothing to flag."""
from PIL import Image
from peft import LoraConfig, get_peft_model
from qwen_vl_utils import process_vision_info
from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

model = Qwen2_5_VLForConditionalGeneration.from_pretrained("Qwen/Qwen2.5-VL-7B-Instruct")
processor = AutoProcessor.from_pretrained("Qwen/Qwen2.5-VL-7B-Instruct")
model = get_peft_model(model, LoraConfig(target_modules=["q_proj", "v_proj", "down_proj"]))


def collate(examples):
    messages = [[{"role": "user", "content": [{"type": "image", "image": ex["image"]},
                                              {"type": "text", "text": ex["question"]}]}] for ex in examples]
    images, _ = process_vision_info(messages)
    return processor(text=[str(m) for m in messages], images=images, return_tensors="pt")
