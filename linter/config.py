"""`[tool.loralint]` in pyproject.toml."""

from __future__ import annotations

import re

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

KNOWN_KEYS = {"select", "ignore", "per-file-ignores", "modality", "models", "offline", "exclude", "transformers",
              "unsafe-fixes"}


class ConfigError(Exception):
    pass


@dataclass
class Settings:
    root: Path
    source: Path | None = None
    select: list[str] = field(default_factory=lambda: ["ALL"])
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    modality: str | None = None
    models: dict[str, str] = field(default_factory=dict)
    offline: bool = False
    transformers: str | None = None  # the transformers version the project trains with (over what it pins)
    unsafe_fixes: bool = False  # apply unsafe fixes too (where flags cannot be passed: pre-commit)


def find_pyproject(start: Path) -> Path | None:
    start = start.resolve()
    for directory in [start, *start.parents] if start.is_dir() else [start.parent, *start.parent.parents]:
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _string_list(value, key: str, where: Path) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: [tool.loralint] {key} must be a list of strings")
    return list(value)


def load_settings(start: Path, explicit: Path | None = None) -> Settings:
    path = explicit or find_pyproject(start)
    if path is None:
        return Settings(root=start.resolve() if start.is_dir() else start.resolve().parent)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    table = data.get("tool", {}).get("loralint", {})
    settings = Settings(root=path.parent, source=path)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.loralint] must be a table")
    unknown = set(table) - KNOWN_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown [tool.loralint] key(s): {', '.join(sorted(unknown))}")
    if "select" in table:
        settings.select = _string_list(table["select"], "select", path)
    if "ignore" in table:
        settings.ignore = _string_list(table["ignore"], "ignore", path)
    if "exclude" in table:
        settings.exclude = _string_list(table["exclude"], "exclude", path)
    if "per-file-ignores" in table:
        pfi = table["per-file-ignores"]
        if not isinstance(pfi, dict):
            raise ConfigError(f"{path}: [tool.loralint] per-file-ignores must be a table of glob = [codes]")
        settings.per_file_ignores = {k: _string_list(v, f"per-file-ignores.{k}", path) for k, v in pfi.items()}
    if "modality" in table:
        from .modality import canonical

        value = table["modality"]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = "+".join(value)
        try:
            settings.modality = None if value == "auto" else canonical(value)
        except (ValueError, TypeError):
            raise ConfigError(f'{path}: [tool.loralint] modality must be "auto", "text", "multimodal", or a mix such as '
                              '["text", "image"]') from None
    if "models" in table:
        models = table["models"]
        if not isinstance(models, dict) or not all(isinstance(v, str) for v in models.values()):
            raise ConfigError(f"{path}: [tool.loralint] models must map names to model references")
        # local paths in aliases are relative to the pyproject
        settings.models = {
            k: str((path.parent / v).resolve()) if v.startswith((".", "/")) or v.endswith(".json") else v
            for k, v in models.items()
        }
    if "transformers" in table:
        if not isinstance(table["transformers"], str) or not re.match(r"^\d+(\.\d+)*$", table["transformers"]):
            raise ConfigError(f'{path}: [tool.loralint] transformers must be a version such as "4.57"')
        settings.transformers = table["transformers"]
    if "unsafe-fixes" in table:
        if not isinstance(table["unsafe-fixes"], bool):
            raise ConfigError(f"{path}: [tool.loralint] unsafe-fixes must be true or false")
        settings.unsafe_fixes = table["unsafe-fixes"]
    if "offline" in table:
        if not isinstance(table["offline"], bool):
            raise ConfigError(f"{path}: [tool.loralint] offline must be true or false")
        settings.offline = table["offline"]
    return settings
