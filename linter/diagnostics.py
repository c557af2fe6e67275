"""The one diagnostic model every renderer, the fixer and the editor server share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .site import Span

SAFE, UNSAFE = "safe", "unsafe"
LINE_BREAK = re.compile(r"\r\n|\r|\n")  # as libcst and YAML count lines


def split_lines(text: str) -> list[str]:
    return LINE_BREAK.split(text)


def line_starts(text: str) -> list[int]:
    """Offset of each line's first character."""
    return [0] + [m.end() for m in LINE_BREAK.finditer(text)]


@dataclass(frozen=True)
class Edit:
    span: Span  # what to replace (empty span: insert at span.start)
    content: str
    cell: int | None = None  # notebooks: 1-based cell the span is relative to

    def to_json(self) -> dict:
        out = {"line": self.span.line, "column": self.span.column, "end_line": self.span.end_line,
               "end_column": self.span.end_column, "content": self.content}
        if self.cell is not None:
            out["cell"] = self.cell
        return out


@dataclass
class Fix:
    applicability: str  # safe | unsafe | display
    message: str
    edits: list[Edit] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"applicability": self.applicability, "message": self.message, "edits": [e.to_json() for e in self.edits]}


@dataclass
class Diagnostic:
    code: str
    name: str
    severity: str  # error | warning
    message: str
    file: str
    span: Span
    fix: Fix | None = None
    cell: int | None = None  # notebooks: 1-based cell; `span` is then relative to that cell

    def to_json(self) -> dict:
        out = {
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "fix": self.fix.to_json() if self.fix else None,
        }
        if self.cell is not None:
            out["cell"] = self.cell
        return out


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits, from the end of the text backwards."""
    out = text
    last_start = len(text) + 1
    for edit in sorted(edits, key=lambda e: (e.span.start, e.span.end), reverse=True):
        if edit.span.end > last_start:
            continue  # overlaps an edit already applied: left for the next round
        out = out[: edit.span.start] + edit.content + out[edit.span.end :]
        last_start = edit.span.start
    return out


def span_at(text: str, start: int, end: int) -> Span:
    """A Span for offsets into `text` (lines split as libcst and YAML do: \\r\\n, \\r, \\n)."""

    def position(offset: int) -> tuple[int, int]:
        before = text[:offset]
        line = before.count("\n") + before.count("\r") - before.count("\r\n") + 1
        last_break = max(before.rfind("\n"), before.rfind("\r"))
        return line, offset - last_break

    line, column = position(start)
    end_line, end_column = position(end)
    return Span(start, end, line, column, end_line, end_column)


def human_count(n: int) -> str:
    for unit, size in (("B", 1_000_000_000), ("M", 1_000_000), ("K", 1_000)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)
