"""Targets passed through a helper function, and a local JSONL data file with text only."""
from datasets import load_dataset
from peft import LoraConfig, get_peft_model
from transformers import LlavaForConditionalGeneration


def make_lora(targets, rank=16):
    return LoraConfig(r=rank, target_modules=targets)


model = LlavaForConditionalGeneration.from_pretrained("llava-hf/llava-1.5-7b-hf")
model = get_peft_model(model, make_lora(["q_proj", "v_proj", "fc1", "fc2"]))
data = load_dataset("json", data_files="data/chat.jsonl")
