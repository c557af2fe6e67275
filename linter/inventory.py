"""A model's module tree as plain data: what the matcher needs, with no torch in sight.

An inventory is built once per (config, model class, transformers version) on the meta device
(see `build.py`), then read from JSON on every warm run.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

# Bump when the stored shape or the way components are assigned changes: old caches are ignored.
SCHEMA_VERSION = 4  # 4: sub-models read their part of the config; a language sub-model's output layer is head

# Module kinds, as PEFT's LoRA dispatcher sees them (peft/tuners/lora/layer.py: dispatch_default).
LINEAR = "linear"  # torch.nn.Linear and subclasses
CONV1D_HF = "conv1d_hf"  # transformers.pytorch_utils.Conv1D (GPT-2 style, fan_in_fan_out)
EMBEDDING = "embedding"
CONV1D = "conv1d"
CONV2D = "conv2d"
CONV3D = "conv3d"
MHA = "mha"  # torch.nn.MultiheadAttention
OTHER = "other"  # anything LoRA cannot wrap

LORA_WRAPPABLE = {LINEAR, CONV1D_HF, EMBEDDING, CONV1D, CONV2D, CONV3D, MHA}
ALL_LINEAR_KINDS = {LINEAR, CONV1D_HF}

COMPONENTS = ("language", "vision", "audio", "projector", "head")


@dataclass(frozen=True)
class Module:
    name: str
    cls: str
    kind: str
    component: str
    # linear: (in, out); embedding: (num, dim); conv: (in, out, *kernel, groups); mha: (embed_dim, out_embed_dim)
    dims: tuple[int, ...]
    numel: int  # parameters held by the module and its children (for modules_to_save copies)


@dataclass
class Inventory:
    model_type: str
    model_class: str
    transformers_version: str
    config_sha256: str
    multimodal: bool
    output_embedding: str | None
    modules: list[Module]
    # Names of language-side modules that only run on image input (architecture table, see arch.py).
    image_only: frozenset[str] = field(default_factory=frozenset)
    # 2-D/3-D parameters held directly by modules LoRA cannot wrap (fused MoE experts, routers):
    # (module name, parameter name, shape), what `target_parameters` can reach.
    parameters: list[tuple[str, str, tuple[int, ...]]] = field(default_factory=list)
    source: str = ""  # where this inventory came from: bundled, cache, built, file

    def to_json(self) -> dict:
        return {
            "schema": SCHEMA_VERSION,
            "model_type": self.model_type,
            "model_class": self.model_class,
            "transformers_version": self.transformers_version,
            "config_sha256": self.config_sha256,
            "multimodal": self.multimodal,
            "output_embedding": self.output_embedding,
            "image_only": sorted(self.image_only),
            "modules": [[m.name, m.cls, m.kind, m.component, list(m.dims), m.numel] for m in self.modules],
            "parameters": [[module, param, list(shape)] for module, param, shape in self.parameters],
        }

    @classmethod
    def from_json(cls, data: dict, source: str = "") -> "Inventory":
        """Raises ValueError for anything but a well-formed inventory (a damaged cache entry is a miss)."""
        if not isinstance(data, dict) or data.get("schema") != SCHEMA_VERSION:
            raise ValueError(f"not a loralint inventory of schema {SCHEMA_VERSION}")
        _validate(data)
        modules = [Module(n, c, k, comp, tuple(d), numel) for n, c, k, comp, d, numel in data["modules"]]
        return cls(
            model_type=data["model_type"],
            model_class=data["model_class"],
            transformers_version=data["transformers_version"],
            config_sha256=data["config_sha256"],
            multimodal=data["multimodal"],
            output_embedding=data["output_embedding"],
            modules=modules,
            image_only=frozenset(data.get("image_only", ())),
            parameters=[(module, param, tuple(shape)) for module, param, shape in data.get("parameters", ())],
            source=source,
        )

    def rooted_at(self, prefix: str, model_type: str | None = None) -> "Inventory | None":
        """The part of the model under `prefix` (LoRA applied to `model.thinker`), with names relative to it as
        PEFT sees them (and the part's own model_type, when known); None when the model has no such module."""
        cut = len(prefix) + 1
        if not any(m.name == prefix for m in self.modules):
            return None
        modules = [replace(m, name=m.name[cut:]) for m in self.modules if m.name.startswith(prefix + ".")]
        if self.output_embedding and self.output_embedding.startswith(prefix + "."):
            output = self.output_embedding[cut:]
        else:  # a language sub-model's own output layer (Qwen2.5-Omni's thinker.lm_head)
            heads = [m.name for m in modules if m.component == "head"]
            output = heads[0] if len(heads) == 1 else None
        return replace(
            self, model_type=model_type or self.model_type, model_class=f"{self.model_class}.{prefix}",
            output_embedding=output, modules=modules,
            image_only=frozenset(n[cut:] for n in self.image_only if n.startswith(prefix + ".")),
            parameters=[(m[cut:], p, shape) for m, p, shape in self.parameters if m.startswith(prefix + ".")])

    def text_only_dead(self, module: Module) -> bool:
        return module.component in ("vision", "audio", "projector") or module.name in self.image_only

    def language_prefixes(self) -> list[str]:
        """Top-most module names of the language component (e.g. `model.language_model`)."""
        names = [m.name for m in self.modules if m.component == "language"]
        name_set = set(names)
        tops = []
        for name in names:
            parent = name.rpartition(".")[0]
            if parent not in name_set:
                tops.append(name)
        return tops


MAX_MODULES = 2_000_000


def _validate(data: dict) -> None:
    def text(value) -> bool:
        return isinstance(value, str) and len(value) < 4096

    def whole(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 62

    rows = data.get("modules")
    if not isinstance(rows, list) or len(rows) > MAX_MODULES:
        raise ValueError("modules must be a list of a bounded length")
    kinds = LORA_WRAPPABLE | {OTHER}
    for row in rows:
        if not (isinstance(row, list) and len(row) == 6 and text(row[0]) and text(row[1]) and row[2] in kinds
                and row[3] in COMPONENTS and isinstance(row[4], list) and len(row[4]) <= 8
                and all(whole(d) for d in row[4]) and whole(row[5])):
            raise ValueError(f"malformed module entry: {str(row)[:80]}")
    for key in ("model_type", "model_class", "transformers_version", "config_sha256"):
        if not text(data.get(key)):
            raise ValueError(f"{key} must be a string")
    if not isinstance(data.get("multimodal"), bool) or not (data.get("output_embedding") is None or text(data["output_embedding"])):
        raise ValueError("multimodal / output_embedding have the wrong type")
    if not isinstance(data.get("image_only", []), list) or not all(text(n) for n in data.get("image_only", [])):
        raise ValueError("image_only must be a list of names")
    for entry in data.get("parameters", []):
        if not (isinstance(entry, list) and len(entry) == 3 and text(entry[0]) and text(entry[1])
                and isinstance(entry[2], list) and all(whole(d) for d in entry[2])):
            raise ValueError(f"malformed parameter entry: {str(entry)[:80]}")


def config_sha256(config: dict) -> str:
    """Content hash of a config, independent of key order and whitespace."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def write_bytes_atomic(path: Path, data: bytes, mode: int | None = None, owner: tuple[int, int] | None = None) -> None:
    """Write to a temporary file beside `path`, flush it to disk and rename, so readers never see half a file
    and a crash leaves the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode & 0o7777)
        if owner is not None and hasattr(os, "chown"):
            try:
                os.chown(tmp, *owner)
            except PermissionError:
                pass  # only root can give a file away; the file stays the writer's
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_json_atomic(path: Path, data: dict, *, compress: bool = False) -> None:
    payload = json.dumps(data, separators=(",", ":")).encode()
    write_bytes_atomic(path, gzip.compress(payload, mtime=0) if compress else payload)


MAX_INVENTORY_BYTES = 256 * 1024 * 1024  # the largest real inventory is a few MB


def read_json_maybe_gz(path: Path) -> dict:
    """A JSON file, gzip-compressed or not, read and decompressed within bounds (no gzip bomb)."""
    import zlib

    from .files import read_bytes

    raw = read_bytes(path, MAX_INVENTORY_BYTES)
    if raw[:2] == b"\x1f\x8b":
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        try:
            raw = inflater.decompress(raw, MAX_INVENTORY_BYTES + 1)
        except zlib.error as exc:
            raise ValueError(f"damaged gzip data: {exc}") from None
        if len(raw) > MAX_INVENTORY_BYTES or inflater.unconsumed_tail:
            raise ValueError(f"expands to more than {MAX_INVENTORY_BYTES:,} bytes")
    return json.loads(raw)


def load_inventory_file(path: Path, source: str = "file") -> Inventory:
    return Inventory.from_json(read_json_maybe_gz(path), source=source)
