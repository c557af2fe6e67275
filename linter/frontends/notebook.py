"""Jupyter notebooks: the code cells linted as one program, locations and fixes mapped back to cells.

Magics and shell escapes (`%pip`, `!ls`, `%%bash` cells) become blank lines, so line numbers stay
aligned. Fixes are written back only when the notebook's JSON layout can be reproduced exactly, so
outputs and metadata stay byte for byte.
"""

from __future__ import annotations

import bisect
import json
from pathlib import Path

from ..diagnostics import Diagnostic, Edit, Fix, apply_edits, span_at
from .base import FrontEnd, Parsed
from .errors import FrontEndError
from .peft_adapter import load_json_text

PYTHON_CELL_MAGICS = {"%%time", "%%timeit", "%%capture", "%%prun"}


def _cell_source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _as_python(source: str) -> str:
    lines = source.split("\n")
    if lines and lines[0].startswith("%%") and lines[0].split()[0] not in PYTHON_CELL_MAGICS:
        return "\n".join("" for _ in lines)  # a %%bash/%%html cell: not Python
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


class NotebookProgram:
    def __init__(self, text: str, path: Path):
        self.path = path
        data = load_json_text(text, path)
        if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
            raise FrontEndError("not a Jupyter notebook (no `cells` list)")
        self.data = data
        self.code_cells: list[int] = []  # indices into data["cells"]
        self.starts: list[int] = []  # program offset of each code cell
        parts, offset = [], 0
        for index, cell in enumerate(data["cells"]):
            if not isinstance(cell, dict) or cell.get("cell_type") != "code":
                continue
            source = _cell_source(cell)
            self.code_cells.append(index)
            self.starts.append(offset)
            chunk = _as_python(source) + "\n"
            parts.append(chunk)
            offset += len(chunk)
        self.program = "".join(parts)

    def cell_text(self, position: int) -> str:
        return _cell_source(self.data["cells"][self.code_cells[position]])

    def locate(self, offset: int) -> tuple[int, int]:
        """(position among code cells, offset within that cell)."""
        position = max(0, bisect.bisect_right(self.starts, offset) - 1)
        return position, offset - self.starts[position]

    def describe_line(self, program_line: int) -> str:
        offset = 0
        for _ in range(program_line - 1):
            offset = self.program.index("\n", offset) + 1
        position, local = self.locate(offset)
        line = self.cell_text(position).count("\n", 0, local) + 1
        return f"cell {self.code_cells[position] + 1}, line {line}"

    def to_cells(self, diag: Diagnostic) -> Diagnostic:
        """The diagnostic with its span, and its fix's spans, relative to their cells."""
        position, local = self.locate(diag.span.start)
        text = self.cell_text(position)
        span = span_at(text, local, min(len(text), local + (diag.span.end - diag.span.start)))
        fix = None
        if diag.fix:
            edits = []
            for edit in diag.fix.edits:
                edit_position, edit_local = self.locate(edit.span.start)
                edit_text = self.cell_text(edit_position)
                end = min(len(edit_text), edit_local + (edit.span.end - edit.span.start))
                edits.append(Edit(span_at(edit_text, edit_local, end), edit.content, self.code_cells[edit_position] + 1))
            fix = Fix(diag.fix.applicability, diag.fix.message, edits)
        return Diagnostic(diag.code, diag.name, diag.severity, diag.message, diag.file, span, fix,
                          cell=self.code_cells[position] + 1)

    def apply(self, edits: list[Edit]) -> bool:
        """Apply program-coordinate edits to the cells' sources; False when an edit spans cells."""
        by_cell: dict[int, list[Edit]] = {}
        for edit in edits:
            position, local = self.locate(edit.span.start)
            end_position, _ = self.locate(max(edit.span.start, edit.span.end - 1))
            if end_position != position:
                return False
            text = self.cell_text(position)
            by_cell.setdefault(position, []).append(
                Edit(span_at(text, local, local + edit.span.end - edit.span.start), edit.content))
        for position, cell_edits in by_cell.items():
            cell = self.data["cells"][self.code_cells[position]]
            new_source = apply_edits(self.cell_text(position), cell_edits)
            cell["source"] = new_source.splitlines(keepends=True) if isinstance(cell.get("source"), list) else new_source
        return True


def serializer_for(text: str, data) -> dict | None:
    """json.dumps settings that reproduce the notebook's text exactly, or None."""
    for indent in (1, 2, 4, None):
        for sort_keys in (True, False):
            for ensure_ascii in (False, True):
                dumped = json.dumps(data, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii)
                for tail in ("\n", ""):
                    if dumped + tail == text:
                        return {"indent": indent, "sort_keys": sort_keys, "ensure_ascii": ensure_ascii, "tail": tail}
    return None


def dump(data, settings: dict) -> str:
    tail = settings["tail"]
    options = {k: v for k, v in settings.items() if k != "tail"}
    return json.dumps(data, **options) + tail


class Notebook(FrontEnd):
    """Jupyter notebooks: the code cells as one program for the Python front end."""

    name = "notebook"
    suffixes = (".ipynb",)

    def parse(self, path: Path, text: str) -> Parsed:
        from .python import script_sites

        notebook = NotebookProgram(text, path)
        sites = script_sites(path, notebook.program)
        for site in sites:
            for item in site.evidence:
                item.where = notebook.describe_line(item.line) if item.line else None
        return Parsed(sites, notebook.program, notebook.to_cells)

    def still_parses(self, text: str) -> bool:
        import ast

        try:
            ast.parse(NotebookProgram(text, Path("notebook.ipynb")).program)
        except (FrontEndError, SyntaxError, ValueError, RecursionError, MemoryError):
            return False
        return True

    def fix_round(self, linter, path: Path, text: str, allowed: set) -> str | None:
        from ..engine import fix_edits

        try:
            notebook = NotebookProgram(text, path)
        except FrontEndError:
            return None
        settings = serializer_for(text, notebook.data)  # before `apply` changes the cells
        if settings is None:
            return None  # the layout cannot be reproduced: writing would touch outputs or metadata
        diagnostics, _ = linter.lint_program(path, notebook.program)
        edits = fix_edits(diagnostics, allowed)
        if not edits or not notebook.apply(edits):
            return None
        new_text = dump(notebook.data, settings)
        return new_text if new_text != text and self.still_parses(new_text) else None
