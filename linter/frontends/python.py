"""Training scripts: LoRA sites found with libcst, never by importing or running the script.

This module is the front end's light shell: Python's own parser vets a file first (`pyscan`), so
files without a LoRA call never import libcst. The work is in `pyvalues` (values as a reader sees
them), `pyevidence` (the data's modality) and `pysites` (the sites).
"""

from __future__ import annotations

import ast
from pathlib import Path

from ..site import Site
from .base import FrontEnd


def script_sites(path: Path, text: str) -> list[Site]:
    """The LoRA sites of Python source (a script, or a notebook's cells as one program)."""
    from .pyscan import PREFILTER, scan

    if not PREFILTER.search(text) or not scan(text):
        return []
    from .pysites import extract_sites  # imports libcst: only for files with a LoRA call
    from .pyvalues import PythonFile

    return extract_sites(PythonFile(text, path))


class PythonScript(FrontEnd):
    name = "python"
    suffixes = (".py", ".pyi")
    noqa = True

    def sites(self, path: Path, text: str) -> list[Site]:
        return script_sites(path, text)

    def still_parses(self, text: str) -> bool:
        try:
            ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
        return True

    def ignore_comment(self, path: Path, code: str) -> str | None:
        return f"  # noqa: {code}"
