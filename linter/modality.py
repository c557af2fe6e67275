"""The data's modality: a declaration in the file, or a verdict from the evidence (one rule for all front ends)."""

from __future__ import annotations

import re

from .site import Evidence

DECLARATION = re.compile(r"#\s*loralint:\s*modality\s*=\s*(text|multimodal)\b")
DECLARED_REASON = "declared with `# loralint: modality=...`"


def declared_in(comments) -> str | None:
    """The last `# loralint: modality=...` among the comments (strings), or None."""
    found = None
    for comment in comments:
        match = DECLARATION.search(comment)
        if match:
            found = match.group(1)
    return found


def verdict(evidence: list[Evidence]) -> str:
    """Any multimodal evidence wins; else any text evidence; else unknown."""
    values = {e.value for e in evidence}
    if "multimodal" in values:
        return "multimodal"
    return "text" if "text" in values else "unknown"


def decide(declared: str | None, evidence: list[Evidence]) -> tuple[str, list[Evidence]]:
    """(modality, evidence as shown): a declaration wins and is cited first."""
    if declared:
        return declared, [Evidence(declared, DECLARED_REASON)] + list(evidence)
    return verdict(evidence), list(evidence)
