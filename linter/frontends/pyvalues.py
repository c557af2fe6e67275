"""Python values as a reader of the script sees them, without running it (libcst).

Evaluated statically: literals, module/function constants assigned once, list/tuple concatenation,
`list(...)`/`tuple(...)`, `dict(...)` and dict-literal `**kwargs`, argparse `default=`,
`os.environ.get(NAME, default)`/`os.getenv`, and function parameters whose every call in the file
passes the same constant. Anything else is UNKNOWN, never guessed.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from .cliargs import PARSE_METHODS, PARSERS, TRL_DATACLASSES, FlagSpec, parse_flags, spec_from_annotation
from .errors import FrontEndError
from .launch import UNKNOWN_WORD
from .notebook import BROKEN_CELL_VALUE


class _Unknown:
    def __init__(self, reason: str = ""):
        self.reason = reason

    def __repr__(self):
        return "UNKNOWN"


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class Alternatives:
    """A name whose reaching assignments disagree (the branches of an `if`): each value with its line.
    Only `evaluate(..., alternatives=True)` returns one; anywhere else it is UNKNOWN."""

    name: str
    options: tuple  # ((value, line), ...)


@dataclass(frozen=True)
class Namespace:
    """A simple settings object (SimpleNamespace, a dataclass instance) with the fields' values."""

    name: str
    fields: dict
    origins: dict | None = None  # per field, when fields come from different places (a launch, defaults)

    def get(self, key: str, origin: str):
        value = self.fields.get(key, UNKNOWN)
        if isinstance(value, _Unknown):
            return UNKNOWN, value.reason or f"`{self.name}` has no constant field `{key}`"
        return value, (self.origins or {}).get(key, origin)

    def __hash__(self):
        return hash(self.name)
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


@dataclass(frozen=True)
class Binding:
    """One assignment of a name: its value expression (None: not statically known), when it takes effect
    (the end of its statement), the function it is in, and the conditional branches around it."""

    value: object
    end: tuple[int, int]
    scope: str | None
    branches: tuple[tuple[int, int], ...]  # (id of the if/for/while/try/with, which part), outermost first
    line: int


class _Collector(cst.CSTVisitor):
    """One pass over the module: imports, assignments, calls, evidence."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self):
        self.assignments: dict[str, list[cst.BaseExpression]] = {}
        self.bindings: dict[str, list[Binding]] = {}
        self.scope_of: dict[int, str | None] = {}  # id(Name node) -> the function it is used in
        self._functions: list[str] = []
        self._branches: list[tuple[int, int]] = []
        self.functions: dict[str, cst.FunctionDef] = {}
        self.classes: dict[str, cst.ClassDef] = {}
        self.calls: list[tuple[cst.Call, str | None]] = []  # (call, name it is assigned to)
        self.lora_names = {"LoraConfig", "peft.LoraConfig"}
        self.argparse_defaults: dict[str, cst.BaseExpression] = {}
        self.argparse_specs: dict[str, dict] = {}  # dest -> {"nargs", "type", "action"}
        self.dataclasses: dict[str, dict[str, tuple[str, object]]] = {}  # class -> field -> (annotation, default)
        self.parsers: dict[str, list[str]] = {}  # parser variable -> dataclass names, in order
        self.parsed: dict[str, tuple[str, cst.CSTNode]] = {}  # variable -> (dataclass it holds, the parse call)
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

    # scopes and branches ------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.setdefault(node.name.value, node)
        self._functions.append(node.name.value)
        self._saved_branches = getattr(self, "_saved_branches", []) + [self._branches]
        self._branches = []  # a function body runs when called: branches outside it do not apply

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.setdefault(node.name.value, node)
        if any(_dotted(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator) in ("dataclass", "dataclasses.dataclass")
               for d in node.decorators):
            fields = {}
            for statement in node.body.body:
                for small in getattr(statement, "body", []):
                    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                        annotation = cst.Module([]).code_for_node(small.annotation.annotation)
                        fields[small.target.value] = (annotation, small.value)
            self.dataclasses[node.name.value] = fields

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._functions.pop()
        self._branches = self._saved_branches.pop()

    def _enter(self, node, part: int) -> None:
        self._branches.append((id(node), part))

    def _leave(self, *_) -> None:
        self._branches.pop()

    def visit_If_body(self, node: cst.If) -> None:
        self._enter(node, 0)

    def visit_If_orelse(self, node: cst.If) -> None:
        self._enter(node, 1)

    leave_If_body = leave_If_orelse = _leave

    def visit_For_body(self, node) -> None:
        self._enter(node, 0)

    def visit_While_body(self, node) -> None:
        self._enter(node, 0)

    def visit_Try_body(self, node) -> None:
        self._enter(node, 0)

    def visit_Try_handlers(self, node) -> None:
        self._enter(node, 1)

    leave_For_body = leave_While_body = leave_Try_body = leave_Try_handlers = _leave

    def _bind(self, name: str, value, statement) -> None:
        self.assignments.setdefault(name, []).append(value)
        position = self.get_metadata(PositionProvider, statement)
        self.bindings.setdefault(name, []).append(Binding(
            value, (position.end.line, position.end.column), self._functions[-1] if self._functions else None,
            tuple(self._branches), position.start.line))

    # assignments ------------------------------------------------------------
    def visit_Assign(self, node: cst.Assign) -> None:
        target = None
        for assign_target in node.targets:
            t = assign_target.target
            if isinstance(t, cst.Name):
                target = t.value
                self._bind(t.value, node.value, node)
            elif isinstance(t, (cst.Tuple, cst.List)):
                first = t.elements[0].value if t.elements else None
                target = first.value if isinstance(first, cst.Name) else None
                values = node.value.elements if isinstance(node.value, (cst.Tuple, cst.List)) else None
                unpacked = (values is not None and len(values) == len(t.elements)
                            and not any(isinstance(e, cst.StarredElement) for e in (*values, *t.elements)))
                for index, element in enumerate(t.elements):
                    if isinstance(element.value, cst.Name):
                        self._bind(element.value.value, values[index].value if unpacked else None, node)
            elif isinstance(t, cst.Attribute):
                target = _dotted(t)
        if isinstance(node.value, cst.Call):
            self.calls.append((node.value, target))
            self._claimed = node.value
            self._parser_assignment(node)

    def _parser_assignment(self, node: cst.Assign) -> None:
        """`parser = TrlParser((A, B, C))` and `a, b, c = parser.parse_args_and_config()`."""
        call, target = node.value, node.targets[0].target
        name = _dotted(call.func) or ""
        if name in PARSERS and isinstance(target, cst.Name) and call.args:
            first = call.args[0].value
            elements = first.elements if isinstance(first, (cst.Tuple, cst.List)) else [first]
            self.parsers[target.value] = [_dotted(getattr(e, "value", e)) or "" for e in elements]
            return
        method = call.func.attr.value if isinstance(call.func, cst.Attribute) else None
        owner = call.func.value if isinstance(call.func, cst.Attribute) else None
        classes = None
        if isinstance(owner, cst.Call) and (_dotted(owner.func) or "") in PARSERS and owner.args:
            first = owner.args[0].value  # HfArgumentParser((A, B)).parse_args_into_dataclasses()
            elements = first.elements if isinstance(first, (cst.Tuple, cst.List)) else [first]
            classes = [_dotted(getattr(e, "value", e)) or "" for e in elements]
            self.parsers[f"<inline parser {id(owner)}>"] = classes  # its options are on the command line too
        elif owner is not None and _dotted(owner) in self.parsers:
            classes = self.parsers[_dotted(owner)]
        if method in PARSE_METHODS and classes is not None:
            names = target.elements if isinstance(target, (cst.Tuple, cst.List)) else [target]
            for index, element in enumerate(names):
                element = getattr(element, "value", element)
                if isinstance(element, cst.Name) and index < len(classes):
                    self.parsed[element.value] = (classes[index], call)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if isinstance(node.target, cst.Name) and node.value is not None:
            self._bind(node.target.value, node.value, node)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.target, cst.Name):
            self._bind(node.target.value, None, node)  # mutated: not a constant

    def visit_For(self, node: cst.For) -> None:
        targets = node.target.elements if isinstance(node.target, (cst.Tuple, cst.List)) else [node.target]
        for target in targets:
            target = getattr(target, "value", target)
            if isinstance(target, cst.Name):
                self._bind(target.value, None, node)

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
        if dest:
            self.argparse_specs[dest] = {key: _kw(node, key) for key in ("nargs", "type", "action")}

    # evidence raw material --------------------------------------------------
    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        try:
            self.strings.append((node.evaluated_value, node))
        except Exception:  # bytes or odd escapes: not evidence
            pass

    def visit_Name(self, node: cst.Name) -> None:
        self.names.append((node.value, node))
        self.scope_of[id(node)] = self._functions[-1] if self._functions else None

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.names.append((node.attr.value, node))

    def visit_Comment(self, node: cst.Comment) -> None:
        self.comments.append((node.value, node))


class PythonFile:
    def __init__(self, text: str, path: Path, launch=None, launch_args: list | None = None):
        self.text = text
        self.path = path
        self.launch = launch  # the command line that runs the script (None: the script on its own)
        self.launch_args = launch_args  # the words that launch passes to the script
        self._given = None
        module = parse_module(text)  # the caller has vetted the text with pyscan.scan
        self.wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        self.module = self.wrapper.module
        self.collector = _Collector()
        try:
            self.wrapper.visit(self.collector)
        except RecursionError:
            raise FrontEndError("file too deeply nested to analyse") from None
        self.positions = self.wrapper.resolve(PositionProvider)

    # -- the command line -----------------------------------------------------------------------
    def command_line_specs(self) -> dict[str, FlagSpec]:
        """Every option the script's parsers accept: its dataclasses' fields and its argparse options."""
        specs: dict[str, FlagSpec] = {}
        for classes in self.collector.parsers.values():
            for cls in classes:
                specs.update(self._dataclass_specs(cls))
        for dest, options in self.collector.argparse_specs.items():
            specs[dest] = self._argparse_spec(dest, options)
        return specs

    def _dataclass_specs(self, cls: str) -> dict[str, FlagSpec]:
        if cls in self.collector.dataclasses:
            return {name: spec_from_annotation(annotation, default)
                    for name, (annotation, default) in self.collector.dataclasses[cls].items()}
        return dict(TRL_DATACLASSES.get(cls.rpartition(".")[2], {}))

    def _argparse_spec(self, dest: str, options: dict) -> FlagSpec:
        action, _ = self.evaluate(options.get("action")) if options.get("action") is not None else (None, "")
        if action in ("store_true", "store_false"):
            return FlagSpec("bool", action == "store_false")
        nargs, _ = self.evaluate(options.get("nargs")) if options.get("nargs") is not None else (None, "")
        kind = _dotted(options.get("type")) if options.get("type") is not None else "str"
        kind = kind if kind in ("int", "float") else "str"
        if nargs in ("+", "*") or isinstance(nargs, int) and nargs > 1:
            return FlagSpec("list", None, kind)
        return FlagSpec(kind)

    def given(self) -> dict:
        """What the launch's words give, by option name (parsed once). With TrlParser, `--config file.yaml`
        sets values first and the flags override them (`TrlParser.parse_args_and_config`)."""
        if self._given is None:
            specs = self.command_line_specs()
            self._given = {**self._config_file_values(specs), **parse_flags(self.launch_args or [], specs)}
        return self._given

    def _config_file_values(self, specs: dict) -> dict:
        from .cliargs import Given

        words = self.launch_args or []
        if "TrlParser" not in self.text:
            return {}
        for flag, value in zip(words, words[1:]):
            if flag.value == "--config" and isinstance(value.value, str):
                break
        else:
            return {}
        from .. import safe_yaml
        from .shell import script_of

        path = script_of(self.launch, value.value) if self.launch is not None else None
        try:
            from ..files import read_text

            _, data = safe_yaml.load(read_text(path, 8 * 1024 * 1024)) if path is not None else (None, None)
        except (OSError, UnicodeDecodeError, FrontEndError):
            data = None
        if not isinstance(data, dict):
            return {}
        # values from the file: no words to rewrite in the launch (a fix belongs in the file)
        return {key: Given(data[key], [], flag) for key in specs if key in data}

    def _command_line_value(self, dest: str, default_value, default_origin: str):
        given = self.given().get(dest) if self.launch_args is not None else None
        if given is None:
            return default_value, default_origin
        if given.value is UNKNOWN_WORD:
            return UNKNOWN, f"`--{dest}` is not a constant in the launch"
        return given.value, f"launch:{dest}"

    def _parsed_namespace(self, cls: str, depth: int):
        """A dataclass instance a parser fills: each field from the launch, else its default."""
        values, origins = {}, {}
        for name, spec in self._dataclass_specs(cls).items():
            default = spec.default
            if isinstance(default, cst.CSTNode):
                default = self._field_default(default, depth)
            value, origin = self._command_line_value(name, default, "argparse")
            values[name] = value if value is not UNKNOWN else _Unknown(origin)
            origins[name] = origin
        return Namespace(cls, values, origins)

    def _field_default(self, node, depth: int):
        """`x: int = 16`, `field(default=16)`, `field(default_factory=lambda: [...])`."""
        if isinstance(node, cst.Call) and (_dotted(node.func) or "").endswith("field"):
            default = _kw(node, "default")
            factory = _kw(node, "default_factory")
            if default is not None:
                node = default
            elif isinstance(factory, cst.Lambda):
                node = factory.body
            elif factory is not None:
                node = cst.Call(func=factory)
            else:
                return None
        value, _ = self.evaluate(node, depth + 1)
        return None if value is UNKNOWN else value

    # -- evaluation --------------------------------------------------------------------------
    def evaluate(self, node, depth: int = 0, origin: str = "literal", alternatives: bool = False):
        """(value, origin) of an expression, or (UNKNOWN, reason); with `alternatives`, a name whose branches
        disagree gives Alternatives (each value is then checked on its own)."""
        value, origin = self._evaluate(node, depth, origin)
        if isinstance(value, Alternatives) and not alternatives:
            lines = ", ".join(str(line) for _, line in value.options)
            return UNKNOWN, f"`{value.name}` takes different values in the branches (lines {lines})"
        return value, origin

    def _evaluate(self, node, depth: int, origin: str):
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
            return self._evaluate_name(node, depth)
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
            if isinstance(node, cst.Set):
                unique = {repr(item): item for item in items}  # items may be unhashable (lists)
                return list(unique.values()), origin
            return list(items), origin
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
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide) and _is_path(node.left):
            left, origin = self.evaluate(node.left, depth + 1, origin)
            right, _ = self.evaluate(node.right, depth + 1, origin)
            if isinstance(left, str) and isinstance(right, str):
                return posixpath.join(left, right), origin
            return UNKNOWN, "path expression"
        if isinstance(node, cst.FormattedString):
            return self._evaluate_fstring(node, depth, origin)
        if isinstance(node, cst.Subscript):
            return self._evaluate_subscript(node, depth, origin)
        if isinstance(node, cst.Call):
            return self._evaluate_call(node, depth)
        if isinstance(node, cst.Attribute):
            # args.lora_target -> argparse default
            if (isinstance(node.value, cst.Name) and node.value.value not in self.collector.parsed
                    and node.attr.value in self.collector.argparse_specs):
                dest = node.attr.value
                default = self.collector.argparse_defaults.get(dest)
                value, _ = self.evaluate(default, depth + 1) if default is not None else (None, "")
                if self.launch_args is None and default is None:
                    return UNKNOWN, f"`--{dest}` has no default and no launch gives it"
                return self._command_line_value(dest, value, "argparse")
            if isinstance(node.value, (cst.Name, cst.Call, cst.Attribute, cst.Subscript)):
                base, origin = self.evaluate(node.value, depth + 1, origin)
                if isinstance(base, Namespace):
                    return base.get(node.attr.value, origin)
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
        if name in ("os.path.join", "path.join", "posixpath.join", "Path", "pathlib.Path", "PurePath", "PurePosixPath"):
            parts = []
            for arg in node.args:
                value, origin = self.evaluate(arg.value, depth + 1) if arg.keyword is None and not arg.star else (UNKNOWN, "")
                if not isinstance(value, str):
                    return UNKNOWN, f"`{name}(...)` of values that are not constants"
                parts.append(value)
            return (posixpath.join(*parts) if parts else "."), "constant"
        if name in ("SimpleNamespace", "types.SimpleNamespace", "argparse.Namespace", "Namespace") or name in self.collector.classes:
            return self._evaluate_object(node, name, depth)
        if name == BROKEN_CELL_VALUE:
            cell, _ = self.evaluate(_positional(node, 0), depth + 1)
            return UNKNOWN, f"assigned in cell {cell}, which does not parse"
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

    def _evaluate_fstring(self, node: cst.FormattedString, depth: int, origin: str):
        out = []
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                out.append(part.value)
                continue
            if part.format_spec is not None or part.conversion is not None:
                return UNKNOWN, "f-string with a format"
            value, origin = self.evaluate(part.expression, depth + 1, origin)
            if value is UNKNOWN or not isinstance(value, (str, int, float)):
                return UNKNOWN, origin if value is UNKNOWN else "f-string of a value that is not a constant"
            out.append(str(value))
        return "".join(out), origin

    def _evaluate_subscript(self, node: cst.Subscript, depth: int, origin: str):
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            return UNKNOWN, "slice"
        base, origin = self.evaluate(node.value, depth + 1, origin)
        key, _ = self.evaluate(node.slice[0].slice.value, depth + 1)
        if isinstance(base, Namespace):
            base = base.fields
        try:
            if isinstance(base, dict) and key in base:
                return base[key], origin
            if isinstance(base, (list, tuple, str)) and isinstance(key, int) and not isinstance(key, bool):
                return base[key], origin
        except (IndexError, TypeError):
            pass
        return UNKNOWN, f"`{_dotted(node.value) or 'value'}[...]` is not a constant"

    def _evaluate_object(self, call: cst.Call, name: str, depth: int):
        """A settings object whose fields are constants: SimpleNamespace(a=1), or an instance of a class in
        this file (a dataclass) with its class-level defaults and the call's keyword arguments."""
        fields: dict = {}
        cls = self.collector.classes.get(name)
        if cls is not None:
            for statement in cls.body.body:
                for small in getattr(statement, "body", []):
                    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name) and small.value is not None:
                        fields[small.target.value] = small.value
                    elif isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                        fields[small.targets[0].target.value] = small.value
            if any(arg.keyword is None for arg in call.args):
                return UNKNOWN, f"`{name}(...)` with positional arguments"
        for arg in call.args:
            if arg.keyword is not None:
                fields[arg.keyword.value] = arg.value
            elif cls is None:
                return UNKNOWN, f"`{name}(...)` with positional arguments"
        values = {}
        for key, expression in fields.items():
            value, reason = self.evaluate(expression, depth + 1)
            values[key] = value if value is not UNKNOWN else _Unknown(reason)
        return Namespace(name, values), "constant"

    def _evaluate_name(self, node: cst.Name, depth: int):
        """The value of the assignment that reaches this use, in execution order (statement order; a
        notebook's cells in order). Branches that all assign the same value agree; otherwise unknown."""
        name = node.value
        if name in self.collector.parsed:
            return self._parsed_namespace(self.collector.parsed[name][0], depth), "argparse"
        bindings = self.collector.bindings.get(name, [])
        if not bindings:
            return self._evaluate_parameter(name, depth)
        scope = self.collector.scope_of.get(id(node))
        try:
            start = self.positions[node].start
            at = (start.line, start.column)
        except KeyError:
            at = (10**9, 0)
        reaching = [b for b in bindings if b.scope == scope and b.end <= at]
        if not reaching and scope is not None:
            if any(p.name.value == name for p in _params(self.collector.functions.get(scope))):
                return self._evaluate_parameter(name, depth)
            # a module-level name read inside a function: known if every module-level assignment agrees
            reaching = [b for b in bindings if b.scope is None]
            return self._agreed(name, reaching, depth)
        if not reaching:
            return UNKNOWN, f"`{name}` is used before it is assigned"
        last = reaching[-1]
        if not last.branches:
            return self._value_of(last, depth)
        # the last assignment is conditional: every branch's last assignment, and what came before
        outer = last.branches[0][0]
        inside = [b for b in reaching if b.branches and b.branches[0][0] == outer]
        by_path = {b.branches: b for b in inside}
        alternatives = list(by_path.values())
        exhaustive = {path[0][1] for path in by_path} >= {0, 1} and all(len(p) == 1 for p in by_path)
        if not exhaustive:
            before = [b for b in reaching if b not in inside]
            if not before:
                return UNKNOWN, f"`{name}` is assigned only conditionally (line {last.line})"
            alternatives.append(before[-1])
        return self._agreed(name, alternatives, depth, branches=True)

    def _value_of(self, binding: Binding, depth: int):
        if binding.value is None:
            return UNKNOWN, f"the value assigned on line {binding.line} is not a constant"
        value, origin = self.evaluate(binding.value, depth + 1, "constant")
        return value, ("constant" if origin == "literal" else origin)

    def _agreed(self, name: str, bindings: list[Binding], depth: int, branches: bool = False):
        values = [self._value_of(b, depth) for b in bindings]
        if not values:
            return UNKNOWN, f"`{name}` is not defined in this file"
        for value, reason in values:
            if value is UNKNOWN:
                return value, reason
        if all(v == values[0][0] and type(v) is type(values[0][0]) for v, _ in values):
            return values[-1]
        if branches:
            options = {}
            for binding, (value, _) in zip(bindings, values):
                options.setdefault(repr(value), (value, binding.line))
            return Alternatives(name, tuple(sorted(options.values(), key=lambda o: o[1]))), "branch"
        return UNKNOWN, f"`{name}` is assigned more than once"

    def _evaluate_parameter(self, name: str, depth: int):
        """A function parameter: the same constant at every call in the file, or its default."""
        return self._parameter_value(name, depth)

    def _parameter_value(self, name: str, depth: int):
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


def _params(function) -> list:
    if function is None:
        return []
    return list(function.params.params) + list(function.params.kwonly_params)


def _is_path(node) -> bool:
    """`Path(...)`, or `Path(...) / "x"` (the left operand of a path join)."""
    if isinstance(node, cst.Call):
        return _dotted(node.func) in ("Path", "pathlib.Path", "PurePath", "PurePosixPath")
    return isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide) and _is_path(node.left)
