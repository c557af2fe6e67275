"""PEFT's `adapter_config.json`: the config a saved LoRA adapter carries."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..diagnostics import span_at
from ..matching import LoraSpec
from ..problems import Kind, Problem
from ..site import Site
from .base import FrontEnd
from .errors import FrontEndError

ADAPTER_CONFIG_NAME = "adapter_config.json"


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
        rank_pattern=get("rank_pattern", {}),
        use_dora=get("use_dora", False),
        lora_bias=get("lora_bias", False),
        target_parameters=data.get("target_parameters"),
        task_type=data.get("task_type"),
    )


def sites_from_text(text: str, path: Path) -> list[Site]:
    data = load_json_text(text, path)
    if not isinstance(data, dict):
        raise FrontEndError("an adapter config must be a JSON object")
    peft_type = str(data.get("peft_type") or "LORA").upper()
    if peft_type != "LORA":
        return []  # another PEFT method: not ours to judge
    key = re.search(r'"target_modules"\s*:', text)
    start, end = (key.start(), key.end() - 1) if key else (0, 0)
    key_span = span_at(text, start, end)
    try:
        spec = spec_from_peft_dict(data)
    except (TypeError, ValueError) as exc:
        raise FrontEndError(f"malformed LoRA settings: {exc}", key_span.line) from None
    from dataclasses import fields

    from .types import first_wrong, refusal

    values = {f.name: getattr(spec, f.name) for f in fields(spec)}
    values["init_lora_weights"] = data.get("init_lora_weights", True) if data.get("init_lora_weights") is not None else True
    wrong = first_wrong(values)
    model_ref = data.get("base_model_name_or_path")
    site = Site(
        file=str(path),
        line=key_span.line,
        framework="peft",
        model_ref=model_ref if isinstance(model_ref, str) and model_ref else None,
        lora=spec,
        relative_to=path.parent,
        syntax="json",
        call_span=key_span,
        frontend=AdapterConfig.name,
    )
    _json_spans(site, text)
    if wrong is not None:
        field, accepted = wrong
        found = re.search(rf'"{field}"\s*:', text)
        span = span_at(text, found.start(), found.end() - 1) if found else key_span
        site.problem = Problem(Kind.WOULD_REFUSE, refusal(field, accepted, values[field]), span)
        site.lora = LoraSpec()
        from ..adapter_audit import weights_beside

        site.weights = weights_beside(path)
        site.weights_init = repr(values["init_lora_weights"])  # not a PEFT value: the zero test says nothing
        return [site]
    if site.model_ref is None:
        site.problem = Problem(Kind.NOT_STATIC,
                               "`base_model_name_or_path` is missing, so the base model is unknown (pass --model)")
    from ..adapter_audit import init_value, weights_beside

    site.weights = weights_beside(path)
    site.weights_init = init_value(data.get("init_lora_weights"))
    return [site]


def _json_spans(site: Site, text: str) -> None:
    """Value spans for fixes, from the YAML composer's marks (JSON is YAML flow style)."""
    from .. import safe_yaml

    try:
        node = safe_yaml.compose(text)
    except FrontEndError:
        return  # strict JSON loaded fine; without spans the diagnostics just offer no fix
    keys = safe_yaml.top_level(node)
    for field in ("target_modules", "exclude_modules"):
        if field in keys:
            value = keys[field][1]
            site.spans[field] = span_at(text, value.start_mark.index, value.end_mark.index)
            site.origins[field] = "literal"
    site.anchor = site.spans.get("target_modules")


class AdapterConfig(FrontEnd):
    """PEFT's adapter_config.json, and the saved weights beside it (audited)."""

    name = "adapter-config"
    filenames = (ADAPTER_CONFIG_NAME,)
    comment = None  # JSON has no comments

    def sites(self, path: Path, text: str) -> list[Site]:
        return sites_from_text(text, path)

    def still_parses(self, text: str) -> bool:
        try:
            load_json_text(text, Path(ADAPTER_CONFIG_NAME))
        except FrontEndError:
            return False
        return True
