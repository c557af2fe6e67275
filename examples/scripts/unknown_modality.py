"""Nothing says what the data is: loralint warns instead of erroring."""
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForImageTextToText

model = AutoModelForImageTextToText.from_pretrained("Qwen/Qwen3-VL-2B-Instruct")
model = get_peft_model(model, LoraConfig(r=8, target_modules="all-linear"))
