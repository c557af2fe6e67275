"""Python values as a reader of the script sees them, without running it (libcst).

Evaluated statically: literals, module/function constants assigned once, list/tuple concatenation,
`list(...)`/`tuple(...)`, `dict(...)` and dict-literal `**kwargs`, argparse `default=`,
`os.environ.get(NAME, default)`/`os.getenv`, and function parameters whose every call in the file
passes the same constant. Anything else is UNKNOWN, never guessed.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from .errors import FrontEndError


class _Unknown:
    def __repr__(self):
        return "UNKNOWN"


UNKNOWN = _Unknown()
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
        self.call_args: dict[str, list[cst.Call]] = {}
        self.strings: list[tuple[str, cst.CSTNode]] = []
        self.names: list[tuple[str, cst.CSTNode]] = []
        self.comments: list[tuple[str, cst.CSTNode]] = []

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


def _string(node: cst.SimpleString) -> str | None:
    try:
        value = node.evaluated_value
    except Exception:  # odd escapes: not evidence
        return None
    return value if isinstance(value, str) else None
