"""From a model reference to its config.json and its inventory.

Order (DESIGN.md): alias -> local path -> bundled zoo -> Hugging Face cache (no network) -> download of
config.json alone (never weights, never when offline). Remote code is never trusted.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .inventory import SCHEMA_VERSION, Inventory, config_sha256, load_inventory_file, read_json_maybe_gz, write_json_atomic

PACKAGE_DIR = Path(__file__).resolve().parent
ZOO_DIR = PACKAGE_DIR / "zoo"
BUNDLED_INVENTORY_DIR = ZOO_DIR / "inventories"

# A hub repo id: "name" or "org/name" (huggingface_hub.utils.validate_repo_id's character set).
_HUB_ID = re.compile(r"^(?:[A-Za-z0-9][\w.\-]{0,95}/)?[A-Za-z0-9][\w.\-]{0,95}$")
_OFFLINE_VALUES = {"1", "true", "yes", "on"}
DOWNLOAD_TIMEOUT_SECONDS = 10


class Unresolved(Exception):
    """The model could not be resolved; the message is the reason, for the user."""


@dataclass
class ResolvedModel:
    ref: str
    source: str  # local | zoo | hf-cache | hub | inventory-file
    config: dict | None  # None when the reference is an inventory file
    location: str  # the file it came from


def transformers_version() -> str | None:
    from importlib import metadata  # costs ~20 ms: only on the cache and cold paths

    try:
        return metadata.version("transformers")
    except metadata.PackageNotFoundError:
        return None


def default_cache_dir() -> Path:
    if os.environ.get("LORALINT_CACHE_DIR"):
        return Path(os.environ["LORALINT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "loralint"


def _zoo_index() -> dict[str, Path]:
    index = {}
    if ZOO_DIR.is_dir():
        for entry in ZOO_DIR.iterdir():
            if (entry / "config.json").is_file():
                index[entry.name.replace("--", "/").lower()] = entry / "config.json"
    return index


def zoo_ids() -> list[str]:
    return sorted(p.parent.name.replace("--", "/") for p in _zoo_index().values())


def read_config(path: Path) -> dict:
    """Read and vet a config.json: an object with a known-looking model_type and no remote code."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Unresolved(f"cannot read {path}: {exc}") from None
    try:
        config = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise Unresolved(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise Unresolved(f"{path} is not a JSON object")
    if "auto_map" in config:
        raise Unresolved(
            f"{path} declares `auto_map`: the model needs trust_remote_code, which loralint never uses"
        )
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise Unresolved(f"{path} has no `model_type`; loralint does not guess the architecture from the name")
    return config


def hf_cache_dir() -> str:
    """huggingface_hub's cache location, read from the environment now (not at its import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface")
    return os.path.join(home, "hub")


def is_offline(flag: bool) -> bool:
    return flag or os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _OFFLINE_VALUES


class Resolver:
    """Resolves each distinct reference once and builds each distinct inventory once per process."""

    def __init__(self, *, offline: bool = False, aliases: dict[str, str] | None = None, cache_dir: Path | None = None):
        self.offline = is_offline(offline)
        self.aliases = dict(aliases or {})
        self.cache_dir = cache_dir or default_cache_dir()
        self._resolved: dict[tuple, ResolvedModel | Unresolved] = {}
        self._inventories: dict[tuple, Inventory | Unresolved] = {}
        self._zoo: dict[str, Path] | None = None

    # -- model reference -> config -------------------------------------------------------------
    def resolve(self, ref: str, relative_to: Path | None = None) -> ResolvedModel:
        key = (ref, str(relative_to) if relative_to else None)
        return _memoized(self._resolved, key, lambda: self._resolve(ref, relative_to))

    def _resolve(self, ref: str, relative_to: Path | None) -> ResolvedModel:
        if not isinstance(ref, str) or not ref.strip():
            raise Unresolved("no model reference")
        ref = ref.strip()
        if ref in self.aliases:
            return self._resolve(self.aliases[ref], None)

        local = self._local(ref, relative_to)
        if local is not None:
            return local

        if self._zoo is None:
            self._zoo = _zoo_index()
        zoo_path = self._zoo.get(ref.lower())
        if zoo_path is not None:
            return ResolvedModel(ref, "zoo", read_config(zoo_path), str(zoo_path))

        if not _HUB_ID.match(ref) or ".." in ref:
            raise Unresolved(f"{ref!r} is neither an existing local path nor a valid Hugging Face model id")
        cached = self._from_hf_cache(ref)
        if cached is not None:
            return ResolvedModel(ref, "hf-cache", read_config(cached), str(cached))
        if self.offline:
            raise Unresolved(
                f"{ref} is not bundled and not in the Hugging Face cache, and downloads are off (offline)"
            )
        return ResolvedModel(ref, "hub", *self._download(ref))

    def _local(self, ref: str, relative_to: Path | None) -> ResolvedModel | None:
        path = Path(os.path.expanduser(ref))
        if path.is_absolute():
            candidates = [path]
        else:
            candidates = ([relative_to / path] if relative_to else []) + [Path.cwd() / path]
        for candidate in candidates:
            if candidate.is_dir():
                config_path = candidate / "config.json"
                if not config_path.is_file():
                    raise Unresolved(f"directory {candidate} has no config.json")
                return ResolvedModel(ref, "local", read_config(config_path), str(config_path))
            if candidate.is_file():
                return self._local_file(ref, candidate)
        looks_like_path = ref.startswith(("/", "./", "../", "~", ".\\")) or ref.endswith(".json") or "\\" in ref
        if looks_like_path or path.is_absolute():
            raise Unresolved(f"local path {ref} does not exist (relative to {candidates[0].parent})")
        return None

    def _local_file(self, ref: str, path: Path) -> ResolvedModel:
        try:
            data = read_json_maybe_gz(path)
        except (OSError, ValueError, RecursionError) as exc:
            raise Unresolved(f"{path} is not a readable JSON file: {exc}") from None
        if isinstance(data, dict) and "schema" in data and "modules" in data:
            return ResolvedModel(ref, "inventory-file", None, str(path))
        return ResolvedModel(ref, "local", read_config(path), str(path))

    def _from_hf_cache(self, ref: str) -> Path | None:
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            return None
        try:
            found = try_to_load_from_cache(ref, "config.json", cache_dir=hf_cache_dir())
        except Exception:  # invalid ids, unreadable cache: treat as not cached
            return None
        return Path(found) if isinstance(found, str) else None

    def _download(self, ref: str) -> tuple[dict, str]:
        os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", str(DOWNLOAD_TIMEOUT_SECONDS))
        os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", str(DOWNLOAD_TIMEOUT_SECONDS))
        try:
            from huggingface_hub import hf_hub_download

            path = hf_hub_download(ref, "config.json")
        except Exception as exc:  # network, auth, missing repo: all mean unresolved
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise Unresolved(f"could not fetch config.json of {ref} from the Hugging Face Hub: {reason}") from None
        return read_config(Path(path)), path

    # -- config -> inventory ----------------------------------------------------------------------
    def inventory(self, ref: str, class_request: str | None = None, relative_to: Path | None = None) -> tuple[ResolvedModel, Inventory]:
        model = self.resolve(ref, relative_to)
        if model.config is None:
            key = ("file", model.location)
        else:
            key = (config_sha256(model.config), class_request or "")
        return model, _memoized(self._inventories, key, lambda: self._inventory(model, class_request))

    def _inventory(self, model: ResolvedModel, class_request: str | None) -> Inventory:
        if model.config is None:
            try:
                return load_inventory_file(Path(model.location), source="inventory-file")
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise Unresolved(f"{model.location} is not a usable loralint inventory: {exc}") from None
        digest = config_sha256(model.config)
        # Bundled first: the zoo's inventories are checked against PEFT by the test suite.
        # LORALINT_BUNDLED=0 forces the cache/cold path (benchmarks).
        if os.environ.get("LORALINT_BUNDLED") != "0":
            bundled = bundled_inventory(digest, class_request)
            if bundled is not None:
                return bundled
        version = transformers_version()
        cache_path = self._cache_path(digest, class_request, version) if version else None
        if cache_path is not None and cache_path.is_file():
            try:
                return load_inventory_file(cache_path, source="cache")
            except (OSError, ValueError, KeyError, TypeError):
                pass  # a damaged cache entry is rebuilt below
        from .build import BuildError, build_inventory

        try:
            inv = build_inventory(model.config, class_request)
        except BuildError as exc:
            raise Unresolved(str(exc)) from None
        inv.source = "built"
        if cache_path is not None:
            try:
                write_json_atomic(cache_path, inv.to_json())
            except OSError:
                pass  # a read-only cache only costs speed
        return inv

    def _cache_path(self, digest: str, class_request: str | None, version: str) -> Path:
        name = f"{digest[:32]}-{class_request or 'default'}-tf{version}-s{SCHEMA_VERSION}.json"
        return self.cache_dir / "inventories" / name


def _memoized(cache: dict, key, compute):
    """Each key is computed once per process; an Unresolved answer is remembered like any other."""
    if key not in cache:
        try:
            cache[key] = compute()
        except Unresolved as exc:
            cache[key] = exc
    outcome = cache[key]
    if isinstance(outcome, Unresolved):
        raise outcome
    return outcome


def bundled_key(digest: str, class_request: str | None) -> str:
    return f"{digest}:{class_request or 'default'}"


def bundled_inventory(digest: str, class_request: str | None) -> Inventory | None:
    index_path = BUNDLED_INVENTORY_DIR / "index.json"
    if not index_path.is_file():
        return None
    index = json.loads(index_path.read_text())
    filename = index.get(bundled_key(digest, class_request))
    if filename is None:
        return None
    return load_inventory_file(BUNDLED_INVENTORY_DIR / filename, source="bundled")
