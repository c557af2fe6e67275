"""Values a script takes from its command line, parsed the way its parser parses them.

HfArgumentParser (transformers) and TrlParser (TRL) over dataclasses: every field is `--name` (also
`--name-with-dashes`), list fields take `nargs="+"` and are never split on commas, bool fields take an
optional value (`--use_peft`, `--use_peft true`), `--flag=value` and `--flag value` both work, a repeated
flag's last value wins. argparse: the options the script declares (`nargs`, `type`, `action`).
TrlParser's `--config file.yaml` sets the defaults, and the flags override them.

TRL's own dataclasses are described here from TRL 1.16's source (`trl/trainer/model_config.py`,
`trl/scripts/utils.py`); the user's dataclasses are read from the script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .launch import UNKNOWN_WORD, Word


@dataclass(frozen=True)
class FlagSpec:
    kind: str  # str | int | float | bool | list
    default: object = None
    item: str = "str"  # the type of a list's items


# TRL 1.16 ModelConfig (the fields that decide LoRA and the model) and ScriptArguments
TRL_DATACLASSES = {
    "ModelConfig": {
        "model_name_or_path": FlagSpec("str"), "use_peft": FlagSpec("bool", False), "lora_r": FlagSpec("int", 16),
        "lora_alpha": FlagSpec("int", 32), "lora_target_modules": FlagSpec("list"),
        "lora_target_parameters": FlagSpec("list"), "lora_modules_to_save": FlagSpec("list"),
        "lora_task_type": FlagSpec("str", "CAUSAL_LM"), "use_dora": FlagSpec("bool", False),
        "use_rslora": FlagSpec("bool", False), "trust_remote_code": FlagSpec("bool", False),
        "load_in_4bit": FlagSpec("bool", False), "load_in_8bit": FlagSpec("bool", False),
    },
    "ScriptArguments": {"dataset_name": FlagSpec("str"), "dataset_config": FlagSpec("str"),
                        "dataset_train_split": FlagSpec("str", "train")},
    "SFTConfig": {"dataset_text_field": FlagSpec("str", "text"), "output_dir": FlagSpec("str")},
}
for _name in ("GRPOConfig", "DPOConfig", "KTOConfig", "RewardConfig", "TrainingArguments", "Seq2SeqTrainingArguments",
              "GKDConfig", "ORPOConfig", "CPOConfig", "OnlineDPOConfig", "RLOOConfig"):
    TRL_DATACLASSES[_name] = {"output_dir": FlagSpec("str")}
PARSERS = {"TrlParser", "HfArgumentParser", "trl.TrlParser", "transformers.HfArgumentParser"}
PARSE_METHODS = {"parse_args_and_config", "parse_args_into_dataclasses"}
_TRUE, _FALSE = {"true", "yes", "1", "t", "y"}, {"false", "no", "0", "f", "n"}


def spec_from_annotation(annotation: str, default) -> FlagSpec:
    """The flag kind HfArgumentParser derives from a field's annotation."""
    text = annotation.replace(" ", "")
    inner = re.sub(r"^(?:Optional\[(.*)\]|(.*)\|None|None\|(.*))$", lambda m: m.group(1) or m.group(2) or m.group(3), text)
    if re.match(r"^(?:list|List|tuple|Tuple|Sequence)\b", inner):
        item = re.search(r"\[(\w+)", inner)
        return FlagSpec("list", default, item.group(1) if item else "str")
    for kind in ("bool", "int", "float"):
        if inner == kind:
            return FlagSpec(kind, default)
    return FlagSpec("str", default)


@dataclass
class Given:
    """A value the command line gave: the value, and the words it was written as."""

    value: object
    words: list[Word] = field(default_factory=list)
    flag: Word | None = None


def parse_flags(words: list[Word], specs: dict[str, FlagSpec]) -> dict[str, Given]:
    """`--name value` pairs as HfArgumentParser reads them (unknown options are skipped with their values)."""
    out: dict[str, Given] = {}
    index = 0
    names = {}
    for name in specs:
        names[f"--{name}"] = name
        names[f"--{name.replace('_', '-')}"] = name
    while index < len(words):
        word = words[index]
        value = word.value
        index += 1
        if not isinstance(value, str) or not value.startswith("--"):
            continue
        option, has_inline, inline = value.partition("=")
        dest = names.get(option)
        negated = None
        if dest is None and option.startswith("--no_") and option[5:] in specs and specs[option[5:]].kind == "bool":
            dest, negated = option[5:], True
        if dest is None:
            continue
        spec = specs[dest]
        if has_inline:
            given = [Word(inline, word.span, word.quoted)]
        else:
            given = []
            while index < len(words) and not _is_option(words[index].value):
                given.append(words[index])
                index += 1
                if spec.kind != "list":
                    break
        if negated:
            out[dest] = Given(False, [], word)
            continue
        out[dest] = Given(_convert(spec, given), given, word)
    return out


def _is_option(value) -> bool:
    return isinstance(value, str) and value.startswith("-") and not re.match(r"^-\d", value) and value != "-"


def _convert(spec: FlagSpec, given: list[Word]):
    if any(w.value is UNKNOWN_WORD for w in given):
        return UNKNOWN_WORD
    values = [w.value for w in given]
    if spec.kind == "bool":
        if not values:
            return True
        text = values[0].lower()
        return True if text in _TRUE else False if text in _FALSE else UNKNOWN_WORD
    if spec.kind == "list":
        return [_scalar(spec.item, v) for v in values] if values else UNKNOWN_WORD
    if not values:
        return UNKNOWN_WORD
    return _scalar(spec.kind, values[0])


def _scalar(kind: str, text: str):
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        return UNKNOWN_WORD
    if kind == "bool":
        return text.lower() in _TRUE
    return text
