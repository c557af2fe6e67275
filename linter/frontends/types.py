"""The types PEFT's LoraConfig accepts, checked once where a front end has read the values: a value of
another type is what PEFT (or the trainer) would refuse, reported at its key, never an internal error."""

from __future__ import annotations

MAX_RANK = 2 ** 31 - 1


def _strings(value) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def _ints(value) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)


CHECKS = {
    "target_modules": (lambda v: v is None or isinstance(v, str) or _strings(v), "a string or a list of strings"),
    "exclude_modules": (lambda v: v is None or isinstance(v, str) or _strings(v), "a string or a list of strings"),
    "layers_to_transform": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)) or _ints(v),
                            "an integer or a list of integers"),
    "layers_pattern": (lambda v: v is None or isinstance(v, str) or _strings(v), "a string or a list of strings"),
    "modules_to_save": (lambda v: v is None or _strings(v), "a list of strings"),
    "target_parameters": (lambda v: v is None or isinstance(v, str) or _strings(v), "a string or a list of strings"),
    "r": (lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_RANK, "a positive integer"),
    "rank_pattern": (lambda v: v is None or (isinstance(v, dict) and all(isinstance(k, str) for k in v)
                                             and _ints(list(v.values()))), "a mapping of patterns to integers"),
    "use_dora": (lambda v: isinstance(v, bool), "true or false"),
    "lora_bias": (lambda v: isinstance(v, bool), "true or false"),
    "task_type": (lambda v: v is None or isinstance(v, str), "a string"),
    "init_lora_weights": (lambda v: isinstance(v, (bool, str)), "true, false or the name of an initialisation"),
}


def first_wrong(values: dict) -> tuple[str, str] | None:
    """(field, what PEFT accepts) for the first value of a type PEFT would refuse, or None."""
    for field, value in values.items():
        check = CHECKS.get(field)
        if check is not None and not check[0](value):
            return field, check[1]
    return None


def refusal(field: str, accepted: str, value, key: str | None = None) -> str:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"`{key or field}` is {shown}, but PEFT's LoraConfig takes {accepted} there"
