"""Evidence of the training data's modality in a script: names, calls, message parts, data files."""

from __future__ import annotations

from pathlib import Path

import libcst as cst

from ..site import Evidence
from .. import modality
from .data_evidence import MEDIA_COLUMNS, MEDIA_PART_TYPES, dataset_evidence, sniff_data_file
from .pyvalues import UNKNOWN, PythonFile, _dotted, _kw, _positional, _string


MULTIMODAL_NAMES = {
    "process_vision_info": "uses qwen_vl_utils.process_vision_info",
    "UnslothVisionDataCollator": "uses UnslothVisionDataCollator",
    "DataCollatorForVisionLanguageModeling": "uses a vision-language collator",
    "pixel_values": "handles pixel_values",
    "load_image": "loads images",
    "fetch_image": "loads images",
    "process_mm_info": "uses qwen_omni_utils.process_mm_info",
}
TEXT_NAMES = {
    "DataCollatorForLanguageModeling": "uses DataCollatorForLanguageModeling",
    "DataCollatorForCompletionOnlyLM": "uses DataCollatorForCompletionOnlyLM",
    "DataCollatorForSeq2Seq": "uses DataCollatorForSeq2Seq",
}

def _line_of(pyfile: PythonFile, node) -> int | None:
    try:
        return pyfile.span(node).start.line
    except KeyError:
        return None


def modality_evidence(pyfile: PythonFile, base_dir: Path) -> tuple[str | None, list[Evidence]]:
    """(declared modality or None, evidence found in the file)."""
    c = pyfile.collector
    declared = modality.declared_in(comment for comment, _ in c.comments)
    evidence: list[Evidence] = []

    def add(value, reason, node):
        evidence.append(Evidence(value, reason, _line_of(pyfile, node)))

    seen = set()
    for name, node in c.names:
        if name in seen:
            continue
        if name in MULTIMODAL_NAMES:
            seen.add(name)
            add("multimodal", MULTIMODAL_NAMES[name], node)
        elif name in TEXT_NAMES:
            seen.add(name)
            add("text", TEXT_NAMES[name], node)
        elif name.startswith("import:PIL") or name in ("import:qwen_vl_utils", "import:qwen_omni_utils"):
            seen.add(name)
            add("multimodal", f"imports {name[7:]}", node)
    for call, _ in c.calls:
        name = _dotted(call.func) or ""
        if name.endswith("Image.open") and "Image.open" not in seen:
            seen.add("Image.open")
            add("multimodal", "opens images (Image.open)", call)
        for arg in call.args:
            kw = arg.keyword.value if arg.keyword else None
            if kw in ("images", "videos", "audio", "audios") and not (isinstance(arg.value, cst.Name) and arg.value.value == "None"):
                add(_medium(kw), f"passes {kw}= to {name or 'a call'}", call)
            elif kw == "use_audio_in_video" and pyfile.evaluate(arg.value)[0] is True:
                # Qwen Omni: a video's sound track goes through the audio tower
                add("audio", f"passes use_audio_in_video=True to {name or 'a call'}", call)
            elif kw == "dataset_text_field":
                add("text", "sets dataset_text_field", call)
            elif kw == "processing_class" and "tokenizer" in (_dotted(arg.value) or "").lower():
                add("text", f"passes a tokenizer, not a processor, as processing_class to {name or 'a call'}", call)
        if name.endswith("load_dataset"):
            _dataset_evidence(pyfile, call, base_dir, add)
    nodes = _EvidenceNodes()
    pyfile.module.visit(nodes)
    for key, value, node in nodes.string_pairs:
        if key == "type" and value in MEDIA_PART_TYPES:
            add(_medium(value), f'builds "{value}" message parts', node)
    for node in nodes.text_messages:
        add("text", "builds chat messages whose content is text", node)
    for value, node in c.strings:
        if value in MEDIA_COLUMNS and id(node) in nodes.subscript_keys:
            add(_medium(value), f'reads the "{value}" column', node)
    return declared, _dedupe(evidence)


def _medium(word: str) -> str:
    """The medium a part type or column names (`image_url` -> image); multimodal when it names none."""
    for medium in ("image", "video", "audio"):
        if medium in word:
            return medium
    return "multimodal"


def _dedupe(evidence: list[Evidence]) -> list[Evidence]:
    seen, out = set(), []
    for item in evidence:
        if (item.value, item.reason) not in seen:
            seen.add((item.value, item.reason))
            out.append(item)
    return out


class _EvidenceNodes(cst.CSTVisitor):
    """Subscript keys (`example["image"]`) and string-valued dict entries (`{"type": "image"}`,
    `dict(type="image")`), with their nodes."""

    def __init__(self):
        self.subscript_keys: set[int] = set()
        self.string_pairs: list[tuple[str, str, cst.CSTNode]] = []
        self.text_messages: list[cst.CSTNode] = []  # {"role": ..., "content": "a string"}

    def visit_Dict(self, node: cst.Dict) -> None:
        keys = {_string(e.key): e.value for e in node.elements
                if isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString)}
        if "role" in keys and isinstance(keys.get("content"), (cst.SimpleString, cst.FormattedString, cst.ConcatenatedString)):
            self.text_messages.append(node)

    def visit_SubscriptElement(self, element: cst.SubscriptElement) -> None:
        if isinstance(element.slice, cst.Index):
            self.subscript_keys.add(id(element.slice.value))

    def visit_DictElement(self, element: cst.DictElement) -> None:
        if isinstance(element.key, cst.SimpleString) and isinstance(element.value, cst.SimpleString):
            self._add(element.key, element.value)

    def visit_Call(self, call: cst.Call) -> None:
        if _dotted(call.func) == "dict":
            for arg in call.args:
                if arg.keyword and isinstance(arg.value, cst.SimpleString):
                    self.string_pairs.append((arg.keyword.value, _string(arg.value), arg.value))

    def _add(self, key_node, value_node) -> None:
        self.string_pairs.append((_string(key_node), _string(value_node), value_node))



def _dataset_evidence(pyfile: PythonFile, call: cst.Call, base_dir: Path, add) -> None:
    first = _positional(call, 0) or _kw(call, "path")
    name, _ = pyfile.evaluate(first) if first is not None else (UNKNOWN, "")
    data_files_node = _kw(call, "data_files")
    data_files, _ = pyfile.evaluate(data_files_node) if data_files_node is not None else (None, "")
    found = dataset_evidence(name)
    if found is not None:
        add(found[0], found[1], call)
    files = []
    if isinstance(data_files, str):
        files = [data_files]
    elif isinstance(data_files, list):
        files = [f for f in data_files if isinstance(f, str)]
    elif isinstance(data_files, dict):
        files = [f for v in data_files.values() for f in ([v] if isinstance(v, str) else v if isinstance(v, list) else [])
                 if isinstance(f, str)]
    if isinstance(name, str) and name.endswith((".json", ".jsonl", ".csv")):
        files.append(name)
    for file in files[:4]:
        verdict = sniff_data_file(base_dir / file)
        if verdict is not None:
            add(verdict[0], f"{file}: {verdict[1]}", call)
