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


def script_sites(path: Path, text: str, launch=None, launch_args=None) -> list[Site]:
    """The LoRA sites of Python source (a script, or a notebook's cells as one program); with a launch,
    the script as that command line runs it (the sites are then located in the launch)."""
    from .pyscan import PREFILTER, scan

    if not PREFILTER.search(text) or not scan(text):
        return []
    from .pysites import extract_sites  # imports libcst: only for files with a LoRA call
    from .pyvalues import PythonFile

    return extract_sites(PythonFile(text, path, launch=launch, launch_args=launch_args))


def command_line_sites(path: Path, text: str) -> list[Site]:
    """A script whose LoRA settings come from its command line (TRL's `get_peft_config(model_args)`): the
    launches in its own docstring, or, when there is none anywhere, one LL901 that says where we looked."""
    import ast

    if "get_peft_config" not in text or not ("TrlParser" in text or "HfArgumentParser" in text):
        return []
    from ..problems import Kind, Problem
    from .launch import docstring_launches, target_of
    from .shell import find_launches, project_root, sites_of_launch

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    parser_line = next((node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
                        and getattr(node.func, "id", getattr(node.func, "attr", "")) in ("TrlParser", "HfArgumentParser")), None)
    peft_from_args = any(isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "get_peft_config"
                         for node in ast.walk(tree))
    if parser_line is None or not peft_from_args:
        return []
    sites = []
    docstring = tree.body[0] if tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(
        getattr(tree.body[0], "value", None), ast.Constant) and isinstance(tree.body[0].value.value, str) else None
    own = []
    if docstring is not None:
        from ..diagnostics import line_starts

        starts = line_starts(text)
        span = (starts[docstring.lineno - 1] + docstring.col_offset, starts[docstring.end_lineno - 1] + docstring.end_col_offset)
        for launch in docstring_launches(path, text, span):
            target = target_of(launch)
            if target is not None and target.kind == "script" and Path(target.name).name == path.name:
                own.append(launch)
            elif target is not None and target.kind == "cli":
                own.append(launch)
    for launch in own:
        sites.extend(sites_of_launch(launch))
    if own:
        return sites
    root = project_root(path)
    elsewhere, looked = find_launches(path, root)
    if elsewhere:
        return []  # checked where they are written
    from ..diagnostics import line_starts
    from ..site import Span

    start = line_starts(text)[parser_line - 1]
    problem = Problem(Kind.NOT_STATIC, "the LoRA settings come from the command line (TRL's ModelConfig: --use_peft, "
                      f"--lora_target_modules ...); no launch of this script found (looked in its docstring and {looked} "
                      f"shell scripts and Makefiles under {root})")
    site = Site(file=str(path), line=parser_line, framework="trl", model_ref=None, lora=None, problem=problem,
                call_span=Span(start, start, parser_line, 1, parser_line, 1))
    return [site]


class PythonScript(FrontEnd):
    name = "python"
    suffixes = (".py", ".pyi")
    noqa = True

    def sites(self, path: Path, text: str) -> list[Site]:
        return script_sites(path, text) + command_line_sites(path, text)

    def still_parses(self, text: str) -> bool:
        try:
            ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
        return True

    def ignore_comment(self, path: Path, code: str) -> str | None:
        return f"  # noqa: {code}"
