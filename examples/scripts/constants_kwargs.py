"""Settings in module constants and a **kwargs dict (Llama 3.2 Vision, text-only)."""
import torch
from peft import LoraConfig as LC, get_peft_model
from transformers import MllamaForConditionalGeneration

BASE = "meta-llama/Llama-3.2-11B-Vision-Instruct"
ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]
MLP = ("gate_proj", "up_proj", "down_proj")
LORA_KWARGS = {
    "r": 32,
    "target_modules": ATTENTION + list(MLP),
    "lora_alpha": 64,
}

model = MllamaForConditionalGeneration.from_pretrained(BASE, torch_dtype=torch.bfloat16)
model = get_peft_model(model, LC(**LORA_KWARGS))  # loralint: modality=text
