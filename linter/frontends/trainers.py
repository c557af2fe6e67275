"""Training configs handed to a trainer: Axolotl, LLaMA-Factory and TRL YAML (or JSON).

Each trainer's own target semantics, read from its source:
- Axolotl 0.19 `axolotl/loaders/adapter.py: _build_peft_lora_config, find_all_linear_names`:
  `lora_target_linear: true` adds every Linear's leaf name (minus the output embedding) to
  `lora_target_modules` as a list, so a regex string turns into a literal name beside them; a string
  alone is a regex (re.fullmatch); nothing at all is an empty list (PEFT then raises).
- LLaMA-Factory 0.9.5 `llamafactory/model/adapter.py: _setup_lora_tuning` with
  `model_utils/misc.py: find_all_linear_modules` and `model_utils/visual.py: patch_target_modules`:
  `lora_target: all` takes every Linear's leaf name outside the projector (and the vision tower when
  `freeze_vision_tower`); on registered composite models the targets then become the full names of
  modules whose name contains a target and none of the frozen parts (`freeze_vision_tower` and
  `freeze_multi_modal_projector` default to true), so the trainer protects the tower by itself.
- TRL 1.16 `trl/trainer/model_config.py: ModelConfig.__post_init__` and `trainer/utils.py:
  get_peft_config`: a one-entry `lora_target_modules` list becomes that string (a regex for PEFT);
  nothing happens unless `use_peft: true`.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import yaml

from .. import safe_yaml
from ..diagnostics import span_at
from ..matching import LoraSpec
from ..site import Evidence, Site, Span
from ..trainer_data import LLAMAFACTORY_COMPOSITE_MODELS
from .errors import FrontEndError
from .data_evidence import TEXT_DATASETS, sniff_data_file

DECLARATION = re.compile(r"#\s*loralint:\s*modality\s*=\s*(text|multimodal)\b")

AXOLOTL_KEYS = {"adapter", "lora_target_modules", "lora_target_linear", "datasets", "sequence_len", "micro_batch_size"}
LLAMAFACTORY_KEYS = {"finetuning_type", "lora_target", "stage", "template", "freeze_vision_tower"}
TRL_KEYS = {"use_peft", "lora_target_modules", "dataset_name", "lora_r"}

# LLaMA-Factory's bundled demo datasets (data/dataset_info.json), by what they carry
LLAMAFACTORY_TEXT_DATASETS = {"identity", "alpaca_en_demo", "alpaca_zh_demo", "glaive_toolcall_en_demo",
                              "glaive_toolcall_zh_demo", "c4_demo", "dpo_en_demo", "dpo_zh_demo", "kto_en_demo"}
LLAMAFACTORY_MEDIA_DATASETS = {"mllm_demo", "mllm_audio_demo", "mllm_video_demo", "mllm_video_audio_demo"}
AXOLOTL_TEXT_TYPES = {"alpaca", "completion", "pretrain", "oasst", "sharegpt", "input_output", "alpaca_chat",
                      "alpaca_w_system", "explainchoice", "context_qa", "summarizetldr", "metharme"}


# a key at the start of a line (YAML) or after `{`/`,` (JSON on one line)
_MODEL_KEY = re.compile(r"""(?:^|[{,])\s*["']?(base_model|model_name_or_path)["']?\s*:""", re.M)
_LORA_KEY = re.compile(r"""(?:^|[{,])\s*["']?(adapter|lora_\w+|finetuning_type|use_peft)["']?\s*:""", re.M)


def looks_like_trainer_config(text: str) -> bool:
    """For files that do not parse: do they name a base model and LoRA settings (so they are ours)?"""
    head = text[:200_000]
    return bool(_MODEL_KEY.search(head) and _LORA_KEY.search(head))


def detect(data: dict) -> str | None:
    keys = set(data)
    if "base_model" in keys and keys & AXOLOTL_KEYS:
        return "axolotl"
    if "model_name_or_path" in keys and keys & LLAMAFACTORY_KEYS and not {"use_peft"} & keys:
        return "llamafactory"
    if "model_name_or_path" in keys and keys & TRL_KEYS:
        return "trl"
    return None


def sites_from_text(text: str, path: Path) -> list[Site]:
    node, data = safe_yaml.load(text)
    if not isinstance(data, dict):
        return []
    trainer = detect(data)
    if trainer is None:
        return []
    keys = safe_yaml.top_level(node)
    builder = {"axolotl": _axolotl, "llamafactory": _llamafactory, "trl": _trl}[trainer]
    site = builder(data, keys, text, path)
    if site is None:
        return []
    declared = DECLARATION.search(text)
    evidence = _evidence(trainer, data, keys, text, path)
    if declared:
        site.modality = declared.group(1)
        site.evidence = [Evidence(site.modality, "declared with `# loralint: modality=...`")] + evidence
    else:
        site.evidence = evidence
        values = {e.value for e in evidence}
        site.modality = "multimodal" if "multimodal" in values else "text" if "text" in values else "unknown"
    return [site]


# -- spans ---------------------------------------------------------------------------------------
def _value_span(text: str, key_node: yaml.Node, value_node: yaml.Node) -> Span:
    """The value as written, from after `key:` when it starts on a later line, without the trailing
    blank or comment-only lines PyYAML counts into a block node."""
    start, end = value_node.start_mark.index, value_node.end_mark.index
    if value_node.start_mark.line > key_node.end_mark.line:
        colon = text.index(":", key_node.end_mark.index)
        start = colon + 1
    lines = text[start:end].splitlines(keepends=True)
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith("#")):
        lines.pop()
    chunk = "".join(lines).rstrip()
    return span_at(text, start, start + len(chunk))


def _key_span(text: str, key_node: yaml.Node, value_node: yaml.Node) -> Span:
    return span_at(text, key_node.start_mark.index, _value_span(text, key_node, value_node).end)


def _fill(site: Site, keys: dict, text: str, mapping: dict[str, str]) -> None:
    """Spans of the settings a fix may rewrite; `mapping` is LoRA field -> file key."""
    site.key_names = dict(mapping)
    for field, key in mapping.items():
        if key in keys:
            key_node, value_node = keys[key]
            site.spans[field] = _value_span(text, key_node, value_node)
            site.origins[field] = "literal"
    anchor_key = mapping.get("target_modules")
    anchor = keys.get(anchor_key) if anchor_key else None
    if anchor is None:
        anchor = max(keys.values(), key=lambda kv: kv[1].end_mark.index, default=None)
    if anchor is not None:
        site.anchor = _value_span(text, *anchor)
        site.call_span = _key_span(text, *anchor)
    else:
        site.call_span = span_at(text, 0, 0)
    site.line = site.call_span.line


def _comma_list(value) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return [str(v).strip() for v in value]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _new_site(path: Path, framework: str, model_ref, spec: LoraSpec, syntax: str) -> Site:
    site = Site(file=str(path), line=1, framework=framework,
                model_ref=model_ref if isinstance(model_ref, str) and model_ref else None,
                lora=spec, relative_to=path.parent, syntax=syntax)
    if site.model_ref is None:
        site.unknown = "the config names no base model"
    return site


def _syntax(path: Path) -> str:
    return "json" if path.suffix == ".json" else "yaml"


# -- Axolotl -------------------------------------------------------------------------------------
def axolotl_linear_names(inventory) -> list[str]:
    """axolotl.loaders.adapter.find_all_linear_names on the inventory."""
    names = {m.name.split(".")[-1] for m in inventory.modules
             if m.kind == "linear" or ("Linear" in m.cls and m.cls != "LlamaLinearScalingRotaryEmbedding")}
    output = {"gpt_neox": "embed_out", "falcon": "lm_head", "nemotron_h": "lm_head"}.get(inventory.model_type, "lm_head")
    names.discard(output)
    return sorted(names)


def _axolotl_targets(inventory, *, targets):
    as_list = targets if isinstance(targets, list) else [targets]
    return sorted(set(as_list) | set(axolotl_linear_names(inventory)))


def _axolotl(data, keys, text, path) -> Site | None:
    if str(data.get("adapter") or "").lower() not in ("lora", "qlora"):
        return None
    targets = data.get("lora_target_modules")
    linear = bool(data.get("lora_target_linear"))
    spec = LoraSpec(
        target_modules=targets if targets else ([] if not linear else None),
        exclude_modules=data.get("lora_exclude_modules"),
        layers_to_transform=data.get("peft_layers_to_transform"),
        layers_pattern=data.get("peft_layers_pattern"),
        modules_to_save=data.get("lora_modules_to_save") or None,
        r=data.get("lora_r") if data.get("lora_r") is not None else 8,
        use_dora=bool(data.get("peft_use_dora")),
    )
    ref = data.get("base_model_config") or data.get("base_model")
    site = _new_site(path, "axolotl", ref, spec, _syntax(path))
    model_type = data.get("model_type")
    if isinstance(model_type, str) and re.fullmatch(r"[A-Z]\w+", model_type):
        site.model_class = model_type
    if linear:
        site.derive_targets = partial(_axolotl_targets, targets=targets or [])
        site.flags = {"lora_target_linear": True}
    _fill(site, keys, text, {"target_modules": "lora_target_modules", "exclude_modules": "lora_exclude_modules",
                             "lora_target_linear": "lora_target_linear"})
    return site


# -- LLaMA-Factory -------------------------------------------------------------------------------
def _llamafactory_targets(inventory, *, targets, freeze_vision, freeze_projector, freeze_language):
    composite = LLAMAFACTORY_COMPOSITE_MODELS.get(inventory.model_type)
    names = [m.name for m in inventory.modules]
    if targets == ["all"]:
        forbidden = {"lm_head"}
        if inventory.model_type == "chatglm":
            forbidden.add("output_layer")
        elif inventory.model_type == "internlm2":
            forbidden.add("output")
        if composite:
            forbidden.update(composite["projector_keys"])
            if freeze_vision:
                forbidden.update(composite["vision_model_keys"])
        targets = sorted({m.name.split(".")[-1] for m in inventory.modules
                          if not any(f in m.name for f in forbidden)
                          and "Linear" in m.cls and "Embedding" not in m.cls})
    if composite:
        forbidden = set(composite["lora_conflict_keys"])
        if freeze_vision:
            forbidden.update(composite["vision_model_keys"])
        if freeze_projector:
            forbidden.update(composite["projector_keys"])
        if freeze_language:
            forbidden.update(composite["language_model_keys"])
        return [n for n in names if any(t in n for t in targets) and not any(f in n for f in forbidden)]
    return targets


def _llamafactory(data, keys, text, path) -> Site | None:
    if str(data.get("finetuning_type") or "lora").lower() != "lora":
        return None
    targets = _comma_list(data.get("lora_target", "all")) or ["all"]
    flags = {
        "freeze_vision_tower": data.get("freeze_vision_tower", True) is not False,
        "freeze_multi_modal_projector": data.get("freeze_multi_modal_projector", True) is not False,
        "freeze_language_model": bool(data.get("freeze_language_model", False)),
    }
    spec = LoraSpec(target_modules=targets, modules_to_save=_comma_list(data.get("additional_target")),
                    r=data.get("lora_rank") if data.get("lora_rank") is not None else 8,
                    use_dora=bool(data.get("use_dora")))
    site = _new_site(path, "llamafactory", data.get("model_name_or_path"), spec, _syntax(path))
    site.flags = flags
    site.derive_targets = partial(_llamafactory_targets, targets=targets, freeze_vision=flags["freeze_vision_tower"],
                                  freeze_projector=flags["freeze_multi_modal_projector"],
                                  freeze_language=flags["freeze_language_model"])
    _fill(site, keys, text, {"target_modules": "lora_target", "freeze_vision_tower": "freeze_vision_tower",
                             "freeze_multi_modal_projector": "freeze_multi_modal_projector"})
    return site


# -- TRL -----------------------------------------------------------------------------------------
def trl_targets(value):
    """ModelConfig.__post_init__: a one-entry list becomes its string."""
    if isinstance(value, (list, tuple)) and len(value) == 1:
        return value[0]
    return list(value) if isinstance(value, tuple) else value


def _trl(data, keys, text, path) -> Site | None:
    if data.get("use_peft") is not True:
        return None
    spec = LoraSpec(target_modules=trl_targets(data.get("lora_target_modules")),
                    modules_to_save=data.get("lora_modules_to_save"),
                    r=data.get("lora_r") if data.get("lora_r") is not None else 16,
                    use_dora=bool(data.get("use_dora")), target_parameters=data.get("lora_target_parameters"))
    site = _new_site(path, "trl", data.get("model_name_or_path"), spec, _syntax(path))
    _fill(site, keys, text, {"target_modules": "lora_target_modules"})
    return site


# -- modality ------------------------------------------------------------------------------------
def _evidence(trainer: str, data: dict, keys: dict, text: str, path: Path) -> list[Evidence]:
    evidence = []

    def line_of(key):
        return keys[key][0].start_mark.line + 1 if key in keys else None

    def add(value, reason, key):
        evidence.append(Evidence(value, reason, line_of(key)))

    if trainer == "axolotl":
        if data.get("processor_type"):
            add("multimodal", f"sets processor_type: {data['processor_type']}", "processor_type")
        for entry in data.get("datasets") or []:
            if not isinstance(entry, dict):
                continue
            ds_path, ds_type = str(entry.get("path", "")), entry.get("type")
            if ds_path.lower() in TEXT_DATASETS:
                add("text", f"trains on the text dataset {ds_path}", "datasets")
            if isinstance(ds_type, str) and ds_type.split(".")[0] in AXOLOTL_TEXT_TYPES:
                add("text", f"dataset type {ds_type} is text-only", "datasets")
            if ds_path.endswith((".json", ".jsonl", ".csv")):
                _sniff(path.parent / ds_path, ds_path, add, "datasets")
            if any(k in entry for k in ("image_column", "images_field")):
                add("multimodal", "dataset declares an image field", "datasets")
    elif trainer == "llamafactory":
        names = _comma_list(data.get("dataset")) or []
        info = _dataset_info(path.parent / str(data.get("dataset_dir", "data")))
        for name in names:
            entry = info.get(name)
            if isinstance(entry, dict):
                columns = entry.get("columns") or {}
                media = sorted(c for c in ("images", "videos", "audios") if c in columns)
                if media:
                    add("multimodal", f"dataset {name} has {', '.join(media)} columns (dataset_info.json)", "dataset")
                else:
                    add("text", f"dataset {name} has only text columns (dataset_info.json)", "dataset")
            elif name in LLAMAFACTORY_MEDIA_DATASETS:
                add("multimodal", f"dataset {name} carries media", "dataset")
            elif name in LLAMAFACTORY_TEXT_DATASETS or name.lower() in TEXT_DATASETS:
                add("text", f"dataset {name} is text-only", "dataset")
    elif trainer == "trl":
        name = str(data.get("dataset_name") or "")
        if name.lower() in TEXT_DATASETS:
            add("text", f"trains on the text dataset {name}", "dataset_name")
        if data.get("dataset_text_field"):
            add("text", "sets dataset_text_field", "dataset_text_field")
    return evidence


def _sniff(file: Path, shown: str, add, key) -> None:
    verdict = sniff_data_file(file)
    if verdict is not None:
        add(verdict[0], f"{shown}: {verdict[1]}", key)


def _dataset_info(directory: Path) -> dict:
    import json

    try:
        data = json.loads((directory / "dataset_info.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def is_trainer_config(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml") or (path.suffix == ".json" and path.name != "adapter_config.json")


__all__ = ["sites_from_text", "detect", "is_trainer_config", "FrontEndError"]
