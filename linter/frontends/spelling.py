"""Values and edits in a file's own syntax (Python call or dict, YAML, JSON)."""

from __future__ import annotations

import json

from ..diagnostics import Edit, span_at
from ..site import Site, Span


def spell(value, syntax: str) -> str:
    """A value as source text in the file's language."""
    python = syntax.startswith("python")
    if isinstance(value, bool):
        return str(value) if python else str(value).lower()
    if isinstance(value, str) and python:
        return f'r"{value}"' if '"' not in value and not value.endswith("\\") else repr(value)
    if isinstance(value, str) and syntax == "yaml":
        return "'" + value.replace("'", "''") + "'"  # single quotes: no escape changes meaning
    return repr(value) if python else json.dumps(value)


def spell_key(field: str, syntax: str) -> str:
    if syntax == "python-call":
        return f"{field}="
    if syntax == "python-dict":
        return f'"{field}": '
    return f'"{field}": ' if syntax == "json" else f"{field}: "


def edit_for(site: Site, text: str, field: str, value) -> tuple[Edit | None, bool]:
    """Rewrite the setting's value where it is written, or add it after the site's anchor."""
    literal = spell(value, site.syntax)
    if field in site.spans:
        span = site.spans[field]
        prefix = " " if site.syntax == "yaml" and text[span.start - 1:span.start] == ":" else ""
        drops_comment = site.syntax == "yaml" and span.start != span.end and has_comment(text[span.start:span.end])
        return Edit(span, prefix + literal), drops_comment
    anchor = site.anchor
    if anchor is None:
        return None, False
    key = site.key_names.get(field, field)
    at = Span(anchor.end, anchor.end, anchor.end_line, anchor.end_column, anchor.end_line, anchor.end_column)
    if site.syntax == "yaml":
        # a new top-level key on its own line after the anchor's line (its comment stays put)
        line_end = text.find("\n", anchor.end)
        line_end = len(text) if line_end < 0 else line_end - (text[line_end - 1] == "\r")
        newline = "\r\n" if "\r\n" in text else "\n"
        return Edit(span_at(text, line_end, line_end), f"{newline}{key}: {literal}"), False
    if site.syntax == "json":
        return Edit(at, f", {json.dumps(key)}: {literal}"), False
    return Edit(at, f", {spell_key(key, site.syntax)}{literal}"), False


def has_comment(chunk: str) -> bool:
    """Does this YAML text hold a comment (a `#` outside quotes, after white space)?"""
    in_single = in_double = False
    previous = " "
    for ch in chunk:
        if ch == "'" and not in_double:
            in_single = not in_single
        elif ch == '"' and not in_single and previous != "\\":
            in_double = not in_double
        elif ch == "#" and not in_single and not in_double and previous in " \t\n\r":
            return True
        previous = ch
    return False
