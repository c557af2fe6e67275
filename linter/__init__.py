"""loralint: a static linter for LoRA fine-tuning configurations."""

__version__ = "0.1.0"
