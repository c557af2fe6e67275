"""Jupyter notebooks: the code cells linted as one program, locations and fixes mapped back to cells.

Magics and shell escapes (`%pip`, `!ls`, `%%bash` cells) become blank lines, so line numbers stay
aligned. Fixes are written back only when the notebook's JSON layout can be reproduced exactly, so
outputs and metadata stay byte for byte.
"""

from __future__ import annotations

import ast
import bisect
import json
import re
from pathlib import Path

from ..diagnostics import Diagnostic, Edit, Fix, apply_edits, span_at
from ..site import Span
from .base import FrontEnd, Parsed
from .errors import FrontEndError
from .peft_adapter import load_json_text

# cell magics whose body is Python (the first line is the magic itself); any other %% cell is not Python
PYTHON_CELL_MAGICS = {"%%time", "%%timeit", "%%capture", "%%prun", "%%debug", "%%memit", "%%skip"}
# `x = !ls`, `files = %sx ls`: IPython assigns a command's output; the value is not known statically
_ASSIGNED_ESCAPE = re.compile(r"^(\s*[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*)[!%]")
BROKEN_CELL_VALUE = "_loralint_unparsable_cell_"  # what a cell that does not parse assigns (pyvalues explains it)
_ASSIGNMENT_TARGETS = re.compile(r"^([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(?::[^=]*)?=(?!=)")


def _cell_source(cell) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(part for part in source if isinstance(part, str))
    return source if isinstance(source, str) else ""


def _is_ipython_line(stripped: str) -> bool:
    """`!cmd`, `%magic`, `%%magic`, `?obj`, `obj?`, `obj??`: IPython, not Python."""
    if stripped.startswith(("!", "%", "?")):
        return True
    return stripped.endswith("?") and "#" not in stripped and not stripped.startswith(("'", '"'))


def as_python(source: str) -> str:
    """The cell as Python with the same lines: each IPython line becomes `pass` at its indentation (a
    shell line inside `if COLAB:` keeps the block valid), its `\\` continuation lines become blank, and
    `x = !cmd` becomes `x = ...` (unknown). A `%%bash`-style cell becomes blank lines."""
    lines = source.split("\n")
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        if first.split()[0] not in PYTHON_CELL_MAGICS:
            return "\n".join("" for _ in lines)
        lines[0] = ""
    out, continued = [], False
    for line in lines:
        stripped = line.strip()
        if continued:
            out.append("")
        elif _is_ipython_line(stripped):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}pass")
        elif _ASSIGNED_ESCAPE.match(line):
            out.append(_ASSIGNED_ESCAPE.match(line).group(1) + "...")
        else:
            out.append(line)
            continue
        continued = stripped.endswith("\\")
    return "\n".join(out)


def _syntax_error(python: str) -> SyntaxError | None:
    try:
        ast.parse(python)
    except SyntaxError as exc:
        return exc
    except (ValueError, RecursionError, MemoryError) as exc:
        return SyntaxError(f"cannot parse: {type(exc).__name__}", ("", 1, 1, ""))
    return None


def _stand_in(python: str, cell_number: int) -> str:
    """A cell that does not parse, replaced by one line that makes the names it assigns unknown (the
    rest blank, so lines stay aligned): the notebook's other cells are still read in order."""
    names = []
    for line in python.split("\n"):
        found = _ASSIGNMENT_TARGETS.match(line)  # top-level assignments only: what later cells can see
        if found:
            names.extend(n.strip() for n in found.group(1).split(","))
    names = list(dict.fromkeys(names))
    first = " = ".join(names + [f"{BROKEN_CELL_VALUE}({cell_number})"]) if names else ""
    return "\n".join([first] + ["" for _ in python.split("\n")[1:]])


class NotebookProgram:
    def __init__(self, text: str, path: Path):
        self.path = path
        data = load_json_text(text, path)
        if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
            raise FrontEndError("not a Jupyter notebook (no `cells` list)")
        self.data = data
        self.code_cells: list[int] = []  # indices into data["cells"]
        self.first_lines: list[int] = []  # program line of each code cell's first line
        self.broken: list[tuple[int, SyntaxError]] = []  # (position among code cells, its error)
        parts, line = [], 1
        for index, cell in enumerate(data["cells"]):
            if not isinstance(cell, dict) or cell.get("cell_type") != "code":
                continue
            python = as_python(_cell_source(cell))
            error = _syntax_error(python)
            if error is not None:
                self.broken.append((len(self.code_cells), error))
                python = _stand_in(python, index + 1)
            self.code_cells.append(index)
            self.first_lines.append(line)
            parts.append(python + "\n")
            line += python.count("\n") + 1
        self.program = "".join(parts)

    def broken_cell_sites(self) -> list:
        """One LL900 site per cell that does not parse, located in the program (mapped to the cell later)."""
        from ..engine import unreadable_site

        sites = []
        for position, error in self.broken:
            lines = self.cell_text(position).split("\n")
            line = min(max(error.lineno or 1, 1), len(lines))
            column = max(1, min(error.offset or 1, len(lines[line - 1]) + 1))
            program_line = self.first_lines[position] + line - 1
            site = unreadable_site(self.path, FrontEndError(
                f"this cell does not parse ({error.msg}); the other cells were checked, with the names it "
                "assigns unknown", program_line, column))
            sites.append(site)
        return sites

    def cell_text(self, position: int) -> str:
        return _cell_source(self.data["cells"][self.code_cells[position]])

    def locate_line(self, program_line: int) -> tuple[int, int]:
        """(position among code cells, 1-based line within that cell) of a program line. Lines map one to
        one (IPython lines were replaced line for line), so do columns on every line that is Python."""
        position = max(0, bisect.bisect_right(self.first_lines, program_line) - 1)
        return position, program_line - self.first_lines[position] + 1

    def describe_line(self, program_line: int) -> str:
        position, line = self.locate_line(program_line)
        return f"cell {self.code_cells[position] + 1}, line {line}"

    def _cell_span(self, position: int, span: Span) -> Span:
        """A program span as a span of the cell's own text (offsets included, for edits)."""
        text = self.cell_text(position)
        starts = [0] + [m.end() for m in re.finditer("\n", text)]

        def offset(line: int, column: int) -> int:
            line = line - self.first_lines[position] + 1
            if line > len(starts):
                return len(text)
            line_end = starts[line] - 1 if line < len(starts) else len(text)
            return min(starts[line - 1] + column - 1, line_end)

        return span_at(text, offset(span.line, span.column), offset(span.end_line, span.end_column))

    def to_cells(self, diag: Diagnostic) -> Diagnostic:
        """The diagnostic with its span, and its fix's spans, relative to their cells."""
        position, _ = self.locate_line(diag.span.line)
        fix = None
        if diag.fix:
            edits = []
            for edit in diag.fix.edits:
                edit_position, _ = self.locate_line(edit.span.line)
                edits.append(Edit(self._cell_span(edit_position, edit.span), edit.content, self.code_cells[edit_position] + 1))
            fix = Fix(diag.fix.applicability, diag.fix.message, edits)
        return Diagnostic(diag.code, diag.name, diag.severity, diag.message, diag.file,
                          self._cell_span(position, diag.span), fix, cell=self.code_cells[position] + 1)

    def apply(self, edits: list[Edit]) -> bool:
        """Apply program-coordinate edits to the cells' sources; False when an edit spans cells."""
        by_cell: dict[int, list[Edit]] = {}
        for edit in edits:
            position, _ = self.locate_line(edit.span.line)
            end_position, _ = self.locate_line(edit.span.end_line)
            if end_position != position:
                return False
            by_cell.setdefault(position, []).append(Edit(self._cell_span(position, edit.span), edit.content))
        for position, cell_edits in by_cell.items():
            cell = self.data["cells"][self.code_cells[position]]
            new_source = apply_edits(self.cell_text(position), cell_edits)
            cell["source"] = new_source.splitlines(keepends=True) if isinstance(cell.get("source"), list) else new_source
        return True


def serializer_for(text: str, data) -> dict | None:
    """json.dumps settings that reproduce the notebook's text exactly, or None. JSON escapes line breaks
    inside strings, so a CRLF notebook's raw line breaks are all layout: compare with them as LF."""
    if "\r\n" in text and "\n" not in text.replace("\r\n", ""):
        settings = serializer_for(text.replace("\r\n", "\n"), data)
        return {**settings, "newline": "\r\n"} if settings else None
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
    options = {k: v for k, v in settings.items() if k not in ("tail", "newline")}
    text = json.dumps(data, **options) + tail
    return text.replace("\n", settings["newline"]) if "newline" in settings else text


class Notebook(FrontEnd):
    """Jupyter notebooks: the code cells as one program for the Python front end."""

    name = "notebook"
    suffixes = (".ipynb",)

    def parse(self, path: Path, text: str) -> Parsed:
        from .python import script_sites

        notebook = NotebookProgram(text, path)
        sites = notebook.broken_cell_sites() + script_sites(path, notebook.program)
        for site in sites:
            if site.line:
                position, site.line = notebook.locate_line(site.line)
                site.cell = notebook.code_cells[position] + 1
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
