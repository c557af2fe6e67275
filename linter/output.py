"""Renderers: one diagnostic model, many shapes (full, concise, json, github)."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

from .diagnostics import SAFE, Diagnostic, apply_edits, split_lines


def _display_path(path: str) -> str:
    try:
        return Path(path).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path


def _marker(diag: Diagnostic) -> str:
    return " [*]" if diag.fix and diag.fix.applicability == SAFE else ""


def _where(d: Diagnostic) -> str:
    cell = f"cell {d.cell}:" if d.cell is not None else ""
    return f"{_display_path(d.file)}:{cell}{d.span.line}:{d.span.column}"


def _source_text(d: Diagnostic, texts: dict[str, str]) -> str | None:
    text = texts.get(d.file)
    if text is None or d.cell is None:
        return text
    try:
        source = json.loads(text)["cells"][d.cell - 1].get("source", "")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None
    return "".join(source) if isinstance(source, list) else str(source)


def concise(diagnostics: list[Diagnostic]) -> str:
    return "".join(f"{_where(d)}: {d.code}{_marker(d)} {d.message}\n" for d in diagnostics)


def full(diagnostics: list[Diagnostic], texts: dict[str, str]) -> str:
    """Ruff-style: the message, the source line with carets, and the fix as a diff."""
    out = []
    for d in diagnostics:
        out.append(f"{_where(d)}: {d.code}{_marker(d)} {d.message}")
        text = _source_text(d, texts)
        if text is not None:
            lines = split_lines(text)
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
        message = f"cell {d.cell}: {d.message}" if d.cell is not None else d.message
        out.append(f"::{level} {','.join(props)}::{_escape_data(message)}")
    out.append(concise(diagnostics).rstrip("\n"))
    return "\n".join(line for line in out if line) + "\n"


def summary(remaining: list[Diagnostic], fixed: int = 0, *, diff: bool = False, unsafe_enabled: bool = False,
            in_hook: bool = False) -> str:
    """ruff's wording: found N (M fixed, K remaining); a hint only for fixes the user can still ask for."""
    def problems(n: int) -> str:
        return f"{n} problem{'s' if n != 1 else ''}"

    found = len(remaining) + fixed
    if not found:
        return "All checks passed!\n"
    verb = "would be fixed" if diff else "fixed"
    text = f"Found {problems(found)} ({fixed} {verb}, {len(remaining)} remaining)." if fixed else f"Found {problems(found)}."
    safe = sum(1 for d in remaining if d.fix and d.fix.applicability == SAFE)
    unsafe = sum(1 for d in remaining if d.fix and d.fix.applicability == "unsafe")
    if safe and not fixed:
        text += f"\n[*] {safe} fixable with the `--fix` option."
    if unsafe and not unsafe_enabled:
        how = ("`unsafe-fixes = true` in [tool.loralint] (pyproject.toml)" if in_hook
               else "the `--fix --unsafe-fixes` options")
        text += f"\n{unsafe} more fixable with {how} (unsafe: review the change)."
    return text + "\n"


def _rule_doc_section(doc: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", doc, re.S | re.M)
    return match.group(1).strip() if match else ""


def sarif(diagnostics: list[Diagnostic], texts: dict[str, str], root: Path | None = None) -> str:
    """SARIF 2.1.0 for code scanning: rules with their docs, stable ids and fingerprints, fixes."""
    import hashlib

    from loralint import __version__, rules

    root = (root or Path.cwd()).resolve()
    rules_dir = Path(rules.__file__).parent
    rule_entries, index = [], {}
    for i, rule in enumerate(rules.RULES):
        doc_path = rules_dir / f"{rule.CODE}.md"
        doc = doc_path.read_text(encoding="utf-8") if doc_path.is_file() else ""
        index[rule.CODE] = i
        rule_entries.append({
            "id": rule.CODE,
            "name": rule.NAME,
            "shortDescription": {"text": rule.SUMMARY},
            "fullDescription": {"text": _rule_doc_section(doc, "What it does") or rule.SUMMARY},
            "help": {"text": _rule_doc_section(doc, "Why is this bad?") or rule.SUMMARY, "markdown": doc or rule.SUMMARY},
            "defaultConfiguration": {"level": "error" if rule.SEVERITY == "error" else "warning"},
            "properties": {"fix": rule.FIX or "none"},
        })

    def location(path: str) -> dict:
        try:
            uri = Path(path).resolve().relative_to(root).as_posix()
            return {"uri": uri, "uriBaseId": "%SRCROOT%"}
        except ValueError:
            return {"uri": Path(path).resolve().as_uri()}

    def region(span) -> dict:
        return {"startLine": span.line, "startColumn": span.column, "endLine": span.end_line, "endColumn": span.end_column}

    results = []
    for d in diagnostics:
        artifact = location(d.file)
        text = _source_text(d, texts) or ""
        lines = split_lines(text) if text else []
        source_line = lines[d.span.line - 1].strip() if 0 < d.span.line <= len(lines) else ""
        fingerprint = hashlib.sha256(f"{d.code}\0{artifact['uri']}\0{source_line}".encode()).hexdigest()
        result = {
            "ruleId": d.code,
            "ruleIndex": index.get(d.code, 0),
            "level": "error" if d.severity == "error" else "warning",
            "message": {"text": d.message},
            "locations": [{"physicalLocation": {"artifactLocation": artifact, "region": region(d.span)}}],
            "partialFingerprints": {"loralint/v1": fingerprint},
        }
        if d.cell is not None:
            result["properties"] = {"cell": d.cell}
        if d.fix and d.fix.edits:
            result["fixes"] = [{
                "description": {"text": f"{d.fix.message} ({d.fix.applicability})"},
                "artifactChanges": [{
                    "artifactLocation": artifact,
                    "replacements": [{"deletedRegion": region(e.span), "insertedContent": {"text": e.content}}
                                     for e in d.fix.edits],
                }],
            }]
        results.append(result)
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "loralint", "version": __version__, "semanticVersion": __version__,
                                "rules": rule_entries}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri() + "/"}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
    return json.dumps(log, indent=2) + "\n"
