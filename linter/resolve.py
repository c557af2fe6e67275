"""From a model reference to its config.json and its inventory.

Order (DESIGN.md): alias -> local path -> bundled zoo -> Hugging Face cache -> configs loralint downloaded
before -> one download of config.json alone (never weights, never when offline, one attempt within a
budget for the whole run, nothing printed) -> the model a mirror or quantized re-upload copies
(`mirrors.py`). A failed download is remembered for a while (a negative cache entry per name and token),
so the hook and the editor do not wait for it again. Remote code is never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from .inventory import (
    SCHEMA_VERSION,
    Inventory,
    config_sha256,
    load_inventory_file,
    read_json_maybe_gz,
    write_bytes_atomic,
    write_json_atomic,
)

PACKAGE_DIR = Path(__file__).resolve().parent
ZOO_DIR = PACKAGE_DIR / "zoo"
BUNDLED_INVENTORY_DIR = ZOO_DIR / "inventories"

# A hub repo id: "name" or "org/name" (huggingface_hub.utils.validate_repo_id's character set).
_HUB_ID = re.compile(r"^(?:[A-Za-z0-9][\w.\-]{0,95}/)?[A-Za-z0-9][\w.\-]{0,95}$")
_OFFLINE_VALUES = {"1", "true", "yes", "on"}
DOWNLOAD_BUDGET_SECONDS = 10  # for all downloads of one run together
MAX_CONFIG_BYTES = 4 * 1024 * 1024
# how long a failed download is remembered, by why it failed
NEGATIVE_TTL_SECONDS = {"not-found": 24 * 3600, "gated": 24 * 3600, "no-network": 3600, "invalid": 24 * 3600}


class Unresolved(Exception):
    """The model could not be resolved; the message is the reason, for the user. `kind` says why:
    offline | no-network | not-found | gated | invalid | not-a-copy | local; `help` the way out."""

    def __init__(self, message: str, kind: str = "invalid", help: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.help = help


@dataclass
class ResolvedModel:
    ref: str
    source: str  # local | zoo | hf-cache | hub | inventory-file
    config: dict | None  # None when the reference is an inventory file
    location: str  # the file it came from
    via: str | None = None  # how a mirror's name led here: "unsloth/x -> org/x (reason)"


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
    from .files import read_text

    try:
        text = read_text(path, MAX_CONFIG_BYTES)
    except (OSError, UnicodeDecodeError) as exc:
        raise Unresolved(f"cannot read {path}: {exc}") from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Unresolved(f"{path} is not valid JSON: {exc}") from None
    except (ValueError, RecursionError):  # an integer too long to convert, or nesting too deep
        raise Unresolved(f"{path} holds a number too long or nesting too deep for a model config; not read") from None
    return _vetted(config, str(path))


def _vetted(config, where: str) -> dict:
    if not isinstance(config, dict):
        raise Unresolved(f"{where} is not a JSON object")
    if "auto_map" in config:
        raise Unresolved(f"{where} declares `auto_map`: the model needs trust_remote_code, which loralint never uses")
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise Unresolved(f"{where} has no `model_type`; loralint does not guess the architecture from the name")
    oversized = _oversized(config)
    if oversized is not None:
        raise Unresolved(f"{where} declares {oversized[0]} = {oversized[1]}, more than any real model (the limit is "
                         f"{oversized[2]}); loralint does not build it")
    return config


# structural sizes no real checkpoint comes near: a config beyond them would take minutes and gigabytes to build
SIZE_LIMITS = ((re.compile(r"(num_hidden_layers|num_layers|n_layers?|depth|num_blocks|encoder_layers|decoder_layers)$"), 1024),
               (re.compile(r"(num_experts|num_local_experts|n_routed_experts)$"), 4096),
               (re.compile(r"(hidden_size|intermediate_size|d_model|n_embd)$"), 1 << 20))


def _oversized(config, depth: int = 0):
    """(key, value, limit) of the first size a config declares beyond what any real model has, or None."""
    if depth > 8 or not isinstance(config, dict):
        return None
    for key, value in config.items():
        if isinstance(value, dict):
            found = _oversized(value, depth + 1)
            if found:
                return found
        elif isinstance(value, int) and not isinstance(value, bool):
            for pattern, limit in SIZE_LIMITS:
                if pattern.match(str(key)) and value > limit:
                    return key, value, limit
    return None


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

    def __init__(self, *, offline: bool = False, aliases: dict[str, str] | None = None, cache_dir: Path | None = None,
                 refresh: bool = False):
        self.offline = is_offline(offline)
        self.aliases = dict(aliases or {})
        self.cache_dir = cache_dir or default_cache_dir()
        self.refresh = refresh  # retry names remembered as failed
        self._resolved: dict[tuple, ResolvedModel | Unresolved] = {}
        self._inventories: dict[tuple, Inventory | Unresolved] = {}
        self._zoo: dict[str, Path] | None = None
        self._network_deadline: float | None = None  # set by the run's first download
        self._network_down: str | None = None  # why the network failed, once it has

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

        found = self._known_locally(ref)
        if found is not None:
            return found
        if not _HUB_ID.match(ref) or ".." in ref:
            raise Unresolved(f"{ref!r} is neither an existing local path nor a valid Hugging Face model id", "local")
        failure = None
        if self.offline:
            failure = Unresolved(f"{ref} is not bundled and not in the Hugging Face cache, and downloads are off "
                                 "(offline)", "offline")
        else:
            try:
                return ResolvedModel(ref, "hub", *self._download(ref))  # the hub's own config of a copy wins
            except Unresolved as exc:
                failure = exc
        copy = self._copy_of(ref)
        if copy is not None:
            return copy
        failure.help = way_out(ref, failure.kind, self._known())
        raise failure

    def _known_locally(self, ref: str) -> ResolvedModel | None:
        """The zoo, the Hugging Face cache, or a config downloaded before: no network."""
        if self._zoo is None:
            self._zoo = _zoo_index()
        zoo_path = self._zoo.get(ref.lower())
        if zoo_path is not None:
            return ResolvedModel(ref, "zoo", read_config(zoo_path), str(zoo_path))
        if not _HUB_ID.match(ref) or ".." in ref:
            return None
        for source, path in (("hf-cache", hf_cached_config(ref)), ("hub", self._downloaded_path(ref))):
            if path is not None and path.is_file():
                return ResolvedModel(ref, source, read_config(path), str(path))
        return None

    def _known(self) -> dict[str, str]:
        """Models loralint can stand a copy in for: the zoo, the aliases, the Hugging Face cache."""
        if self._zoo is None:
            self._zoo = _zoo_index()
        known = {key: path.parent.name.replace("--", "/") for key, path in self._zoo.items()}
        known.update({name.lower(): name for name in self.aliases})
        known.update({name.lower(): name for name in hf_cached_repos()})
        return known

    def _copy_of(self, ref: str) -> ResolvedModel | None:
        from .mirrors import NotACopy, original_of

        try:
            copy = original_of(ref, self._known())
        except NotACopy as exc:
            kind = "gguf" if exc.same_modules else "not-a-copy"
            raise Unresolved(str(exc), kind, way_out(ref, kind, self._known())) from None
        if copy is None:
            return None
        original = self.aliases.get(copy.original, copy.original)
        found = self._known_locally(original) or (self._local(original, None) if original != copy.original else None)
        if found is None:
            return None
        found.ref, found.via = ref, f"{ref} -> {copy.original} ({copy.reason})"
        return found

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

    # -- the hub: one quiet attempt, remembered -------------------------------------------------------
    def _downloaded_path(self, ref: str) -> Path:
        return self.cache_dir / "configs" / ref.replace("/", "--") / "config.json"

    def _negative_path(self, ref: str) -> Path:
        key = hashlib.sha256(f"{ref}\0{_token_fingerprint()}\0{hub_endpoint()}".encode()).hexdigest()[:32]
        return self.cache_dir / "unresolved" / f"{key}.json"

    def _remembered_failure(self, ref: str) -> Unresolved | None:
        if self.refresh:
            return None
        try:
            entry = json.loads(self._negative_path(ref).read_text(encoding="utf-8"))
            if entry["ref"] == ref and float(entry["until"]) > time.time():
                minutes = max(1, round((float(entry["until"]) - time.time()) / 60))
                return Unresolved(f"{entry['reason']} (remembered; retried in {minutes} min or with --refresh)",
                                  str(entry["kind"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no entry, or a damaged one: try again
        return None

    def _remember_failure(self, ref: str, failure: Unresolved) -> None:
        ttl = NEGATIVE_TTL_SECONDS.get(failure.kind)
        if ttl is None:
            return
        entry = {"ref": ref, "kind": failure.kind, "reason": str(failure), "until": time.time() + ttl}
        try:
            write_json_atomic(self._negative_path(ref), entry)
        except OSError:
            pass  # a read-only cache only costs time

    def _download(self, ref: str) -> tuple[dict, str]:
        remembered = self._remembered_failure(ref)
        if remembered is not None:
            raise remembered
        try:
            data = self._fetch(ref)
        except Unresolved as failure:
            self._remember_failure(ref, failure)
            raise
        path = self._downloaded_path(ref)
        try:
            config = json.loads(data)
        except (ValueError, RecursionError) as exc:
            failure = Unresolved(f"the Hub's config.json of {ref} is not valid JSON: {exc}", "invalid")
            self._remember_failure(ref, failure)
            raise failure from None
        try:
            write_bytes_atomic(path, data)
        except OSError:
            pass
        return _vetted(config, f"config.json of {ref}"), str(path)

    def _fetch(self, ref: str) -> bytes:
        """GET {HF_ENDPOINT}/{ref}/resolve/main/config.json once, within the run's budget."""
        import socket
        import urllib.error
        import urllib.request

        if self._network_down:
            raise Unresolved(f"could not reach the Hugging Face Hub for {ref}: {self._network_down}", "no-network")
        now = time.monotonic()
        if self._network_deadline is None:
            self._network_deadline = now + DOWNLOAD_BUDGET_SECONDS
        remaining = self._network_deadline - now
        if remaining <= 0.05:
            raise Unresolved(f"no time left to fetch {ref} (the run's {DOWNLOAD_BUDGET_SECONDS} s download budget "
                             "is spent)", "no-network")
        url = f"{hub_endpoint()}/{ref}/resolve/main/config.json"
        headers = {"User-Agent": "loralint (config.json only)"}
        token = hub_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=remaining) as response:
                data = response.read(MAX_CONFIG_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise _http_failure(ref, exc.code, exc.headers.get("X-Error-Code", ""), bool(token)) from None
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            if isinstance(reason, (socket.timeout, TimeoutError)):
                self._network_down = f"no answer within {DOWNLOAD_BUDGET_SECONDS} s"
            elif isinstance(reason, socket.gaierror):
                self._network_down = "its host name does not resolve (no network?)"
            else:
                self._network_down = f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__
            raise Unresolved(f"could not reach the Hugging Face Hub ({hub_endpoint()}) for {ref}: "
                             f"{self._network_down}", "no-network") from None
        if len(data) > MAX_CONFIG_BYTES:
            raise Unresolved(f"the Hub's config.json of {ref} is larger than {MAX_CONFIG_BYTES} bytes", "invalid")
        return data

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


def _http_failure(ref: str, status: int, error_code: str, has_token: bool) -> Unresolved:
    """The Hub answers 401 both for gated and for missing repositories; its X-Error-Code tells them apart."""
    if error_code == "GatedRepo" or (status == 403 and error_code != "RepoNotFound"):
        detail = "your token has not been granted access" if has_token else "no token is set"
        return Unresolved(f"{ref} is a gated repository on the Hugging Face Hub ({detail})", "gated")
    if error_code in ("RepoNotFound", "EntryNotFound", "RevisionNotFound") or status in (401, 404):
        what = "has no config.json" if error_code == "EntryNotFound" else "was not found"
        private = "" if has_token else " (or is private: set HF_TOKEN)"
        return Unresolved(f"{ref} {what} on the Hugging Face Hub{private}", "not-found")
    return Unresolved(f"the Hugging Face Hub answered HTTP {status} for {ref}", "no-network")


def way_out(ref: str, kind: str, known: dict[str, str]) -> str:
    """What the user can do about a model loralint cannot resolve, for this kind of failure."""
    import difflib

    name = ref.rpartition("/")[2]
    names = {full.rpartition("/")[2].lower(): full for full in known.values()}
    # a close name is only a way out when its module names could be the model's
    close = [] if kind == "not-a-copy" else difflib.get_close_matches(name.lower(), list(names), n=1, cutoff=0.75)
    target = names[close[0]] if close else "<hub id, or path to its config.json>"
    ways = []
    if kind == "gated":
        ways.append("set HF_TOKEN to a token that has accepted the model's license")
    ways += [f"pass --model {target if close else '<model>'}",
             f'add `models = {{ "{ref}" = "{target}" }}` under [tool.loralint] in pyproject.toml',
             f"or run `loralint inventory {ref} -o {name}.json` where the model is available and point that alias at "
             "the file"]
    return "; ".join(ways)


def hub_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def hub_token() -> str | None:
    """The token huggingface_hub would use: HF_TOKEN, then the saved login (read now, not at import)."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if os.environ.get(name):
            return os.environ[name].strip()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface")
    path = os.environ.get("HF_TOKEN_PATH") or os.path.join(home, "token")
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read(4096).strip() or None
    except OSError:
        return None


def _token_fingerprint() -> str:
    token = hub_token()
    return hashlib.sha256(token.encode()).hexdigest()[:16] if token else "anonymous"


def hf_cached_config(ref: str) -> Path | None:
    """config.json of `ref` in the Hugging Face cache (the layout huggingface_hub writes), without importing it."""
    repo = Path(hf_cache_dir()) / f"models--{ref.replace('/', '--')}"
    try:
        commit = (repo / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        commit = None
    if commit and re.fullmatch(r"[0-9a-f]{40}", commit):
        path = repo / "snapshots" / commit / "config.json"
        if path.is_file():
            return path
    try:
        snapshots = [p / "config.json" for p in (repo / "snapshots").iterdir() if (p / "config.json").is_file()]
    except OSError:
        return None
    return snapshots[0] if len(snapshots) == 1 else None


def hf_cached_repos() -> list[str]:
    try:
        entries = os.listdir(hf_cache_dir())
    except OSError:
        return []
    return [e[len("models--"):].replace("--", "/", 1) for e in entries if e.startswith("models--")]


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
