"""PEFT's `adapter_config.json`: the config a saved LoRA adapter carries."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..matching import LoraSpec
from ..site import Site

ADAPTER_CONFIG_NAME = "adapter_config.json"
MAX_JSON_BYTES = 16 * 1024 * 1024


class FrontEndError(Exception):
    """The file is ours but cannot be read; the message says where and why."""

    def __init__(self, message: str, line: int = 1, column: int = 1):
        super().__init__(message)
        self.line = line
        self.column = column


def _reject_constant(value: str):
    raise ValueError(f"{value} is not valid JSON")


def load_json_text(text: str, path: Path):
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise FrontEndError(f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except RecursionError:
        raise FrontEndError("JSON nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity, or an integer too long to convert
        raise FrontEndError(f"invalid JSON: {exc}") from None


def _key_line(text: str, key: str) -> int:
    match = re.search(rf'"{re.escape(key)}"\s*:', text)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def spec_from_peft_dict(data: dict) -> LoraSpec:
    def get(key, default=None):
        value = data.get(key, default)
        return default if value is None else value

    r = data.get("r", 8)
    return LoraSpec(
        target_modules=data.get("target_modules"),
        exclude_modules=data.get("exclude_modules"),
        layers_to_transform=data.get("layers_to_transform"),
        layers_pattern=data.get("layers_pattern"),
        modules_to_save=data.get("modules_to_save"),
        r=r,
        rank_pattern=dict(get("rank_pattern", {})),
        use_dora=bool(get("use_dora", False)),
        lora_bias=bool(get("lora_bias", False)),
        target_parameters=data.get("target_parameters"),
        task_type=data.get("task_type"),
    )


def read_adapter_config(path: Path) -> list[Site]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FrontEndError(f"cannot read file: {exc.strerror or exc}") from None
    if len(raw) > MAX_JSON_BYTES:
        raise FrontEndError(f"file is larger than {MAX_JSON_BYTES // (1024 * 1024)} MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FrontEndError(f"not UTF-8 (byte {exc.start})") from None
    data = load_json_text(text, path)
    if not isinstance(data, dict):
        raise FrontEndError("an adapter config must be a JSON object")
    peft_type = str(data.get("peft_type") or "LORA").upper()
    if peft_type != "LORA":
        return []  # another PEFT method: not ours to judge
    line = _key_line(text, "target_modules")
    try:
        spec = spec_from_peft_dict(data)
    except (TypeError, ValueError) as exc:
        raise FrontEndError(f"malformed LoRA settings: {exc}", line) from None
    model_ref = data.get("base_model_name_or_path")
    site = Site(
        file=str(path),
        line=line,
        framework="peft",
        model_ref=model_ref if isinstance(model_ref, str) and model_ref else None,
        lora=spec,
        relative_to=path.parent,
    )
    if site.model_ref is None:
        site.error = "`base_model_name_or_path` is missing, so the base model is unknown (pass --model)"
    return [site]
