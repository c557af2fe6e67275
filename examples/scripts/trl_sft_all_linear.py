"""TRL SFTTrainer with all-linear on Gemma 3, text-only chat data."""
from datasets import load_dataset
from peft import LoraConfig
from trl import SFTConfig, SFTTrainer

dataset = load_dataset("HuggingFaceH4/ultrachat_200k", split="train_sft")

peft_config = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM")

trainer = SFTTrainer(
    model="google/gemma-3-4b-it",
    train_dataset=dataset,
    peft_config=peft_config,
    args=SFTConfig(output_dir="gemma-sft", max_length=2048),
)
trainer.train()
