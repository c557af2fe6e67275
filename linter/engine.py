"""Lint files: front end -> sites -> analysis -> rules -> diagnostics; and apply fixes."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import frontends
from .analysis import Analysis, Overrides, analyze
from .config import Settings
from .discovery import glob_matches
from .diagnostics import SAFE, UNSAFE, Diagnostic, split_lines
from .frontends.errors import FrontEndError
from .inventory import write_bytes_atomic
from .matching import LoraSpec
from .problems import Kind, Problem
from .resolve import Resolver
from .rule import RuleContext
from .site import Site, Span

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_FIX_ROUNDS = 5

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
        from .files import NotReadable, read_bytes

        try:
            raw = read_bytes(path, MAX_FILE_BYTES)
        except NotReadable as exc:
            raise FrontEndError(f"cannot read file: {exc}") from None
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
        """Replace the file as an editor would: through a symlink to its target, refusing a read-only file,
        in place (still flushed to disk) when other hard links share it, else atomically (mode and owner kept).
        Raises OSError with the reason; the file is then unchanged."""
        data = (b"\xef\xbb\xbf" if self.bom else b"") + new_text.encode("utf-8")
        target = self.path.resolve()
        info = target.stat()
        if not os.access(target, os.W_OK) or not info.st_mode & 0o222:
            raise PermissionError("the file is read-only; not fixed")
        if info.st_nlink > 1:
            with open(target, "r+b") as handle:  # other names share this inode: keep them all in step
                handle.write(data)
                handle.truncate()
                handle.flush()
                os.fsync(handle.fileno())
        else:
            write_bytes_atomic(target, data, info.st_mode, owner=(info.st_uid, info.st_gid))
        self.text = new_text


@dataclass
class FileResult:
    path: Path
    diagnostics: list[Diagnostic] = field(default_factory=list)
    analyses: list[Analysis] = field(default_factory=list)
    source: SourceFile | None = None


def unreadable_site(path: Path, exc: FrontEndError) -> Site:
    """A file that is ours but cannot be read: one site whose only fact is why (LL900)."""
    span = Span(0, 0, exc.line, exc.column, exc.line, exc.column)
    return Site(file=str(path), line=exc.line, framework="unknown", model_ref=None, lora=LoraSpec(),
                problem=Problem(Kind.UNREADABLE, str(exc), span))


class Linter:
    def __init__(self, settings: Settings, resolver: Resolver, *, modality: str | None = None,
                 model: str | None = None, select=None, ignore=None, transformers: str | None = None):
        from loralint import rules

        # raises rules.UnknownSelector (a ValueError) for a selector that names no rule
        self.settings = settings
        self.resolver = resolver
        self.overrides = Overrides(modality=modality or settings.modality, model=model,
                                   transformers=transformers or settings.transformers,
                                   transformers_from="--transformers" if transformers else "[tool.loralint] transformers")
        selected = []
        for selector in (select or settings.select):
            selected.extend(rules.resolve_selector(selector))
        ignored = {r.CODE for selector in (ignore or []) + settings.ignore for r in rules.resolve_selector(selector)}
        for selectors in settings.per_file_ignores.values():
            for selector in selectors:
                rules.resolve_selector(selector)  # checked now, not when a file matches
        self.rules = [r for r in rules.RULES if r in selected and r.CODE not in ignored]
        self.rule_codes = {r.CODE for r in self.rules}
        self._all_rules = rules

    # -- files ------------------------------------------------------------------------------------
    def lint_path(self, path: Path) -> FileResult:
        try:
            return self._lint_path(path)
        except RecursionError:
            return self._unreadable(path, FrontEndError("nested too deeply to analyse"))
        except Exception as exc:  # a bug must cost one file, not the run, and never print a traceback
            message = f"internal error while checking this file ({type(exc).__name__}: {exc}); please report it"
            return self._unreadable(path, FrontEndError(message))

    def _lint_path(self, path: Path) -> FileResult:
        frontend = frontends.for_path(path)
        if frontend is not None and frontend.binary:
            delegate = frontend.delegate(path)
            if delegate is not None:  # e.g. weights: lint the adapter config, keep what is said of the weights
                result = self.lint_path(delegate)
                result.diagnostics = [d for d in result.diagnostics if Path(d.file) == path]
                return result
            result = FileResult(path)
            result.diagnostics, result.analyses = self._run(path, frontend.sites(path, ""), None)
            return result
        result = FileResult(path)
        try:
            source = SourceFile.read(path)
        except FrontEndError as exc:
            if frontend is not None and frontend.foreign(path, None):
                return result  # a large or binary file of a kind that is only sometimes ours
            result.diagnostics, result.analyses = self._run(path, [unreadable_site(path, exc)], None)
            return result
        result.source = source
        result.diagnostics, result.analyses = self.lint_text(path, source.text)
        return result

    def _unreadable(self, path: Path, exc: FrontEndError) -> FileResult:
        result = FileResult(path)
        result.diagnostics, result.analyses = self._run(path, [unreadable_site(path, exc)], None)
        return result

    def lint_text(self, path: Path, text: str) -> tuple[list[Diagnostic], list[Analysis]]:
        frontend = frontends.for_path(path)
        if frontend is None:
            return [], []
        try:
            parsed = frontend.parse(path, text)
        except FrontEndError as exc:
            if frontend.foreign(path, text):
                return [], []
            return self._run(path, [unreadable_site(path, exc)], text)
        diagnostics, analyses = self._run(path, parsed.sites, parsed.text)
        return [parsed.to_file(d) for d in diagnostics], analyses

    def lint_program(self, path: Path, text: str) -> tuple[list[Diagnostic], list[Analysis]]:
        """Diagnostics of Python source in its own coordinates (a notebook's cells as one program)."""
        try:
            sites = frontends.PythonScript().sites(path, text)
        except FrontEndError as exc:
            sites = [unreadable_site(path, exc)]
        return self._run(path, sites, text)

    def _run(self, path: Path, sites: list[Site], text: str | None) -> tuple[list[Diagnostic], list[Analysis]]:
        """Analyse each site and run the rules; `text` is what spans point into."""
        diagnostics, analyses, said = [], [], set()
        for site in sites:
            analysis = analyze(site, self.resolver, self.overrides)
            analyses.append(analysis)
            ctx = RuleContext(analysis, text or "")
            for rule in self.rules:
                ctx.rule = rule
                for diagnostic in rule.check(ctx):
                    # readings of one call (branches that disagree) report each finding once, the first reading's
                    key = (site.call_span, diagnostic.code, diagnostic.file, diagnostic.span) if site.variant else None
                    if key is None or key not in said:
                        said.add(key)
                        diagnostics.append(diagnostic)
        return self._filtered(path, text, diagnostics), analyses

    # -- suppression ------------------------------------------------------------------------------
    def _filtered(self, path: Path, text: str | None, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
        ignored = self._per_file_ignores(path)
        frontend = frontends.for_path(path)
        noqa = frontend is not None and frontend.noqa
        lines = split_lines(text) if text is not None else []
        out = []
        for diag in diagnostics:
            if diag.code not in self.rule_codes or diag.code in ignored:
                continue
            line = lines[diag.span.line - 1] if 0 < diag.span.line <= len(lines) else ""
            if _suppressed(diag, line, noqa):
                continue
            out.append(diag)
        return sorted(out, key=lambda d: (d.span.line, d.span.column, d.code))

    def _per_file_ignores(self, path: Path) -> set[str]:
        codes = set()
        for pattern, selectors in self.settings.per_file_ignores.items():
            if glob_matches(path, self.settings.root, [pattern]):
                for selector in selectors:
                    codes.update(r.CODE for r in self._all_rules.resolve_selector(selector))
        return codes

    # -- fixes ------------------------------------------------------------------------------------
    def fix_text(self, path: Path, text: str, unsafe: bool) -> tuple[str, list[Diagnostic]]:
        """Apply fixes until none is left (bounded); return the new text and what remains."""
        allowed = {SAFE, UNSAFE} if unsafe else {SAFE}
        frontend = frontends.for_path(path)
        if frontend is not None:
            for _ in range(MAX_FIX_ROUNDS):
                new_text = frontend.fix_round(self, path, text, allowed)
                if new_text is None:
                    break
                text = new_text
        return text, self.lint_text(path, text)[0]


def fix_edits(diagnostics: list[Diagnostic], allowed: set) -> list:
    return [e for d in diagnostics if d.fix and d.fix.applicability in allowed for e in d.fix.edits]


def _suppressed(diag: Diagnostic, line: str, noqa: bool) -> bool:
    for match in IGNORE.finditer(line):
        codes = {c.strip() for c in match.group("codes").split(",") if c.strip()}
        if not codes or diag.code in codes or diag.name in codes:
            return True
    if noqa:
        for match in NOQA.finditer(line):
            if match.group("codes") is None:
                return True
            codes = {c.strip().upper() for c in match.group("codes").split(",")}
            if diag.code in codes:
                return True
    return False
