"""LL005 untrained-adapter: a saved adapter holds LoRA weights that never received a gradient step."""

from loralint.adapter_audit import collapse
from loralint.diagnostics import human_count
from loralint.fixes import covering_roots
from loralint.rule import RuleContext

CODE = "LL005"
NAME = "untrained-adapter"
SEVERITY = "error"
FIX = None
SUMMARY = "A saved adapter's zero-at-init LoRA matrices are still exactly zero: those adapters never trained."


def check(ctx: RuleContext):
    audit = ctx.analysis.audit
    if audit is None:
        return
    span = ctx.file_start()
    if audit.broken:
        yield ctx.diagnostic(f"{audit.weights.name}: {audit.broken}", span, file=str(audit.weights))
        return
    dead = audit.dead
    if not dead:
        return
    total_params = sum(a.params for a in audit.adapters)
    dead_params = sum(a.params for a in dead)
    roots = covering_roots({a.module for a in dead}, {a.module for a in audit.adapters if a.trained is not False})
    components = sorted({a.component for a in dead})
    if len(roots) == 1:
        where = f"all under `{roots[0]}`" + (f", {components[0]}" if len(components) == 1 else "")
    else:
        where = ", ".join(f"{c}: {sum(1 for a in dead if a.component == c)}" for c in components)
    groups = collapse([a.module for a in dead])
    shown = ", ".join(f"`{g}`" for g in groups[:4]) + (f" and {len(groups) - 4} more" if len(groups) > 4 else "")
    message = (f"{len(dead)} of {len(audit.adapters)} adapters never trained ({where}): "
               f"{human_count(dead_params)} of {human_count(total_params)} LoRA parameters; {shown}")
    yield ctx.diagnostic(message, span, file=str(audit.weights))


# Examples need real weights; tests/test_adapter_audit.py trains tiny models to make them.
VALID = []
INVALID = []
