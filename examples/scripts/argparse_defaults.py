"""Targets and model from the command line, with defaults."""
import argparse
import os

from peft import LoraConfig, get_peft_model
from transformers import AutoModelForImageTextToText, DataCollatorForLanguageModeling

parser = argparse.ArgumentParser()
parser.add_argument("--lora-target-modules", nargs="+", default=["q_proj", "k_proj", "v_proj", "o_proj"])
parser.add_argument("--rank", type=int, default=8)
args = parser.parse_args()

model_name = os.environ.get("BASE_MODEL", "google/gemma-3-4b-it")
model = AutoModelForImageTextToText.from_pretrained(model_name)
config = LoraConfig(r=args.rank, target_modules=args.lora_target_modules)
model = get_peft_model(model, config)
collator = DataCollatorForLanguageModeling(tokenizer=None, mlm=False)
