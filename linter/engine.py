"""Lint files: front end -> sites -> analysis -> rules -> diagnostics; and apply fixes."""

from __future__ import annotations

import ast
import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .config import Settings
from .diagnostics import SAFE, UNSAFE, Diagnostic, apply_edits
from .frontends.errors import FrontEndError
from .inventory import write_bytes_atomic
from .report import Analysis, analyze
from .resolve import Resolver
from .rule import RuleContext
from .site import Span

PYTHON_SUFFIXES = (".py", ".pyi")
ADAPTER_CONFIG = "adapter_config.json"
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_FIX_ROUNDS = 5
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", "node_modules", ".mypy_cache",
             ".pytest_cache", ".ruff_cache", "site-packages", "build", "dist"}

NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Za-z0-9-]+(?:\s*,\s*[A-Za-z0-9-]+)*))?", re.I)
IGNORE = re.compile(r"#\s*loralint:\s*ignore\[(?P<codes>[^\]]*)\]")


@dataclass
class SourceFile:
    """A file's text as loralint edits it: BOM and newlines kept exactly."""

    path: Path
    text: str
    bom: bool = False

    @classmethod
    def read(cls, path: Path) -> "SourceFile":
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise FrontEndError(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; not read")
            raw = path.read_bytes()
        except OSError as exc:
            raise FrontEndError(f"cannot read file: {exc.strerror or exc}") from None
        bom = raw.startswith(b"\xef\xbb\xbf")
        try:
            text = raw[3 if bom else 0:].decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise FrontEndError(f"not valid UTF-8 (byte {exc.start})", line) from None
        return cls(path, text, bom)

    def write(self, new_text: str) -> None:
        """Atomically replace the file, keeping its BOM and mode."""
        data = (b"\xef\xbb\xbf" if self.bom else b"") + new_text.encode("utf-8")
        write_bytes_atomic(self.path, data, self.path.stat().st_mode)
        self.text = new_text


@dataclass
class FileResult:
    path: Path
    diagnostics: list[Diagnostic] = field(default_factory=list)
    analyses: list[Analysis] = field(default_factory=list)
    source: SourceFile | None = None


YAML_SUFFIXES = (".yaml", ".yml")


def is_candidate(path: Path) -> bool:
    return path.suffix in PYTHON_SUFFIXES + YAML_SUFFIXES + (".json", ".ipynb")


class Linter:
    def __init__(self, settings: Settings, resolver: Resolver, *, modality: str | None = None,
                 model: str | None = None, select=None, ignore=None):
        from loralint import rules

        self.settings = settings
        self.resolver = resolver
        self.modality = modality or settings.modality
        self.model = model
        selected = []
        for selector in (select or settings.select):
            selected.extend(rules.resolve_selector(selector))
        ignored = {r.CODE for selector in (ignore or []) + settings.ignore for r in rules.resolve_selector(selector)}
        self.rules = [r for r in rules.RULES if r in selected and r.CODE not in ignored]
        self.rule_codes = {r.CODE for r in self.rules}
        self._all_rules = rules

    # -- files ------------------------------------------------------------------------------------
    def lint_path(self, path: Path) -> FileResult:
        try:
            return self._lint_path(path)
        except RecursionError:
            return FileResult(path, [self._unreadable(path, FrontEndError("nested too deeply to analyse"))])
        except Exception as exc:  # a bug must cost one file, not the run, and never print a traceback
            message = f"internal error while checking this file ({type(exc).__name__}: {exc}); please report it"
            return FileResult(path, [self._unreadable(path, FrontEndError(message))])

    def _lint_path(self, path: Path) -> FileResult:
        if path.suffix == ".safetensors" or path.name == "adapter_model.bin":
            return self._lint_weights(path)
        result = FileResult(path)
        try:
            source = SourceFile.read(path)
        except FrontEndError as exc:
            if _maybe_foreign(path):
                return result  # a large or binary YAML/JSON file is data, not a training config
            result.diagnostics = self._filtered(path, None, [self._unreadable(path, exc)])
            return result
        result.source = source
        result.diagnostics, result.analyses = self.lint_text(path, source.text)
        return result

    def lint_text(self, path: Path, text: str) -> tuple[list[Diagnostic], list[Analysis]]:
        if path.suffix != ".ipynb":
            return self._lint_program(path, text)
        from .frontends.notebook import NotebookProgram

        try:
            notebook = NotebookProgram(text, path)
        except FrontEndError as exc:
            return self._filtered(path, None, [self._unreadable(path, exc)]), []
        diagnostics, analyses = self._lint_program(path, notebook.program, notebook)
        return [notebook.to_cells(d) if d.code != "LL900" else d for d in diagnostics], analyses

    def _lint_program(self, path: Path, text: str, notebook=None) -> tuple[list[Diagnostic], list[Analysis]]:
        try:
            sites = sites_for_text(path, text)
        except FrontEndError as exc:
            return self._filtered(path, text, [self._unreadable(path, exc)]), []
        diagnostics, analyses = [], []
        for site in sites:
            if self.modality:
                site.modality = self.modality
            if notebook is not None:
                for item in site.evidence:
                    item.where = notebook.describe_line(item.line) if item.line else None
            analysis = analyze(site, self.resolver, model_override=self.model)
            analyses.append(analysis)
            if path.name == ADAPTER_CONFIG:
                diagnostics.extend(self._audit_beside(path, text, analysis))
            ctx = RuleContext(analysis, text)
            for rule in self.rules:
                ctx.rule = rule
                diagnostics.extend(rule.check(ctx))
        return self._filtered(path, text, diagnostics), analyses

    def _fix_notebook(self, path: Path, text: str, allowed: set) -> tuple[str, list[Diagnostic]]:
        for _ in range(MAX_FIX_ROUNDS):
            new_text = _notebook_round(self, path, text, allowed)
            if new_text is None:
                break
            text = new_text
        return text, self.lint_text(path, text)[0]

    # -- saved adapters ----------------------------------------------------------------------------
    def _lint_weights(self, weights: Path) -> FileResult:
        """An adapter's weights named directly: audit them with the config beside them, if any."""
        config = weights.parent / ADAPTER_CONFIG
        if config.is_file():
            result = self.lint_path(config)
            result.diagnostics = [d for d in result.diagnostics if Path(d.file) == weights]
            return result
        result = FileResult(weights)
        result.diagnostics = self._filtered(weights, None, self._audit_diagnostics(weights, None, ""))
        return result

    def _audit_beside(self, config_path: Path, text: str, analysis: Analysis) -> list[Diagnostic]:
        from .adapter_audit import weights_beside

        weights = weights_beside(config_path)
        return [] if weights is None else self._audit_diagnostics(weights, analysis, text)

    def _audit_diagnostics(self, weights: Path, analysis: Analysis | None, config_text: str) -> list[Diagnostic]:
        """LL900/LL901 for weights that cannot be judged; otherwise the audit is attached to the
        analysis and LL005 comes from the rule (run here when there is no adapter config)."""
        from .adapter_audit import AuditError, audit_saved
        from .matching import LoraSpec
        from .site import Site

        rules = self._all_rules.BY_CODE
        start = RuleContext.file_start()
        try:
            result = audit_saved(weights, config_text, analysis.inventory if analysis else None)
        except AuditError as exc:
            rule = rules["LL900"]
            return [Diagnostic(rule.CODE, rule.NAME, rule.SEVERITY, f"{weights.name}: {exc}", str(weights), start)]
        if result.not_applicable:
            rule = rules["LL901"]
            return [Diagnostic(rule.CODE, rule.NAME, rule.SEVERITY, f"cannot audit {weights.name}: {result.not_applicable}",
                               str(weights), start)]
        if analysis is not None:
            analysis.audit = result
            return []
        analysis = Analysis(Site(file=str(weights), line=1, framework="peft", model_ref=None, lora=LoraSpec()))
        analysis.audit = result
        rule = rules["LL005"]
        return list(rule.check(RuleContext(analysis, "", rule))) if rule in self.rules else []

    def _unreadable(self, path: Path, exc: FrontEndError) -> Diagnostic:
        rule = self._all_rules.BY_CODE["LL900"]
        span = Span(0, 0, exc.line, exc.column, exc.line, exc.column)
        return Diagnostic(rule.CODE, rule.NAME, rule.SEVERITY, str(exc), str(path), span)

    # -- suppression ------------------------------------------------------------------------------
    def _filtered(self, path: Path, text: str | None, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
        ignored = self._per_file_ignores(path)
        lines = re.split(r"\r\n|\r|\n", text) if text is not None else []
        out = []
        for diag in diagnostics:
            if diag.code not in self.rule_codes or diag.code in ignored:
                continue
            line = lines[diag.span.line - 1] if 0 < diag.span.line <= len(lines) else ""
            if _suppressed(diag, line, path):
                continue
            out.append(diag)
        return sorted(out, key=lambda d: (d.span.line, d.span.column, d.code))

    def _per_file_ignores(self, path: Path) -> set[str]:
        codes = set()
        for pattern, selectors in self.settings.per_file_ignores.items():
            if _glob_matches(path, self.settings.root, [pattern]):
                for selector in selectors:
                    codes.update(r.CODE for r in self._all_rules.resolve_selector(selector))
        return codes

    # -- fixes ------------------------------------------------------------------------------------
    def fix_text(self, path: Path, text: str, unsafe: bool) -> tuple[str, list[Diagnostic]]:
        """Apply fixes until none is left (bounded); return the new text and what remains."""
        allowed = {SAFE, UNSAFE} if unsafe else {SAFE}
        if path.suffix == ".ipynb":
            return self._fix_notebook(path, text, allowed)
        diagnostics, _ = self.lint_text(path, text)
        for _ in range(MAX_FIX_ROUNDS):
            edits = _fix_edits(diagnostics, allowed)
            if not edits:
                break
            new_text = apply_edits(text, edits)
            if new_text == text or not _still_parses(path, new_text):
                break
            text = new_text
            diagnostics, _ = self.lint_text(path, text)
        return text, diagnostics


def sites_for_text(path: Path, text: str):
    """The LoRA sites of a file, by its kind; [] for files that are not ours. A notebook's text here
    is already its code cells as one program."""
    if path.suffix in PYTHON_SUFFIXES or path.suffix == ".ipynb":
        from .frontends.pyscan import PREFILTER, scan

        if not PREFILTER.search(text) or not scan(text):
            return []
        from .frontends.python import PythonFile, extract_sites  # imports libcst: only for LoRA scripts

        return extract_sites(PythonFile(text, path))
    if path.name == ADAPTER_CONFIG:
        from .frontends.peft_adapter import sites_from_text

        return sites_from_text(text, path)
    if path.suffix in YAML_SUFFIXES or path.suffix == ".json":
        from .frontends import trainers

        try:
            if path.suffix == ".json":
                from .frontends.peft_adapter import load_json_text

                load_json_text(text, path)  # strict JSON first: NaN, huge integers, bad syntax
            return trainers.sites_from_text(text, path)
        except FrontEndError:
            if trainers.looks_like_trainer_config(text):
                raise  # clearly a training config, and broken: LL900
            return []  # someone else's YAML/JSON (CI files, Helm templates, tsconfig): not ours
    return []


def _maybe_foreign(path: Path) -> bool:
    """YAML/JSON files are only ours when they are training configs; adapter configs always are."""
    return (path.suffix in YAML_SUFFIXES or path.suffix == ".json") and path.name != ADAPTER_CONFIG


def _fix_edits(diagnostics: list[Diagnostic], allowed: set) -> list:
    return [e for d in diagnostics if d.fix and d.fix.applicability in allowed for e in d.fix.edits]


def _notebook_round(linter: "Linter", path: Path, text: str, allowed: set) -> str | None:
    """One round of fixes on a notebook's cells, or None when nothing (safely) changes."""
    from .frontends.notebook import NotebookProgram, dump, serializer_for

    try:
        notebook = NotebookProgram(text, path)
    except FrontEndError:
        return None
    settings = serializer_for(text, notebook.data)  # before `apply` changes the cells
    if settings is None:
        return None  # the layout cannot be reproduced: writing would touch outputs or metadata
    diagnostics, _ = linter._lint_program(path, notebook.program)
    edits = _fix_edits(diagnostics, allowed)
    if not edits or not notebook.apply(edits):
        return None
    new_text = dump(notebook.data, settings)
    if new_text == text or not _still_parses(Path("cells.py"), NotebookProgram(new_text, path).program):
        return None
    return new_text


def _still_parses(path: Path, text: str) -> bool:
    if path.suffix in PYTHON_SUFFIXES:
        try:
            ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
    elif path.suffix in YAML_SUFFIXES or path.suffix == ".json":
        from . import safe_yaml

        try:
            safe_yaml.load(text)
        except FrontEndError:
            return False
    return True


def _suppressed(diag: Diagnostic, line: str, path: Path) -> bool:
    for match in IGNORE.finditer(line):
        codes = {c.strip() for c in match.group("codes").split(",") if c.strip()}
        if not codes or diag.code in codes or diag.name in codes:
            return True
    if path.suffix in PYTHON_SUFFIXES:
        for match in NOQA.finditer(line):
            if match.group("codes") is None:
                return True
            codes = {c.strip().upper() for c in match.group("codes").split(",")}
            if diag.code in codes:
                return True
    return False


# -- discovering files ----------------------------------------------------------------------------
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
    return bool(settings.exclude) and _glob_matches(path, settings.root, settings.exclude)


def _glob_matches(path: Path, root: Path, patterns: list[str]) -> bool:
    """A pattern matches the path relative to the project root, or the file name alone."""
    try:
        relative = path.resolve().relative_to(root).as_posix()
    except ValueError:
        relative = path.as_posix()
    return any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(path.name, p) for p in patterns)
