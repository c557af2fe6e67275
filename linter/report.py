"""`loralint report`: where each site's adapters sit and how much of the budget is dead."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from pathlib import Path

from .inventory import COMPONENTS, Inventory
from .matching import MatchResult, catastrophic_pattern, match, patterns_of
from .resolve import ResolvedModel, Resolver, Unresolved
from .site import Site

REPORT_VERSION = 1


@dataclass
class Analysis:
    """One site, resolved and matched: the facts the rules and the report are made from."""

    site: Site
    model: ResolvedModel | None = None
    inventory: Inventory | None = None
    result: MatchResult | None = None
    unresolved: str | None = None  # why the model could not be resolved
    spec: object = None  # the LoRA settings as matched (targets derived by the framework, if any)
    audit: object = None  # adapter_audit.Audit of the saved weights, when there are any
    audit_error: str | None = None
    error: str | None = None  # what PEFT would raise, or why the site could not be read

    dead_modules: list = field(default_factory=list)

    @property
    def total_params(self) -> int:
        return self.result.total_params if self.result else 0

    @property
    def dead_params(self) -> int:
        return sum(a.params for a in self.dead_modules)


def analyze(site: Site, resolver: Resolver, model_override: str | None = None) -> Analysis:
    analysis = Analysis(site)
    if site.error:
        analysis.error = site.error
        return analysis
    if site.unknown:
        analysis.unresolved = site.unknown
        return analysis
    ref = model_override or site.model_ref
    if not ref:
        analysis.unresolved = "no base model reference found (pass --model)"
        return analysis
    try:
        analysis.model, analysis.inventory = resolver.inventory(
            ref, site.model_class, None if model_override else site.relative_to
        )
    except Unresolved as exc:
        analysis.unresolved = str(exc)
        return analysis
    spec = site.lora
    if site.derive_targets is not None:
        try:
            spec = replace(site.lora, target_modules=site.derive_targets(analysis.inventory))
        except Exception as exc:  # the framework itself would refuse (e.g. Unsloth's flag checks)
            analysis.error = f"{site.framework} would refuse this config: {exc}"
            return analysis
    analysis.spec = spec
    risky = next((p for p in patterns_of(spec) if catastrophic_pattern(p)), None)
    if risky is not None:
        analysis.unresolved = (f"the pattern {risky!r} nests unbounded repetition and can take exponential time "
                               "on a module name; loralint does not run it (neither should PEFT)")
        return analysis
    analysis.result = match(analysis.inventory, spec)
    analysis.error = analysis.result.error or analysis.result.forward_crash
    inv = analysis.inventory
    analysis.dead_modules = [a for a in analysis.result.adapted if inv.text_only_dead(a.module)]
    return analysis


def site_json(analysis: Analysis) -> dict:
    site, inv, result = analysis.site, analysis.inventory, analysis.result
    model = {"ref": site.model_ref, "model_type": None, "model_class": None, "source": None}
    if analysis.spec is not None and analysis.spec is not site.lora:
        lora = analysis.spec.describe()
    else:
        lora = site.lora.describe()
    if analysis.model is not None:
        model["ref"] = analysis.model.ref
        model["source"] = analysis.model.source
    if inv is not None:
        model.update(model_type=inv.model_type, model_class=inv.model_class)
        model["inventory"] = inv.source
    components: dict[str, dict] = {}
    modules = []
    saved = []
    if result is not None and analysis.error is None:
        for adapted in result.adapted:
            comp = adapted.module.component
            entry = components.setdefault(comp, {"modules": 0, "params": 0})
            entry["modules"] += 1
            entry["params"] += adapted.params
            modules.append(
                {
                    "name": adapted.module.name,
                    "component": comp,
                    "params": adapted.params,
                    "text_only_dead": inv.text_only_dead(adapted.module),
                }
            )
        saved = [{"name": m.name, "component": m.component, "params": m.numel} for m in result.saved]
    components = {c: components[c] for c in COMPONENTS if c in components}
    error = analysis.error or (f"unresolved model: {analysis.unresolved}" if analysis.unresolved else None)
    out = {
        "file": site.file,
        "line": site.line,
        "framework": site.framework,
        "model": model,
        "modality": {
            "value": site.modality,
            "evidence": [{"value": e.value, "reason": e.reason, "line": e.line} for e in site.evidence],
        },
        "lora": lora,
        "error": error,
        "components": components,
        "modules": modules,
        "modules_to_save": saved,
        "total_params": sum(m["params"] for m in modules),
        "dead_params": sum(m["params"] for m in modules if m["text_only_dead"]),
    }
    if result is not None and result.notes:
        out["notes"] = list(result.notes)
    if analysis.audit is not None or analysis.audit_error:
        out["weights"] = _weights_json(analysis)
    return out


def _weights_json(analysis: Analysis) -> dict:
    audit = analysis.audit
    if audit is None:
        return {"file": None, "error": analysis.audit_error}
    components: dict[str, dict] = {}
    for adapter in audit.adapters:
        entry = components.setdefault(adapter.component, {"adapters": 0, "trained": 0, "untrained": 0, "params": 0})
        entry["adapters"] += 1
        entry["params"] += adapter.params
        if adapter.trained is True:
            entry["trained"] += 1
        elif adapter.trained is False:
            entry["untrained"] += 1
    return {"file": str(audit.weights), "error": audit.broken or audit.not_applicable, "components": components}


def report_json(analyses: list[Analysis]) -> dict:
    return {"version": REPORT_VERSION, "sites": [site_json(a) for a in analyses]}


def human_count(n: int) -> str:
    for unit, size in (("B", 1_000_000_000), ("M", 1_000_000), ("K", 1_000)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _rows(site: dict) -> list[list[str]]:
    total = site["total_params"]
    rows = []
    for comp, entry in site["components"].items():
        dead = sum(m["params"] for m in site["modules"] if m["component"] == comp and m["text_only_dead"])
        if dead == entry["params"]:
            status = "dead"
        elif dead:
            status = f"{_percent(dead, entry['params'])} dead"
        else:
            status = "live"
        rows.append([comp, str(entry["modules"]), human_count(entry["params"]), _percent(entry["params"], total), status])
    count = sum(e["modules"] for e in site["components"].values())
    rows.append(["total", str(count), human_count(total), "100.0%" if total else "-",
                 f"{_percent(site['dead_params'], total)} dead"])
    return rows


HEADER = ["component", "adapters", "LoRA params", "share", "with text-only data"]


def _title(site: dict) -> str:
    where = f"{site['file']}:{site['line']}" if site["file"] else "command line"
    model = site["model"]
    desc = model["ref"] or "unknown model"
    if model["model_class"]:
        desc += f" ({model['model_class']}, {model['source']})"
    return f"{where}: {desc}"


def _lora_line(site: dict) -> str:
    return " ".join(f"{k}={json.dumps(v)}" for k, v in site["lora"].items())


def render_table(report: dict) -> str:
    blocks = []
    for site in report["sites"]:
        lines = [_title(site), f"  lora: {_lora_line(site)}"]
        if site["error"]:
            lines.append(f"  error: {site['error']}")
        else:
            rows = [HEADER] + _rows(site)
            widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
            for i, row in enumerate(rows):
                cells = [row[0].ljust(widths[0])] + [row[j].rjust(widths[j]) for j in range(1, 4)] + [row[4]]
                lines.append("  " + "  ".join(cells).rstrip())
            lines.extend(_saved_lines(site))
        lines.extend(f"  note: {n}" for n in site.get("notes", []))
        lines.extend(_weights_lines(site))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _weights_lines(site: dict) -> list[str]:
    weights = site.get("weights")
    if not weights:
        return []
    if weights.get("error"):
        return [f"  weights: {weights['error']}"]
    parts = [f"{comp} {e['trained']}/{e['adapters']} trained" for comp, e in weights["components"].items()]
    return [f"  weights ({Path(weights['file']).name}): " + ", ".join(parts)]


def _saved_lines(site: dict) -> list[str]:
    if not site["modules_to_save"]:
        return []
    total = sum(m["params"] for m in site["modules_to_save"])
    names = ", ".join(m["name"] for m in site["modules_to_save"][:5])
    more = len(site["modules_to_save"]) - 5
    return [f"  modules_to_save: {len(site['modules_to_save'])} full copies, {human_count(total)} params "
            f"({names}{f', +{more} more' if more > 0 else ''})"]


def render_markdown(report: dict) -> str:
    blocks = []
    for site in report["sites"]:
        lines = [f"### {_title(site)}", "", f"`{_lora_line(site)}`", ""]
        if site["error"]:
            lines.append(f"**error:** {site['error']}")
        else:
            lines.append("| " + " | ".join(HEADER) + " |")
            lines.append("|---|--:|--:|--:|---|")
            for row in _rows(site):
                lines.append("| " + " | ".join(row) + " |")
            lines.extend(s.strip() for s in _saved_lines(site))
        lines.extend(f"- note: {n}" for n in site.get("notes", []))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
