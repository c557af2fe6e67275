"""What rules see (facts about one site) and the helpers they share."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .analysis import Analysis, within
from .diagnostics import SAFE, UNSAFE, Diagnostic, Fix, human_count
from .fixes import FixPlan, dead_roots, plan_fix
from .matching import match, suffix_match
from .site import Span

# How a value found in a file may be rewritten: a value that came through a command-line flag, an
# environment variable or a function parameter is also the user's override point, and a name whose `if`
# branches disagree holds more than one value, so rewriting it at the site is not safe to do unasked.
OVERRIDABLE_ORIGINS = {"argparse", "env", "parameter", "branch", "docstring"}


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
        if file is None and self.analysis.notes:
            message += "".join(f" ({note})" for note in self.analysis.notes)
        if file is None and self.site.variant:
            message += f" ({self.site.variant})"
        return Diagnostic(rule.CODE, rule.NAME, rule.SEVERITY, message, file or self.site.file or "", span, fix)

    @staticmethod
    def file_start() -> Span:
        return Span(0, 0, 1, 1, 1, 1)

    # -- fixes -----------------------------------------------------------------------------------
    def fix_from_plan(self, plan: FixPlan, applicability: str) -> Fix | None:
        from . import frontends

        site = self.site
        frontend = frontends.for_site(site)
        settings = [(plan.field, plan.value), *(plan.also or {}).items()]
        edits = []
        for field, value in settings:
            edit, drops_comment = frontend.edit_for(site, self.text, field, value)
            if edit is None:
                return None
            edits.append(edit)
            if site.origins.get(field) in OVERRIDABLE_ORIGINS and applicability == SAFE:
                applicability = UNSAFE
            if drops_comment:
                applicability = UNSAFE  # the replaced span holds a comment that the fix would drop
        shown = ", ".join(f"{f}={frontend.spell(site, v)}" for f, v in settings)
        return Fix(applicability, f"{plan.message}: {shown}", edits)


@dataclass
class SinkFinding:
    message: str
    plan: FixPlan | None
    no_fix_reason: str


def gradient_sink(ctx: RuleContext, condition: str) -> SinkFinding | None:
    """Shared by LL001 and LL002: adapters on modules that text-only data never trains. `condition`
    ends the message: when they never see gradient ("with text-only data", "if the data is text-only")."""
    analysis = ctx.analysis
    if analysis.result is None or analysis.refused or not analysis.dead_modules:
        return None
    inventory = analysis.inventory
    dead_count = len(analysis.dead_modules)
    total_count = len(analysis.result.adapted)
    dead_params, total_params = analysis.dead_params, analysis.total_params
    roots = dead_roots(inventory, {a.module.name for a in analysis.dead_modules}, analysis.dead)
    discarded = [r for r in roots if within(r, analysis.discarded)]
    speech = [r for r in roots if within(r, analysis.speech_output)]
    absent = [r for r in roots if r not in discarded and r not in speech]
    share = 100 * dead_params / total_params if total_params else 0
    message = (f"{dead_count} of {total_count} adapters ({human_count(dead_params)} of {human_count(total_params)} "
               f"LoRA parameters, {share:.0f}%) are on ")
    parts = []
    image_only = [r for r in absent if r in inventory.image_only]
    towers = [r for r in absent if r not in image_only]
    if towers:
        parts.append(f"{_names(towers)}, which never {'see' if len(towers) > 1 else 'sees'} gradient {condition}")
    if image_only:
        parts.append(f"{_names(image_only)}, cross-attention layers that run only when an image is present, so "
                     f"{'they never see' if len(image_only) > 1 else 'it never sees'} gradient {condition}")
    if speech:
        parts.append(f"{_names(speech)}, which only {'run' if len(speech) > 1 else 'runs'} when the model generates "
                     "speech, never in a training forward, so they never train with any data")
    if discarded:
        parts.append(f"{_names(discarded)}, which {'runs' if len(discarded) == 1 else 'run'} but whose output "
                     f"{inventory.model_class.split('For')[0]} discards "
                     f"({analysis.discarded_why}), so they never train even with images")
    message += "; and on ".join(parts)
    if analysis.site.dead_note:
        message += f"; {analysis.site.dead_note}"
    idle = idle_excludes(analysis)
    if idle:
        verb = "excludes" if len(idle) == 1 else "exclude"
        message += (f"; exclude_modules {', '.join(f'`{e}`' for e in idle)} {verb} none of them, because a list entry "
                    "matches whole module names by suffix and so hits the container, not the layers inside it")
    plan, reason = plan_fix(analysis)
    if plan is None:
        message += f"; no automatic fix: {reason}"
    return SinkFinding(message, plan, reason)


def _names(roots: list[str]) -> str:
    return ", ".join(f"`{r}`" for r in roots[:3]) + (f" and {len(roots) - 3} more" if len(roots) > 3 else "")


def evidence_note(analysis: Analysis, value: str) -> str:
    # the use of something (a dataset loaded, a collator built) says more than its import
    items = sorted((e for e in analysis.site.evidence if e.value == value), key=lambda e: e.reason.startswith("imports "))
    if not items:
        return ""
    first = items[0]
    where = f" ({first.where})" if first.where else f" (line {first.line})" if first.line else ""
    return f" [{value}: {first.reason}{where}]"




# the names different models give the same projection
ROLES = (
    {"q_proj", "k_proj", "v_proj", "qkv_proj", "c_attn", "query_key_value", "Wqkv", "qkv", "query", "key", "value",
     "q", "k", "v", "to_q", "to_k", "to_v", "in_proj"},
    {"o_proj", "out_proj", "c_proj", "dense", "proj", "wo", "to_out"},
    {"gate_proj", "up_proj", "down_proj", "gate_up_proj", "c_fc", "fc1", "fc2", "w1", "w2", "w3", "dense_h_to_4h",
     "dense_4h_to_h", "mlp.c_proj"},
)


def name_suggestions(inventory, entries: list[str]) -> str:
    """Close names the model has, and its names for the same role (`c_attn` on a Llama -> q_proj, k_proj, v_proj)."""
    import difflib

    leaves = sorted({m.name.rsplit(".", 1)[-1] for m in inventory.modules if m.kind != "other"})
    hints = []
    for entry in entries:
        close = difflib.get_close_matches(entry, leaves, n=2, cutoff=0.75)
        role = next((r for r in ROLES if entry in r), set())
        same_role = [leaf for leaf in leaves if leaf in role and leaf not in close][:4]
        names = close + same_role
        if names:
            hints.append(f"`{entry}`: the model has {', '.join(f'`{n}`' for n in names)}")
    return f" ({'; '.join(hints)})" if hints else ""


def idle_excludes(analysis) -> list[str]:
    """List entries of exclude_modules that match modules but exclude none of the targeted ones."""
    spec = analysis.spec
    excludes = spec.exclude_modules
    if not isinstance(excludes, (list, tuple)) or not excludes:
        return []
    adapted = {a.module.name for a in analysis.result.adapted}
    idle = []
    for entry in excludes:
        if entry in analysis.result.dead_exclude_entries:
            continue
        # only a container with targeted layers under it: excluding something never targeted is harmless
        containers = [m.name for m in analysis.inventory.modules if suffix_match(m.name, entry)]
        if not any(name.startswith(c + ".") for c in containers for name in adapted):
            continue
        without = match(analysis.inventory, replace(spec, exclude_modules=[e for e in excludes if e != entry] or None))
        if without.error is None and {a.module.name for a in without.adapted} == adapted:
            idle.append(entry)
    return idle


__all__ = ["RuleContext", "gradient_sink", "evidence_note", "SAFE", "UNSAFE", "name_suggestions", "idle_excludes"]
