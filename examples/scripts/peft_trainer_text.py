"""Plain PEFT + Trainer: a VLM fine-tuned on a text-only corpus."""
from datasets import load_dataset
from peft import LoraConfig, get_peft_model
from transformers import (
    AutoTokenizer,
    DataCollatorForLanguageModeling,
    Qwen2_5_VLForConditionalGeneration,
    Trainer,
    TrainingArguments,
)

MODEL_ID = "Qwen/Qwen2.5-VL-7B-Instruct"

tokenizer = AutoTokenizer.from_pretrained(MODEL_ID)
model = Qwen2_5_VLForConditionalGeneration.from_pretrained(MODEL_ID, torch_dtype="auto")

lora_config = LoraConfig(
    r=16,
    lora_alpha=32,
    # attention and MLP projections
    target_modules=["q_proj", "v_proj", "down_proj"],
    lora_dropout=0.05,
    task_type="CAUSAL_LM",
)
model = get_peft_model(model, lora_config)

dataset = load_dataset("tatsu-lab/alpaca", split="train")
trainer = Trainer(
    model=model,
    args=TrainingArguments(output_dir="out", per_device_train_batch_size=1),
    train_dataset=dataset,
    data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
)
trainer.train()
