"""Unsloth's FastVisionModel used on a text-only dataset, vision layers left on."""
from unsloth import FastVisionModel
from trl import SFTConfig, SFTTrainer
from datasets import load_dataset

model, tokenizer = FastVisionModel.from_pretrained(
    "Qwen/Qwen2.5-VL-7B-Instruct",
    load_in_4bit=True,
)
model = FastVisionModel.get_peft_model(
    model,
    finetune_vision_layers=True,
    finetune_language_layers=True,
    finetune_attention_modules=True,
    finetune_mlp_modules=True,
    r=16,
    lora_alpha=16,
)
dataset = load_dataset("mlabonne/FineTome-100k", split="train")
trainer = SFTTrainer(model=model, tokenizer=tokenizer, train_dataset=dataset,
                     args=SFTConfig(dataset_text_field="text", output_dir="outputs"))
trainer.train()
