"""The versions a project trains with, read from what the repository pins.

Looked for in the project's root (the nearest folder with .git or pyproject.toml): lock files first
(`uv.lock`, `poetry.lock`, `Pipfile.lock`: exact versions), then `requirements*.txt` (also under
`requirements/`), `pyproject.toml` dependencies (PEP 621, Poetry, dependency groups), `environment.yml`
(with its pip list), `setup.cfg` and `setup.py`. A pin is an exact version (`==`, a lock) or a lower bound
(`>=`, `~=`); the first file that names a package wins, and the result says which file that was.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PACKAGES = {"transformers", "peft", "trl", "ms-swift", "llamafactory", "axolotl", "unsloth"}
MAX_BYTES = 4 * 1024 * 1024
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(===|==|>=|~=|>|<=|<|!=)?\s*([0-9][^\s,;#]*)?")


@dataclass(frozen=True)
class Pin:
    package: str
    version: str | None  # the version named (None: the package is listed without one)
    exact: bool
    source: str  # the file it came from, relative to the project root

    def describe(self) -> str:
        if self.version is None:
            return f"{self.package} (unpinned in {self.source})"
        return f"{self.package}{'==' if self.exact else '>='}{self.version} ({self.source})"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _from_requirement(line: str, source: str) -> Pin | None:
    match = _REQUIREMENT.match(line.split("#", 1)[0])
    if not match:
        return None
    name = _normal(match.group(1))
    if name == "ms-swift" or name in PACKAGES:
        operator, version = match.group(2), match.group(3)
        if operator in ("<", "<=", "!=", ">"):
            return Pin(name, None, False, source)
        return Pin(name, version, operator in ("==", "==="), source)
    return None


def _read(path: Path) -> str | None:
    from .files import read_text

    try:
        return read_text(path, MAX_BYTES, errors="replace")
    except OSError:
        return None


def _locks(root: Path) -> dict[str, Pin]:
    found: dict[str, Pin] = {}
    for name in ("uv.lock", "poetry.lock"):
        text = _read(root / name)
        if text:
            for match in re.finditer(r'^\[\[package\]\]\s*\nname\s*=\s*"([^"]+)"\s*\nversion\s*=\s*"([^"]+)"', text, re.M):
                package = _normal(match.group(1))
                if package in PACKAGES:
                    found.setdefault(package, Pin(package, match.group(2), True, name))
    text = _read(root / "Pipfile.lock")
    if text:
        try:
            data = json.loads(text)
        except ValueError:
            data = {}
        for section in ("default", "develop"):
            for package, entry in (data.get(section) or {}).items():
                version = str((entry or {}).get("version", "")).lstrip("=")
                if _normal(package) in PACKAGES and version:
                    found.setdefault(_normal(package), Pin(_normal(package), version, True, "Pipfile.lock"))
    return found


def _requirement_files(root: Path) -> list[Path]:
    files = sorted(root.glob("requirements*.txt")) + sorted((root / "requirements").glob("*.txt"))
    return [f for f in files if f.is_file()]


def _pyproject(root: Path) -> list[str]:
    import tomllib

    text = _read(root / "pyproject.toml")
    if not text:
        return []
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return []
    lines = list(data.get("project", {}).get("dependencies", []) or [])
    for extra in (data.get("project", {}).get("optional-dependencies", {}) or {}).values():
        lines.extend(extra or [])
    for group in (data.get("dependency-groups", {}) or {}).values():
        lines.extend(item for item in group or [] if isinstance(item, str))
    poetry = data.get("tool", {}).get("poetry", {}).get("dependencies", {}) or {}
    for package, spec in poetry.items():
        version = spec.get("version") if isinstance(spec, dict) else spec
        if isinstance(version, str):
            lines.append(f"{package}{'==' if re.match(r'^[0-9]', version) else ''}{version.lstrip('^~')}"
                         if not version.startswith(("<", ">", "=", "!")) else f"{package}{version}")
    return [line for line in lines if isinstance(line, str)]


def _environment(root: Path) -> list[str]:
    text = _read(root / "environment.yml") or _read(root / "environment.yaml")
    if not text:
        return []
    return [re.sub(r"^\s*-\s*", "", line).replace("=", "==", 1) if re.match(r"^\s*-\s*[\w.-]+=[0-9]", line)
            and "==" not in line else re.sub(r"^\s*-\s*", "", line)
            for line in text.splitlines() if re.match(r"^\s*-\s*[A-Za-z]", line)]


def _setup(root: Path) -> list[str]:
    lines = []
    cfg = _read(root / "setup.cfg")
    if cfg:
        block = re.search(r"install_requires\s*=\s*\n((?:[ \t]+.*\n?)+)", cfg)
        if block:
            lines.extend(block.group(1).split("\n"))
    setup = _read(root / "setup.py")
    if setup:
        lines.extend(re.findall(r"""["']([A-Za-z0-9_.-]+\s*(?:==|>=|~=)\s*[0-9][^"']*)["']""", setup))
    return lines


@lru_cache(maxsize=64)
def project_pins(root: Path) -> dict[str, Pin]:
    """Each known package the project pins, with where."""
    pins = _locks(root)
    sources = [(path.name if path.parent == root else f"requirements/{path.name}", (_read(path) or "").splitlines())
               for path in _requirement_files(root)]
    sources += [("pyproject.toml", _pyproject(root)), ("environment.yml", _environment(root)),
                ("setup.cfg/setup.py", _setup(root))]
    for source, lines in sources:
        for line in lines:
            pin = _from_requirement(line, source)
            if pin is not None and pin.package not in pins:
                pins[pin.package] = pin
    return pins


def version_tuple(version: str | None) -> tuple[int, ...]:
    parts = re.findall(r"\d+", version or "")[:3]
    return tuple(int(p) for p in parts)
