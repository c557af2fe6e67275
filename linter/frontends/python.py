"""Training scripts: LoRA sites found with libcst, never by importing or running the script.

Values are evaluated statically: literals, module/function constants assigned once, list/tuple
concatenation, `list(...)`/`tuple(...)`, `dict(...)` and dict-literal `**kwargs`, argparse `default=`,
`os.environ.get(NAME, default)`/`os.getenv`, and function parameters whose every call in the file
passes the same constant. Anything else is UNKNOWN, never guessed.
"""

from __future__ import annotations

import re
from functools import partial
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from ..matching import LoraSpec
from ..site import Evidence, Site, Span
from . import unsloth
from .data_evidence import MEDIA_COLUMNS, MEDIA_PART_TYPES, TEXT_DATASETS, sniff_data_file
from .errors import FrontEndError



class _Unknown:
    def __repr__(self):
        return "UNKNOWN"


UNKNOWN = _Unknown()

LORA_FIELDS = ("target_modules", "exclude_modules", "layers_to_transform", "layers_pattern", "modules_to_save",
               "r", "rank_pattern", "use_dora", "lora_bias", "target_parameters", "task_type")
NON_MODEL_CLASSES = re.compile(r"Tokenizer|Processor|Config$|FeatureExtractor|ImageProcessor|Collator|Dataset")


@dataclass
class Value:
    value: object
    origin: str  # literal | constant | argparse | env | parameter | default
    node: cst.CSTNode | None = None  # the expression at the site (what a fix replaces)


@dataclass
class PyLoraCall:
    """A LoraConfig(...) or Unsloth get_peft_model(...) call, with its evaluated arguments."""

    call: cst.Call
    kind: str  # peft | unsloth-vision | unsloth-language
    args: dict[str, Value] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)  # fields present but not statically known
    dict_node: cst.Dict | None = None  # the `**{...}` dict the fields came from, when they did
    assigned_to: str | None = None
    model_var: str | None = None  # unsloth: the model argument


def parse_module(text: str) -> cst.Module:
    """libcst's tree of a file that `pyscan.scan` has vetted."""
    try:
        return cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError) as exc:
        raise FrontEndError(f"libcst cannot parse this file: {str(exc).splitlines()[0]}") from None


def _dotted(node) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def _kw(call: cst.Call, name: str):
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None


def _positional(call: cst.Call, index: int):
    positional = [a for a in call.args if a.keyword is None and not a.star]
    return positional[index].value if len(positional) > index else None


class _Collector(cst.CSTVisitor):
    """One pass over the module: imports, assignments, calls, evidence."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self):
        self.assignments: dict[str, list[cst.BaseExpression]] = {}
        self.functions: dict[str, cst.FunctionDef] = {}
        self.calls: list[tuple[cst.Call, str | None]] = []  # (call, name it is assigned to)
        self.lora_names = {"LoraConfig", "peft.LoraConfig"}
        self.argparse_defaults: dict[str, cst.BaseExpression] = {}
        self.function_stack: list[str] = []
        self.call_args: dict[str, list[cst.Call]] = {}
        self.strings: list[tuple[str, cst.CSTNode]] = []
        self.names: list[tuple[str, cst.CSTNode]] = []
        self.comments: list[tuple[str, cst.CSTNode]] = []
        self._pending_target: list[str | None] = []

    # imports ----------------------------------------------------------------
    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        module = _dotted(node.module) if node.module else ""
        if isinstance(node.names, cst.ImportStar):
            return
        for alias in node.names:
            name = _dotted(alias.name)
            local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
            if name == "LoraConfig" and module and module.split(".")[0] == "peft":
                self.lora_names.add(local)
            self.names.append((f"import:{module}.{name}", node))

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            name = _dotted(alias.name)
            if name and name.split(".")[0] == "peft":
                local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
                self.lora_names.add(f"{local}.LoraConfig")
            self.names.append((f"import:{name}", node))

    # scopes -----------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.setdefault(node.name.value, node)
        self.function_stack.append(node.name.value)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.function_stack.pop()

    # assignments ------------------------------------------------------------
    def visit_Assign(self, node: cst.Assign) -> None:
        target = None
        if len(node.targets) == 1:
            t = node.targets[0].target
            if isinstance(t, cst.Name):
                target = t.value
                self.assignments.setdefault(target, []).append(node.value)
            elif isinstance(t, (cst.Tuple, cst.List)):
                first = t.elements[0].value if t.elements else None
                target = first.value if isinstance(first, cst.Name) else None
                for element in t.elements:
                    if isinstance(element.value, cst.Name):
                        self.assignments.setdefault(element.value.value, []).append(None)
            elif isinstance(t, cst.Attribute):
                target = _dotted(t)
        if isinstance(node.value, cst.Call):
            self.calls.append((node.value, target))
            self._claimed = node.value

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if isinstance(node.target, cst.Name) and node.value is not None:
            self.assignments.setdefault(node.target.value, []).append(node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.target, cst.Name):
            self.assignments.setdefault(node.target.value, []).append(None)  # mutated: not a constant

    def visit_Call(self, node: cst.Call) -> None:
        if getattr(self, "_claimed", None) is not node:
            self.calls.append((node, None))
        name = _dotted(node.func)
        if name:
            self.call_args.setdefault(name, []).append(node)
            if name.endswith("add_argument"):
                self._argparse(node)

    def _argparse(self, node: cst.Call) -> None:
        dest = None
        dest_node = _kw(node, "dest")
        if isinstance(dest_node, cst.SimpleString):
            dest = dest_node.evaluated_value
        else:
            for arg in node.args:
                if arg.keyword is None and isinstance(arg.value, cst.SimpleString):
                    option = arg.value.evaluated_value
                    if option.startswith("--"):
                        dest = option[2:].replace("-", "_")
                        break
                    if not option.startswith("-") and dest is None:
                        dest = option.replace("-", "_")
        default = _kw(node, "default")
        if dest and default is not None:
            self.argparse_defaults[dest] = default

    # evidence raw material --------------------------------------------------
    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        try:
            self.strings.append((node.evaluated_value, node))
        except Exception:  # bytes or odd escapes: not evidence
            pass

    def visit_Name(self, node: cst.Name) -> None:
        self.names.append((node.value, node))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.names.append((node.attr.value, node))

    def visit_Comment(self, node: cst.Comment) -> None:
        self.comments.append((node.value, node))


class PythonFile:
    def __init__(self, text: str, path: Path):
        self.text = text
        self.path = path
        module = parse_module(text)  # the caller has vetted the text with pyscan.scan
        self.wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        self.module = self.wrapper.module
        self.collector = _Collector()
        try:
            self.wrapper.visit(self.collector)
        except RecursionError:
            raise FrontEndError("file too deeply nested to analyse") from None
        self.positions = self.wrapper.resolve(PositionProvider)

    # -- evaluation --------------------------------------------------------------------------
    def evaluate(self, node, depth: int = 0, origin: str = "literal"):
        """(value, origin) of an expression, or (UNKNOWN, reason)."""
        if node is None or depth > 20:
            return UNKNOWN, "too indirect"
        if isinstance(node, cst.SimpleString):
            try:
                return node.evaluated_value, origin
            except Exception:
                return UNKNOWN, "string"
        if isinstance(node, cst.ConcatenatedString):
            left, o1 = self.evaluate(node.left, depth + 1, origin)
            right, o2 = self.evaluate(node.right, depth + 1, origin)
            if isinstance(left, str) and isinstance(right, str):
                return left + right, origin
            return UNKNOWN, "string"
        if isinstance(node, cst.Integer):
            return int(node.value.replace("_", ""), 0), origin
        if isinstance(node, cst.Float):
            return float(node.value.replace("_", "")), origin
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
            value, o = self.evaluate(node.expression, depth + 1, origin)
            return (-value, o) if isinstance(value, (int, float)) and not isinstance(value, bool) else (UNKNOWN, "expr")
        if isinstance(node, cst.Name):
            if node.value in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[node.value], origin
            return self._evaluate_name(node.value, depth)
        if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
            items = []
            for element in node.elements:
                if isinstance(element, cst.StarredElement):
                    inner, o = self.evaluate(element.value, depth + 1, origin)
                    if inner is UNKNOWN or not isinstance(inner, (list, tuple)):
                        return UNKNOWN, "starred"
                    items.extend(inner)
                    continue
                value, o = self.evaluate(element.value, depth + 1, origin)
                if value is UNKNOWN:
                    return UNKNOWN, o
                items.append(value)
            return (list(items) if not isinstance(node, cst.Set) else list(dict.fromkeys(items))), origin
        if isinstance(node, cst.Dict):
            out = {}
            for element in node.elements:
                if not isinstance(element, cst.DictElement):
                    return UNKNOWN, "dict unpacking"
                key, _ = self.evaluate(element.key, depth + 1, origin)
                value, o = self.evaluate(element.value, depth + 1, origin)
                if key is UNKNOWN or value is UNKNOWN:
                    return UNKNOWN, "dict"
                out[key] = value
            return out, origin
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
            left, _ = self.evaluate(node.left, depth + 1, origin)
            right, _ = self.evaluate(node.right, depth + 1, origin)
            if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
                return list(left) + list(right), origin
            if isinstance(left, str) and isinstance(right, str):
                return left + right, origin
            return UNKNOWN, "expression"
        if isinstance(node, cst.Call):
            return self._evaluate_call(node, depth)
        if isinstance(node, cst.Attribute):
            # args.lora_target -> argparse default
            if isinstance(node.value, cst.Name) and node.attr.value in self.collector.argparse_defaults:
                value, _ = self.evaluate(self.collector.argparse_defaults[node.attr.value], depth + 1)
                return (value, "argparse") if value is not UNKNOWN else (UNKNOWN, "argparse")
            return UNKNOWN, f"`{_dotted(node) or 'attribute'}` is not a constant"
        return UNKNOWN, "not a constant expression"

    def _evaluate_call(self, node: cst.Call, depth: int):
        name = _dotted(node.func) or ""
        if name in ("list", "tuple", "set", "sorted") and len(node.args) == 1 and node.args[0].keyword is None:
            value, origin = self.evaluate(node.args[0].value, depth + 1)
            if isinstance(value, (list, tuple, str)):
                items = list(value)
                return (sorted(items) if name == "sorted" else items), origin
            return UNKNOWN, origin
        if name == "dict":
            out = {}
            for arg in node.args:
                if arg.keyword is None:
                    return UNKNOWN, "dict(...)"
                value, _ = self.evaluate(arg.value, depth + 1)
                if value is UNKNOWN:
                    return UNKNOWN, "dict(...)"
                out[arg.keyword.value] = value
            return out, "literal"
        if name in ("os.environ.get", "os.getenv", "environ.get", "getenv"):
            default = _positional(node, 1) or _kw(node, "default")
            if default is None:
                return UNKNOWN, "environment variable without a default"
            value, _ = self.evaluate(default, depth + 1)
            return (value, "env") if value is not UNKNOWN else (UNKNOWN, "env")
        if name.endswith(".split") and isinstance(node.func, cst.Attribute):
            base, origin = self.evaluate(node.func.value, depth + 1)
            sep_node = _positional(node, 0)
            sep, _ = self.evaluate(sep_node, depth + 1) if sep_node is not None else (None, "")
            if isinstance(base, str) and (sep is None or isinstance(sep, str)):
                return base.split(sep), origin
        return UNKNOWN, f"`{name or 'call'}(...)` is not evaluated"

    def _evaluate_name(self, name: str, depth: int):
        assigned = self.collector.assignments.get(name, [])
        if len(assigned) == 1 and assigned[0] is not None:
            value, origin = self.evaluate(assigned[0], depth + 1, "constant")
            return value, ("constant" if origin == "literal" else origin)
        if not assigned:
            return self._evaluate_parameter(name, depth)
        return UNKNOWN, f"`{name}` is assigned more than once"

    def _evaluate_parameter(self, name: str, depth: int):
        """A function parameter: the same constant at every call in the file, or its default."""
        for fname, func in self.collector.functions.items():
            params = list(func.params.params) + list(func.params.kwonly_params)
            for index, param in enumerate(params):
                if param.name.value != name:
                    continue
                values = []
                for call in self.collector.call_args.get(fname, []):
                    node = _kw(call, name)
                    if node is None and index < len(func.params.params):
                        node = _positional(call, index)
                    if node is None:
                        node = param.default
                    values.append(self.evaluate(node, depth + 1)[0] if node is not None else UNKNOWN)
                if not values and param.default is not None:
                    values.append(self.evaluate(param.default, depth + 1)[0])
                if values and all(v is not UNKNOWN and v == values[0] for v in values):
                    return values[0], "parameter"
                return UNKNOWN, f"parameter `{name}` of {fname}() takes different values"
        return UNKNOWN, f"`{name}` is not defined in this file"

    # -- spans ----------------------------------------------------------------------------------
    def span(self, node) -> CodeRange:
        return self.positions[node]


# -- modality evidence ----------------------------------------------------------------------------
MULTIMODAL_NAMES = {
    "process_vision_info": "uses qwen_vl_utils.process_vision_info",
    "UnslothVisionDataCollator": "uses UnslothVisionDataCollator",
    "DataCollatorForVisionLanguageModeling": "uses a vision-language collator",
    "pixel_values": "handles pixel_values",
    "load_image": "loads images",
    "fetch_image": "loads images",
}
TEXT_NAMES = {
    "DataCollatorForLanguageModeling": "uses DataCollatorForLanguageModeling",
    "DataCollatorForCompletionOnlyLM": "uses DataCollatorForCompletionOnlyLM",
    "DataCollatorForSeq2Seq": "uses DataCollatorForSeq2Seq",
}
DECLARATION = re.compile(r"#\s*loralint:\s*modality\s*=\s*(text|multimodal)\b")


def _line_of(pyfile: PythonFile, node) -> int | None:
    try:
        return pyfile.span(node).start.line
    except KeyError:
        return None


def modality_evidence(pyfile: PythonFile, base_dir: Path) -> tuple[str | None, list[Evidence]]:
    """(declared modality or None, evidence found in the file)."""
    c = pyfile.collector
    declared = None
    for comment, node in c.comments:
        match = DECLARATION.search(comment)
        if match:
            declared = match.group(1)
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
        elif name.startswith("import:PIL") or name in ("import:qwen_vl_utils",):
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
                add("multimodal", f"passes {kw}= to {name or 'a call'}", call)
            elif kw == "dataset_text_field":
                add("text", "sets dataset_text_field", call)
        if name.endswith("load_dataset"):
            _dataset_evidence(pyfile, call, base_dir, add)
    nodes = _EvidenceNodes()
    pyfile.module.visit(nodes)
    for key, value, node in nodes.string_pairs:
        if key == "type" and value in MEDIA_PART_TYPES:
            add("multimodal", f'builds "{value}" message parts', node)
    for value, node in c.strings:
        if value in MEDIA_COLUMNS and id(node) in nodes.subscript_keys:
            add("multimodal", f'reads the "{value}" column', node)
    return declared, _dedupe(evidence)


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


def _string(node: cst.SimpleString) -> str | None:
    try:
        value = node.evaluated_value
    except Exception:  # odd escapes: not evidence
        return None
    return value if isinstance(value, str) else None


def _dataset_evidence(pyfile: PythonFile, call: cst.Call, base_dir: Path, add) -> None:
    first = _positional(call, 0) or _kw(call, "path")
    name, _ = pyfile.evaluate(first) if first is not None else (UNKNOWN, "")
    data_files_node = _kw(call, "data_files")
    data_files, _ = pyfile.evaluate(data_files_node) if data_files_node is not None else (None, "")
    if isinstance(name, str) and name.lower() in TEXT_DATASETS:
        add("text", f"trains on the text dataset {name}", call)
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


# -- sites ----------------------------------------------------------------------------------------
UNSLOTH_VISION = ("FastVisionModel.get_peft_model", "FastModel.get_peft_model")
UNSLOTH_LANGUAGE = ("FastLanguageModel.get_peft_model",)
UNSLOTH_LOADERS = ("FastVisionModel", "FastLanguageModel", "FastModel")
TRL_MODEL_CONFIG_FIELDS = {"lora_target_modules": "target_modules", "lora_r": "r",
                           "lora_modules_to_save": "modules_to_save", "use_dora": "use_dora"}


def _line_starts(text: str) -> list[int]:
    # libcst's lines: \r\n, \r and \n all end a line
    starts = [0]
    for match in re.finditer(r"\r\n|\r|\n", text):
        starts.append(match.end())
    return starts


class _SpanMaker:
    def __init__(self, pyfile: PythonFile):
        self.pyfile = pyfile
        self.starts = _line_starts(pyfile.text)

    def __call__(self, node) -> Span:
        rng = self.pyfile.span(node)
        start = self.starts[rng.start.line - 1] + rng.start.column
        end = self.starts[rng.end.line - 1] + rng.end.column
        return Span(start, end, rng.start.line, rng.start.column + 1, rng.end.line, rng.end.column + 1)


@dataclass
class _ModelLoad:
    call: cst.Call
    var: str | None
    cls: str
    ref: object
    ref_reason: str


def extract_sites(pyfile: PythonFile) -> list[Site]:
    path = pyfile.path
    base_dir = path.parent
    c = pyfile.collector
    span_of = _SpanMaker(pyfile)
    loads = _model_loads(pyfile)
    declared, evidence = modality_evidence(pyfile, base_dir)
    sites = []
    for call, var in c.calls:
        name = _dotted(call.func) or ""
        if name in c.lora_names:
            kind = "peft"
        elif name.endswith(UNSLOTH_VISION):
            kind = "unsloth-vision"
        elif name.endswith(UNSLOTH_LANGUAGE):
            kind = "unsloth-language"
        elif name.endswith("ModelConfig") and _kw(call, "use_peft") is not None:
            kind = "trl-model-config"
        else:
            continue
        site = _site_for_call(pyfile, call, var, kind, loads, span_of)
        if site is None:
            continue
        site.evidence = list(evidence)
        site.modality = declared or _verdict(evidence)
        if declared:
            site.evidence.insert(0, Evidence(declared, "declared with `# loralint: modality=...`"))
        sites.append(site)
    return sites


def _verdict(evidence: list[Evidence]) -> str:
    values = {e.value for e in evidence}
    if "multimodal" in values:
        return "multimodal"
    return "text" if "text" in values else "unknown"


def _model_loads(pyfile: PythonFile) -> list[_ModelLoad]:
    loads = []
    for call, var in pyfile.collector.calls:
        name = _dotted(call.func) or ""
        if not name.endswith(".from_pretrained"):
            continue
        cls = name.rsplit(".", 2)[-2]
        if NON_MODEL_CLASSES.search(cls):
            continue
        ref_node = _positional(call, 0) or _kw(call, "pretrained_model_name_or_path") or _kw(call, "model_name")
        ref, reason = pyfile.evaluate(ref_node) if ref_node is not None else (UNKNOWN, "no model argument")
        loads.append(_ModelLoad(call, var, cls, ref, reason if ref is UNKNOWN else ""))
    return loads


def _string_models(pyfile: PythonFile) -> list[_ModelLoad]:
    """Models named as a string where a trainer takes them: SFTTrainer(model="org/name", ...)."""
    out = []
    for call, _ in pyfile.collector.calls:
        model = _kw(call, "model")
        if isinstance(model, (cst.SimpleString, cst.Name)) and _kw(call, "peft_config") is not None:
            value, _ = pyfile.evaluate(model)
            if isinstance(value, str):
                out.append(_ModelLoad(call, None, "", value, ""))
    return out


def _consumers(pyfile: PythonFile, call: cst.Call, var: str | None):
    """Calls that take this LoRA config: get_peft_model(model, cfg), SFTTrainer(peft_config=cfg) ..."""
    for other, _ in pyfile.collector.calls:
        for index, arg in enumerate(other.args):
            is_ours = arg.value is call or (var and isinstance(arg.value, cst.Name) and arg.value.value == var)
            if is_ours:
                yield other


def _model_for(pyfile: PythonFile, call: cst.Call, var: str | None, loads, kind: str):
    """(reference, class, reason when unknown) of the model a LoRA config is applied to."""
    model_arg = None
    if kind.startswith("unsloth"):
        model_arg = _positional(call, 0) or _kw(call, "model")
    else:
        for consumer in _consumers(pyfile, call, var):
            model_arg = _kw(consumer, "model") or _positional(consumer, 0)
            if model_arg is not None and model_arg is not call:
                break
            model_arg = None
    if isinstance(model_arg, cst.Name):
        for load in loads:
            if load.var == model_arg.value:
                return load
    elif model_arg is not None:
        value, reason = pyfile.evaluate(model_arg)
        if isinstance(value, str):
            return _ModelLoad(call, None, "", value, "")
    candidates = loads + _string_models(pyfile)
    refs = {repr(load.ref) for load in candidates}
    if len(candidates) >= 1 and len(refs) == 1:
        return candidates[0]
    if len(refs) > 1:
        return _ModelLoad(call, None, "", UNKNOWN, "several models are loaded in this file; cannot tell which one gets LoRA")
    return _ModelLoad(call, None, "", UNKNOWN, "no from_pretrained(...) call names the base model")


def _site_for_call(pyfile, call, var, kind, loads, span_of) -> Site | None:
    fields: dict[str, tuple] = {}  # field -> (value node at the site, container)
    dict_node = None
    names = dict(TRL_MODEL_CONFIG_FIELDS) if kind == "trl-model-config" else {f: f for f in LORA_FIELDS}
    if kind.startswith("unsloth"):
        names.update({flag: flag for flag in unsloth.FLAGS})
    unknown = []
    for arg in call.args:
        if arg.star == "**":
            target = arg.value
            if isinstance(arg.value, cst.Name):
                assigned = pyfile.collector.assignments.get(arg.value.value, [])
                target = assigned[0] if len(assigned) == 1 else None
            if isinstance(target, cst.Dict):
                dict_node = target
                for element in target.elements:
                    if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
                        key = _string(element.key)
                        if key in names:
                            fields[names[key]] = element.value
            elif isinstance(target, cst.Call) and _dotted(target.func) == "dict":
                for inner in target.args:
                    if inner.keyword and inner.keyword.value in names:
                        fields[names[inner.keyword.value]] = inner.value
            else:
                unknown.append("**kwargs")
        elif arg.keyword is not None and arg.keyword.value in names:
            fields[names[arg.keyword.value]] = arg.value
    if kind == "trl-model-config":
        use_peft, _ = pyfile.evaluate(_kw(call, "use_peft"))
        if use_peft is not True:
            return None

    values, origins, spans = {}, {}, {}
    for field_name, node in fields.items():
        value, origin = pyfile.evaluate(node)
        if value is UNKNOWN:
            unknown.append(f"`{field_name}` ({origin})")
            continue
        values[field_name] = value
        origins[field_name] = origin
        spans[field_name] = span_of(node)

    spec = LoraSpec(
        target_modules=values.get("target_modules"),
        exclude_modules=values.get("exclude_modules"),
        layers_to_transform=values.get("layers_to_transform"),
        layers_pattern=values.get("layers_pattern"),
        modules_to_save=values.get("modules_to_save"),
        r=values.get("r", 16 if kind.startswith("unsloth") else 8),
        rank_pattern=values.get("rank_pattern") or {},
        use_dora=bool(values.get("use_dora", False)),
        lora_bias=bool(values.get("lora_bias", False)),
        target_parameters=values.get("target_parameters"),
        task_type=values.get("task_type") if isinstance(values.get("task_type"), str) else None,
    )
    if kind == "trl-model-config":
        from .trainers import trl_targets

        spec.target_modules = trl_targets(spec.target_modules)
        spec.r = values.get("r", 16)  # ModelConfig.lora_r defaults to 16
        load = _ModelLoad(call, None, "", *pyfile.evaluate(_kw(call, "model_name_or_path")))
        load.ref_reason = "" if load.ref is not UNKNOWN else "model_name_or_path is not a constant"
    else:
        load = _model_for(pyfile, call, var, loads, kind)
    call_span = span_of(call)
    anchor_field = "target_modules" if "target_modules" in spans else next(iter(spans), None)
    site = Site(
        file=str(pyfile.path),
        line=call_span.line,
        column=call_span.column,
        framework={"peft": "peft", "trl-model-config": "trl"}.get(kind, "unsloth"),
        model_ref=load.ref if isinstance(load.ref, str) else None,
        model_class=load.cls if load.cls and not load.cls.startswith(UNSLOTH_LOADERS) and load.cls[0].isupper() else None,
        lora=spec,
        relative_to=pyfile.path.parent,
        spans=spans,
        origins=origins,
        syntax="python-dict" if dict_node is not None else "python-call",
        anchor=spans.get(anchor_field) if anchor_field else _last_arg_span(call, span_of),
    )
    site.call_span = call_span
    if load.ref is UNKNOWN:
        site.unknown = f"the base model is not statically known: {load.ref_reason}"
    if unknown and any(u.startswith(("`target_modules`", "`exclude_modules`", "`layers", "**", "`modules_to_save`")) for u in unknown):
        site.unknown = "not statically known: " + ", ".join(unknown)
    if kind.startswith("unsloth"):
        _apply_unsloth(site, kind, values)
    return site


def _last_arg_span(call: cst.Call, span_of) -> Span | None:
    return span_of(call.args[-1].value) if call.args else None


def _apply_unsloth(site: Site, kind: str, values: dict) -> None:
    targets = values.get("target_modules")
    if kind == "unsloth-language":
        if targets is None:
            site.lora.target_modules = list(unsloth.FAST_LANGUAGE_DEFAULT_TARGETS)
        return
    flags = {flag: bool(values.get(flag, True)) for flag in unsloth.FLAGS}
    if isinstance(targets, str) and targets == "all-linear":
        flags = {flag: True for flag in unsloth.FLAGS}
    site.flags = flags
    if targets is None or targets == "all-linear":
        site.derive_targets = partial(unsloth.targets_for, flags=flags)
