"""Training configs handed to a trainer (YAML, or JSON): one front end for the file, one module per trainer.

The file is parsed safely once; the first trainer in `trainers()` whose `detect` accepts the top-level
mapping builds the site with its own semantics (each trainer module cites the source it follows).
A new trainer is a module with a `Trainer` subclass and one line in `trainers()`.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from .. import modality
from ..diagnostics import span_at
from ..matching import LoraSpec
from ..problems import Kind, Problem
from ..site import Evidence, Site, Span
from .base import FrontEnd
from .errors import FrontEndError
from .peft_adapter import ADAPTER_CONFIG_NAME, load_json_text

if TYPE_CHECKING:
    import yaml

# a key at the start of a line (YAML) or after `{`/`,` (JSON on one line)
_MODEL_KEY = re.compile(r"""(?:^|[{,])\s*["']?(base_model|model_name_or_path|model)["']?\s*:""", re.M)
_LORA_KEY = re.compile(r"""(?:^|[{,])\s*["']?(adapter|lora_\w+|finetuning_type|use_peft|peft_config)["']?\s*:""", re.M)


def looks_like_trainer_config(text: str) -> bool:
    """For files that do not parse: do they name a base model and LoRA settings (so they are ours)?"""
    head = text[:200_000]
    return bool(_MODEL_KEY.search(head) and _LORA_KEY.search(head))


class Trainer(FrontEnd):
    """One trainer's config semantics. `build` returns the site (or None: no LoRA in this config)."""

    package: str | None = None  # its distribution name, to find the version a project pins
    modelled_version = ""  # the version whose source the semantics follow

    def detect(self, data: dict) -> bool:
        raise NotImplementedError

    def build(self, data: dict, keys: dict, text: str, path: Path) -> Site | None:
        raise NotImplementedError

    def evidence(self, data: dict, keys: dict, path: Path, add) -> None:
        """Call `add(value, reason, key)` for each piece of modality evidence."""


def detect(data: dict) -> Trainer | None:
    return next((trainer for trainer in trainers() if trainer.detect(data)), None)


class TrainerConfig(FrontEnd):
    name = "trainer-config"
    suffixes = (".yaml", ".yml", ".json")

    def claims(self, path: Path) -> bool:
        return path.suffix in self.suffixes and path.name != ADAPTER_CONFIG_NAME

    def sites(self, path: Path, text: str) -> list[Site]:
        from .. import safe_yaml  # PyYAML: only when a YAML/JSON file is read

        if path.suffix == ".json":
            load_json_text(text, path)  # strict JSON first: NaN, huge integers, bad syntax
        node, data = safe_yaml.load(text)
        if not isinstance(data, dict):
            return []
        trainer = detect(data)
        if trainer is None:
            return []
        keys = safe_yaml.top_level(node)
        site = trainer.build(data, keys, text, path)
        if site is None:
            return []
        _refuse_wrong_types(site, keys, text)
        site.frontend = trainer.name
        if trainer.package:
            from .clis import semantics_note, trainer_pin

            pinned = trainer_pin(path, trainer.package)
            if pinned is not None and pinned.version:
                site.notes.append(semantics_note(trainer.package, trainer.modelled_version, pinned))
        evidence = []

        def add(value, reason, key):
            evidence.append(Evidence(value, reason, keys[key][0].start_mark.line + 1 if key in keys else None))

        trainer.evidence(data, keys, path, add)
        site.modality, site.evidence = modality.decide(modality.declared_in([text]), evidence)
        return [site]

    def foreign(self, path: Path, text: str | None) -> bool:
        # someone else's YAML/JSON (CI files, Helm templates, tsconfig, large data): not ours unless it
        # clearly is a training config
        return text is None or not looks_like_trainer_config(text)

    def ignore_comment(self, path: Path, code: str) -> str | None:
        return None if path.suffix == ".json" else super().ignore_comment(path, code)

    def still_parses(self, text: str) -> bool:
        from .. import safe_yaml

        try:
            safe_yaml.load(text)
        except FrontEndError:
            return False
        return True


def _refuse_wrong_types(site: Site, keys: dict, text: str) -> None:
    """A LoRA value of a type PEFT does not take: the site keeps its location and says so (LL004)."""
    from dataclasses import fields

    from .types import first_wrong, refusal

    values = {f.name: getattr(site.lora, f.name) for f in fields(site.lora)}
    wrong = first_wrong(values)
    if wrong is None:
        return
    field, accepted = wrong
    key = site.key_names.get(field, field)
    span = key_span(text, *keys[key]) if key in keys else site.call_span
    site.problem = Problem(Kind.WOULD_REFUSE, refusal(field, accepted, values[field], key), span)


# -- helpers the trainers share ----------------------------------------------------------------------
def value_span(text: str, key_node: yaml.Node, value_node: yaml.Node) -> Span:
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


def key_span(text: str, key_node: yaml.Node, value_node: yaml.Node) -> Span:
    return span_at(text, key_node.start_mark.index, value_span(text, key_node, value_node).end)


def fill(site: Site, keys: dict, text: str, mapping: dict[str, str]) -> None:
    """Spans of the settings a fix may rewrite; `mapping` is LoRA field -> file key."""
    site.key_names = dict(mapping)
    for field, key in mapping.items():
        if key in keys:
            key_node, value_node = keys[key]
            site.spans[field] = value_span(text, key_node, value_node)
            site.origins[field] = "literal"
    anchor_key = mapping.get("target_modules")
    anchor = keys.get(anchor_key) if anchor_key else None
    if anchor is None:
        # a new key goes after the last of the LoRA keys the file has, where a reader looks for it
        lora_keys = [kv for key, kv in keys.items() if key.startswith(("lora_", "adapter", "peft_", "finetuning_type"))]
        anchor = max(lora_keys or keys.values(), key=lambda kv: kv[1].end_mark.index, default=None)
    if anchor is not None:
        site.anchor = value_span(text, *anchor)
        site.call_span = key_span(text, *anchor)
    else:
        site.call_span = span_at(text, 0, 0)
    site.line = site.call_span.line


def comma_list(value) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return [str(v).strip() for v in value]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def new_site(path: Path, framework: str, model_ref, spec: LoraSpec) -> Site:
    site = Site(file=str(path), line=1, framework=framework,
                model_ref=model_ref if isinstance(model_ref, str) and model_ref else None,
                lora=spec, relative_to=path.parent, syntax="json" if path.suffix == ".json" else "yaml")
    if site.model_ref is None:
        site.problem = Problem(Kind.NOT_STATIC, "the config names no base model")
    return site


def sniff(file: Path, shown: str, add, key) -> None:
    from .data_evidence import sniff_data_file

    verdict = sniff_data_file(file)
    if verdict is not None:
        add(verdict[0], f"{shown}: {verdict[1]}", key)



@cache
def trainers() -> tuple[Trainer, ...]:
    """The registry of trainers, in detection order (imported when a config is first read)."""
    from .axolotl import Axolotl
    from .llamafactory import LlamaFactory, LlamaFactoryV1
    from .trl import TrlConfig

    return (Axolotl(), LlamaFactoryV1(), LlamaFactory(), TrlConfig())
