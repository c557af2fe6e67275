"""Renderers: one diagnostic model, many shapes (full, concise, json, github)."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

from .diagnostics import SAFE, Diagnostic, apply_edits


def _display_path(path: str) -> str:
    try:
        return Path(path).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path


def _marker(diag: Diagnostic) -> str:
    return " [*]" if diag.fix and diag.fix.applicability == SAFE else ""


def concise(diagnostics: list[Diagnostic]) -> str:
    return "".join(
        f"{_display_path(d.file)}:{d.span.line}:{d.span.column}: {d.code}{_marker(d)} {d.message}\n" for d in diagnostics
    )


def full(diagnostics: list[Diagnostic], texts: dict[str, str]) -> str:
    """Ruff-style: the message, the source line with carets, and the fix as a diff."""
    out = []
    for d in diagnostics:
        out.append(f"{_display_path(d.file)}:{d.span.line}:{d.span.column}: {d.code}{_marker(d)} {d.message}")
        text = texts.get(d.file)
        if text is not None:
            lines = re.split(r"\r\n|\r|\n", text)
            if 0 < d.span.line <= len(lines):
                number = str(d.span.line)
                pad = " " * len(number)
                source = lines[d.span.line - 1]
                end_col = d.span.end_column if d.span.end_line == d.span.line else len(source) + 1
                width = max(1, end_col - d.span.column)
                out.append(f"{pad} |")
                out.append(f"{number} | {source}")
                out.append(f"{pad} | {' ' * (d.span.column - 1)}{'^' * width} {d.code}")
                out.append(f"{pad} |")
        if d.fix:
            out.append(f"  = help: {d.fix.message} ({d.fix.applicability} fix)")
            if text is not None and d.fix.edits:
                fixed = apply_edits(text, d.fix.edits)
                diff = difflib.unified_diff(text.splitlines(), fixed.splitlines(), lineterm="", n=0)
                out.extend("    " + line for line in list(diff)[2:])
        out.append("")
    return "\n".join(out) + ("\n" if out else "")


def as_json(diagnostics: list[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diagnostics], indent=2) + "\n"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github(diagnostics: list[Diagnostic]) -> str:
    """GitHub Actions workflow commands, then a plain summary (GitHub shows only 10 of a kind)."""
    out = []
    for d in diagnostics:
        level = "error" if d.severity == "error" else "warning"
        props = [f"file={_escape_property(_display_path(d.file))}", f"line={d.span.line}"]
        if d.span.end_line == d.span.line:
            props.append(f"col={d.span.column}")
            props.append(f"endColumn={d.span.end_column}")
        props.append(f"endLine={d.span.end_line}")
        props.append(f"title={_escape_property(f'loralint ({d.code})')}")
        out.append(f"::{level} {','.join(props)}::{_escape_data(d.message)}")
    out.append(concise(diagnostics).rstrip("\n"))
    return "\n".join(line for line in out if line) + "\n"


def summary(diagnostics: list[Diagnostic], fixed: int = 0) -> str:
    if not diagnostics:
        return f"All checks passed!{f' Fixed {fixed} file(s).' if fixed else ''}\n"
    fixable = sum(1 for d in diagnostics if d.fix and d.fix.applicability == SAFE)
    unsafe = sum(1 for d in diagnostics if d.fix and d.fix.applicability == "unsafe")
    text = f"Found {len(diagnostics)} problem{'s' if len(diagnostics) != 1 else ''}."
    if fixed:
        text += f" Fixed {fixed} file(s)."
    if fixable:
        text += f"\n[*] {fixable} fixable with `loralint check --fix`."
    if unsafe:
        text += f"\n{unsafe} more fixable with `--fix --unsafe-fixes`."
    return text + "\n"
