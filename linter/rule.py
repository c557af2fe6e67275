"""What rules see (facts about one site) and the helpers they share."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .diagnostics import DISPLAY, SAFE, UNSAFE, Diagnostic, Edit, Fix, span_at
from .fixes import FixPlan, dead_roots, plan_fix
from .report import Analysis, human_count
from .site import Span

# How a value found in a file may be rewritten: a value that came through a command-line flag, an
# environment variable or a function parameter is also the user's override point, so rewriting it
# at the site is not safe to do unasked.
OVERRIDABLE_ORIGINS = {"argparse", "env", "parameter"}


@dataclass
class RuleContext:
    analysis: Analysis
    text: str  # the file's text, for edits
    rule: object = None  # the rule module being run (set by the engine)

    @property
    def site(self):
        return self.analysis.site

    def span_for(self, *fields: str) -> Span:
        for name in fields:
            if name in self.site.spans:
                return self.site.spans[name]
        return self.site.call_span or Span(0, 0, self.site.line or 1, self.site.column or 1, self.site.line or 1, self.site.column or 1)

    def diagnostic(self, message: str, span: Span, fix: Fix | None = None, file: str | None = None) -> Diagnostic:
        rule = self.rule
        return Diagnostic(rule.CODE, rule.NAME, rule.SEVERITY, message, file or self.site.file or "", span, fix)

    @staticmethod
    def file_start() -> Span:
        return Span(0, 0, 1, 1, 1, 1)

    # -- fixes -----------------------------------------------------------------------------------
    def fix_from_plan(self, plan: FixPlan, applicability: str) -> Fix | None:
        site = self.site
        settings = [(plan.field, plan.value), *(plan.also or {}).items()]
        edits = []
        for field, value in settings:
            edit = self._edit_for(field, value)
            if edit is None:
                return None
            edits.append(edit)
            if site.origins.get(field) in OVERRIDABLE_ORIGINS and applicability == SAFE:
                applicability = UNSAFE
            if site.syntax == "yaml" and edit.span.start != edit.span.end and _has_comment(self.text[edit.span.start:edit.span.end]):
                applicability = UNSAFE  # the replaced span holds a comment that the fix would drop
        shown = ", ".join(f"{f}={spell(v, site.syntax)}" for f, v in settings)
        return Fix(applicability, f"{plan.message}: {shown}", edits)

    def _edit_for(self, field: str, value) -> Edit | None:
        site = self.site
        literal = spell(value, site.syntax)
        if field in site.spans:
            span = site.spans[field]
            prefix = " " if site.syntax == "yaml" and self.text[span.start - 1:span.start] == ":" else ""
            return Edit(span, prefix + literal)
        anchor = site.anchor
        if anchor is None:
            return None
        key = site.key_names.get(field, field)
        at = Span(anchor.end, anchor.end, anchor.end_line, anchor.end_column, anchor.end_line, anchor.end_column)
        if site.syntax == "yaml":
            # a new top-level key on its own line after the anchor's line (its comment stays put)
            line_end = self.text.find("\n", anchor.end)
            line_end = len(self.text) if line_end < 0 else line_end - (self.text[line_end - 1] == "\r")
            newline = "\r\n" if "\r\n" in self.text else "\n"
            return Edit(span_at(self.text, line_end, line_end), f"{newline}{key}: {literal}")
        if site.syntax == "json":
            return Edit(at, f", {json.dumps(key)}: {literal}")
        return Edit(at, f", {spell_key(key, site.syntax)}{literal}")


def _has_comment(chunk: str) -> bool:
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


@dataclass
class SinkFinding:
    message: str
    plan: FixPlan | None
    no_fix_reason: str


def gradient_sink(ctx: RuleContext) -> SinkFinding | None:
    """Shared by LL001 and LL002: adapters on modules that text-only data never trains."""
    analysis = ctx.analysis
    if analysis.result is None or analysis.error or not analysis.dead_modules:
        return None
    inventory = analysis.inventory
    dead_count = len(analysis.dead_modules)
    total_count = len(analysis.result.adapted)
    dead_params, total_params = analysis.dead_params, analysis.total_params
    roots = dead_roots(inventory, {a.module.name for a in analysis.dead_modules})
    shown = ", ".join(f"`{r}`" for r in roots[:3]) + (f" and {len(roots) - 3} more" if len(roots) > 3 else "")
    share = 100 * dead_params / total_params if total_params else 0
    message = (
        f"{dead_count} of {total_count} adapters ({human_count(dead_params)} of {human_count(total_params)} "
        f"LoRA parameters, {share:.0f}%) are on {shown}, which never sees gradient with text-only data"
    )
    plan, reason = plan_fix(analysis)
    if plan is None:
        message += f"; no automatic fix: {reason}"
    return SinkFinding(message, plan, reason)


def evidence_note(analysis: Analysis, value: str) -> str:
    items = [e for e in analysis.site.evidence if e.value == value]
    if not items:
        return ""
    first = items[0]
    where = f" ({first.where})" if first.where else f" (line {first.line})" if first.line else ""
    return f" [{value}: {first.reason}{where}]"


__all__ = ["RuleContext", "gradient_sink", "evidence_note", "SAFE", "UNSAFE", "DISPLAY"]
