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
    where: str | None = None  # how to name the line when `line` is not the file's own (notebook cells)


@dataclass(frozen=True)
class Span:
    """A region of the file's text: offsets into the decoded text, 1-based line/column, end exclusive."""

    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int


@dataclass
class Site:
    file: str | None
    line: int | None  # 1-based; in a notebook, the line within `cell`
    framework: str  # peft | cli | trl | unsloth | axolotl | llamafactory ...
    model_ref: str | None
    lora: LoraSpec | None  # None: saved weights alone, nothing to match
    model_class: str | None = None
    column: int = 1
    modality: str = "unknown"  # text | multimodal | unknown
    evidence: list[Evidence] = field(default_factory=list)
    relative_to: Path | None = None  # where relative model paths start
    submodule: str = ""  # the part of the loaded model LoRA is applied to (`thinker` for get_peft_model(model.thinker))
    problem: object = None  # problems.Problem: why the front end could not give the settings (not statically known)
    frontend: str = "python"  # the registry name of the front end whose semantics apply (fixes, spelling)
    # Where each LoRA setting's value sits in the file, and how it was found (literal, constant,
    # argparse, env, parameter): what a fix may rewrite and how safe that is.
    spans: dict[str, Span] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    syntax: str = "python-call"  # python-call | python-dict | yaml | json: how to spell a new value
    key_names: dict[str, str] = field(default_factory=dict)  # LoRA field -> the file's key (trainer configs)
    anchor: Span | None = None  # where a new setting can be inserted after (end of an existing one)
    call_span: Span | None = None  # the whole LoRA call or block, where diagnostics without a value point
    # the trainer's own switches that decide targets (Unsloth's finetune_*, LLaMA-Factory's freeze_*, Axolotl's
    # lora_target_linear): the front end derives the targets from them and the inventory
    flags: dict[str, bool] = field(default_factory=dict)
    weights: Path | None = None  # saved adapter weights to audit
    weights_init: object = True  # their init_lora_weights
    dead_note: str | None = None  # what the trainer does to adapters on dead modules (said with LL001/LL002)
    list_note: str | None = None  # how the trainer reads target list entries (said with LL003 for pattern-like ones)
    notes: list[str] = field(default_factory=list)  # how the front end read the site (trainer version applied ...)
    variant: str | None = None  # one of several readings of the same call (`if` branches that disagree): which
    cell: int | None = None  # notebooks: the 1-based cell the site is in (spans stay in program coordinates)