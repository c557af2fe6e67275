"""A LoRA site: one LoRA configuration found in a file (or given on the command line)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .matching import LoraSpec


@dataclass
class Evidence:
    value: str  # text | multimodal
    reason: str
    line: int | None = None


@dataclass
class Site:
    file: str | None
    line: int | None
    framework: str  # peft | cli | trl | unsloth | axolotl | llamafactory ...
    model_ref: str | None
    lora: LoraSpec
    model_class: str | None = None
    column: int = 1
    modality: str = "unknown"  # text | multimodal | unknown
    evidence: list[Evidence] = field(default_factory=list)
    relative_to: Path | None = None  # where relative model paths start
    error: str | None = None  # the front end could not read the LoRA settings
