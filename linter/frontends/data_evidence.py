"""Evidence about the training data shared by every front end: well-known datasets, local data files."""

from __future__ import annotations

from pathlib import Path

MEDIA_PART_TYPES = {"image", "video", "audio", "image_url", "input_audio", "input_image"}
MEDIA_COLUMNS = {"image", "images", "video", "videos", "audio", "audios", "pixel_values"}
# Popular text-only instruction and pre-training sets (hub ids, lower case).
TEXT_DATASETS = {
    "tatsu-lab/alpaca", "yahma/alpaca-cleaned", "vicgalle/alpaca-gpt4", "databricks/databricks-dolly-15k",
    "timdettmers/openassistant-guanaco", "openassistant/oasst1", "openassistant/oasst2", "trl-lib/capybara",
    "trl-lib/chatbot_arena_completions", "huggingfaceh4/ultrachat_200k", "huggingfaceh4/no_robots",
    "teknium/openhermes-2.5", "mlabonne/finetome-100k", "openai/gsm8k", "gsm8k", "wikitext",
    "imdb", "stanfordnlp/imdb", "open-orca/openorca", "garage-baind/open-platypus",
    "meta-math/metamathqa", "allenai/tulu-3-sft-mixture", "trl-lib/tldr", "cognitivecomputations/dolphin",
    "philschmid/dolly-15k-oai-style", "lmsys/lmsys-chat-1m", "samsum", "knkarthick/dialogsum",
}


def sniff_data_file(path: Path, max_records: int = 20) -> tuple[str, str] | None:
    """Look at the first records of a local JSON/JSONL/CSV file: text fields only, or media?"""
    import csv
    import json

    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(256 * 1024)
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
