"""Evidence about the training data shared by every front end: well-known datasets, local data files."""

from __future__ import annotations

from functools import cache
from pathlib import Path

MEDIA_PART_TYPES = {"image", "video", "audio", "image_url", "input_audio", "input_image"}
MEDIA_COLUMNS = {"image", "images", "video", "videos", "audio", "audios", "pixel_values"}
DATASETS_TABLE = Path(__file__).with_name("datasets.tsv")


@cache
def _table() -> dict[str, tuple[str, str]]:
    """lower-case hub id -> (modality, source) from datasets.tsv."""
    out = {}
    for line in DATASETS_TABLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or line.startswith("id\t") or not line.strip():
            continue
        name, modality, source = line.split("\t")
        out[name.lower()] = (modality, source)
    return out


def dataset_evidence(name) -> tuple[str, str] | None:
    """(text | multimodal, reason) for a dataset the table knows; None for any other name."""
    if not isinstance(name, str):
        return None
    found = _table().get(name.strip().lower())
    if found is None:
        return None
    modality, _ = found
    if modality == "text":
        return "text", f"trains on the text dataset {name}"
    return modality, f"trains on {name}, a dataset of {modality} and text"


def sniff_data_file(path: Path, max_records: int = 20) -> tuple[str, str] | None:
    """Look at the first records of a local JSON/JSONL/CSV file: text fields only, or media?"""
    import csv
    import json

    from ..files import read_text

    try:
        head = read_text(path, 256 * 1024, head=True, errors="replace")
    except OSError:
        return None
    records = []
    if path.suffix == ".csv":
        records = list(csv.DictReader(head.splitlines()))[:max_records]
    elif path.suffix == ".jsonl":
        for line in head.splitlines()[:max_records]:
            try:
                records.append(json.loads(line))
            except ValueError:
                break
    else:
        try:
            data = json.loads(head)
        except ValueError:
            data = None
        if isinstance(data, list):
            records = data[:max_records]
    records = [r for r in records if isinstance(r, dict)]
    if not records:
        return None
    media = _media_in(records)
    if media:
        return "multimodal", f"records carry {media}"
    return "text", "the first records hold only text fields"


def _media_in(node, depth: int = 0) -> str | None:
    if depth > 8:
        return None
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.lower() in MEDIA_COLUMNS:
                return f'a "{key}" field'
            if key == "type" and value in MEDIA_PART_TYPES:
                return f'"{value}" message parts'
            found = _media_in(value, depth + 1)
            if found:
                return found
    elif isinstance(node, list):
        for item in node[:50]:
            found = _media_in(item, depth + 1)
            if found:
                return found
    return None
