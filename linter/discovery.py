"""Which files a run lints: directories expanded the way git sees them, excludes honoured."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from . import frontends
from .config import Settings

def is_candidate(path: Path) -> bool:
    """A file a directory walk lints: saved weights are audited through the adapter config beside them."""
    frontend = frontends.for_path(path)
    return frontend is not None and not frontend.binary


SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", "node_modules", ".mypy_cache",
             ".pytest_cache", ".ruff_cache", "site-packages", "build", "dist"}


def _git_listed(directory: Path) -> list[Path] | None:
    """Files under `directory` that git tracks or would track (not ignored); None outside git."""
    import subprocess

    try:
        proc = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
            cwd=directory, capture_output=True, timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return [directory / p for p in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if p]


def discover(paths: list[Path], settings: Settings) -> list[Path]:
    """Expand directories (skipping what git ignores); files named explicitly are kept."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            listed = _git_listed(path)
            if listed is None:
                listed = []
                for root, dirs, files in os.walk(path):
                    dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
                    listed.extend(Path(root) / f for f in sorted(files))
            out.extend(p for p in sorted(listed) if is_candidate(p) and p.is_file() and not _excluded(p, settings))
        else:
            if not _excluded(path, settings):
                out.append(path)
    seen, unique = set(), []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def _excluded(path: Path, settings: Settings) -> bool:
    return bool(settings.exclude) and glob_matches(path, settings.root, settings.exclude)


def glob_matches(path: Path, root: Path, patterns: list[str]) -> bool:
    """A pattern matches the path relative to the project root, or the file name alone."""
    try:
        relative = path.resolve().relative_to(root).as_posix()
    except ValueError:
        relative = path.as_posix()
    return any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(path.name, p) for p in patterns)
