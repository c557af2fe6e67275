"""`loralint report`: where each site's adapters sit and how much of the budget is dead (rendering only;
the facts come from `analysis`)."""

from __future__ import annotations

import json
from pathlib import Path

from .analysis import Analysis
from .diagnostics import human_count
from .inventory import COMPONENTS
from .problems import Kind

REPORT_VERSION = 1


def site_json(analysis: Analysis) -> dict:
    site, inv, result = analysis.site, analysis.inventory, analysis.result
    model = {"ref": site.model_ref, "model_type": None, "model_class": None, "source": None}
    lora = (analysis.spec or site.lora).describe() if (analysis.spec or site.lora) is not None else {}
    if analysis.model is not None:
        model["ref"] = analysis.model.ref
        model["source"] = analysis.model.source
        if analysis.model.via:
            model["via"] = analysis.model.via
    if inv is not None:
        model.update(model_type=inv.model_type, model_class=inv.model_class)
        model["inventory"] = inv.source
    components: dict[str, dict] = {}
    modules = []
    saved = []
    # a predicted crash at the first forward still leaves PEFT's adapters in place: they are shown
    if result is not None and analysis.problem(Kind.WOULD_REFUSE, Kind.UNREADABLE) is None:
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
                    "dead": analysis.dead(adapted.module),  # with the site's data (text-only when unknown)
                }
            )
        saved = [{"name": m.name, "component": m.component, "params": m.numel} for m in result.saved]
    components = {c: components[c] for c in COMPONENTS if c in components}
    error = _error_text(analysis)
    out = {
        "file": site.file,
        "line": site.line,
        **({"cell": site.cell} if site.cell is not None else {}),
        "framework": site.framework,
        "model": model,
        "modality": {
            "value": analysis.modality,
            "evidence": [{"value": e.value, "reason": e.reason, "line": e.line, **({"where": e.where} if e.where else {})}
                         for e in site.evidence],
        },
        "lora": lora,
        "error": error,
        "components": components,
        "modules": modules,
        "modules_to_save": saved,
        "total_params": sum(m["params"] for m in modules),
        "dead_params": sum(m["params"] for m in modules if m["text_only_dead"]),
        "mix_dead_params": sum(m["params"] for m in modules if m["dead"]),
    }
    notes = list(analysis.notes) + (list(result.notes) if result is not None else [])
    if notes:
        out["notes"] = notes
    if analysis.era is not None:
        out["transformers"] = {"version": analysis.era.version, "names": analysis.era.name, "source": analysis.era.why}
    unreadable_weights = analysis.problem(Kind.UNREADABLE, weights=True)
    if analysis.audit is not None or unreadable_weights:
        out["weights"] = _weights_json(analysis, unreadable_weights)
    return out


def _error_text(analysis: Analysis) -> str | None:
    refused, unresolved = analysis.refused, analysis.unresolved
    if refused is not None and refused.kind is Kind.UNREADABLE:
        span = refused.span
        return f"{analysis.site.file}:{span.line}:{span.column}: {refused.reason}" if span else refused.reason
    if refused is not None:
        return refused.reason
    if unresolved is None:
        return None
    return f"unresolved model: {unresolved.reason}" + (f". To check it: {unresolved.help}" if unresolved.help else "")


def _weights_json(analysis: Analysis, unreadable) -> dict:
    audit = analysis.audit
    if audit is None:
        return {"file": None, "error": unreadable.reason}
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


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _data(site: dict) -> str:
    value = site["modality"]["value"]
    return "text-only" if value in ("text", "unknown") else value


def _rows(site: dict) -> list[list[str]]:
    total = site["total_params"]
    rows = []
    for comp, entry in site["components"].items():
        dead = sum(m["params"] for m in site["modules"] if m["component"] == comp and m["dead"])
        if dead == entry["params"]:
            status = "dead"
        elif dead:
            status = f"{_percent(dead, entry['params'])} dead"
        else:
            status = "live"
        rows.append([comp, str(entry["modules"]), human_count(entry["params"]), _percent(entry["params"], total), status])
    count = sum(e["modules"] for e in site["components"].values())
    rows.append(["total", str(count), human_count(total), "100.0%" if total else "-",
                 f"{_percent(site['mix_dead_params'], total)} dead"])
    return rows


HEADER = ["component", "adapters", "LoRA params", "share", "with text-only data"]


def _title(site: dict) -> str:
    cell = f"cell {site['cell']}:" if site.get("cell") else ""
    where = f"{site['file']}:{cell}{site['line']}" if site["file"] else "command line"
    model = site["model"]
    desc = model["ref"] or "unknown model"
    if model["model_class"]:
        desc += f" ({model['model_class']}, {model['source']})"
    return f"{where}: {desc}"


def _lora_line(site: dict) -> str:
    def shown(value) -> str:  # a pattern as written (JSON would double its backslashes)
        return f'"{value}"' if isinstance(value, str) else json.dumps(value)

    return " ".join(f"{k}={shown(v)}" for k, v in site["lora"].items())


def render_table(report: dict) -> str:
    blocks = []
    for site in report["sites"]:
        lines = [_title(site), f"  lora: {_lora_line(site)}"]
        if site["error"]:
            lines.append(f"  error: {site['error']}")
        if site["modules"] or not site["error"]:
            rows = [HEADER[:4] + [f"with {_data(site)} data"]] + _rows(site)
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
        if site["modules"] or not site["error"]:
            lines.append("| " + " | ".join(HEADER[:4] + [f"with {_data(site)} data"]) + " |")
            lines.append("|---|--:|--:|--:|---|")
            for row in _rows(site):
                lines.append("| " + " | ".join(row) + " |")
            lines.extend(s.strip() for s in _saved_lines(site))
        lines.extend(f"- note: {n}" for n in site.get("notes", []))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
