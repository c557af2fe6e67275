"""The data's modality: a declaration in the file, or a verdict from the evidence (one rule for all front ends).

A modality is a string: `text`, `multimodal` (media of an unnamed kind), `unknown`, or a mix of the media
present spelled with `+` (`text+image`, `text+audio`, `image+video`). `mix_of` turns it into the set of
modalities the data holds (None when unknown; every medium for `multimodal`).
"""

from __future__ import annotations

import re

from .site import Evidence

MEDIA = ("image", "video", "audio")
MODALITIES = ("text",) + MEDIA
DECLARATION = re.compile(r"#\s*loralint:\s*modality\s*=\s*((?:text|image|video|audio|multimodal)(?:\+(?:text|image|video|audio))*)\b")
DECLARED_REASON = "declared with `# loralint: modality=...`"


def declared_in(comments) -> str | None:
    """The last `# loralint: modality=...` among the comments (strings), or None."""
    found = None
    for comment in comments:
        match = DECLARATION.search(comment)
        if match:
            found = canonical(match.group(1))
    return found


def canonical(value: str) -> str:
    """`image+text` -> `text+image`; `text`, `multimodal` and `unknown` stay as they are."""
    if value in ("text", "multimodal", "unknown"):
        return value
    parts = {p.strip() for p in re.split(r"[+,]", value) if p.strip()}
    if not parts or not parts <= set(MODALITIES):
        raise ValueError(f"unknown modality {value!r}: use text, image, video, audio joined with '+', or multimodal")
    return "+".join(m for m in MODALITIES if m in parts)


def mix_of(modality: str) -> frozenset | None:
    """The media the data holds: None when unknown, every medium for `multimodal`."""
    if modality == "unknown":
        return None
    if modality == "multimodal":
        return frozenset(MODALITIES)
    return frozenset(modality.split("+"))


def verdict(evidence: list[Evidence]) -> str:
    """Media evidence wins (the media named, or `multimodal` when a piece names none); else text; else unknown."""
    values = {e.value for e in evidence}
    media = values & set(MEDIA)
    if "multimodal" in values:
        return "multimodal"
    if media:
        return "+".join(m for m in MODALITIES if m in media | {"text"})
    return "text" if "text" in values else "unknown"


def decide(declared: str | None, evidence: list[Evidence]) -> tuple[str, list[Evidence]]:
    """(modality, evidence as shown): a declaration wins and is cited first."""
    if declared:
        return declared, [Evidence(declared, DECLARED_REASON)] + list(evidence)
    return verdict(evidence), list(evidence)
