"""YAML loaded defensively: safe constructors only, nesting and alias expansion bounded before any
object is built, duplicate keys reported, positions kept for span edits.

PyYAML's C loader segfaults on ~30,000 nested brackets and the pure loader recurses ~800 deep, so
depth is measured first with the (iterative) scanner.
"""

from __future__ import annotations

import yaml

from .frontends.errors import FrontEndError

MAX_DEPTH = 64
MAX_EXPANDED_NODES = 100_000
MAX_BYTES = 1024 * 1024  # training configs are a few KB; PyYAML needs seconds per MB

_OPEN = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken, yaml.FlowMappingStartToken,
         yaml.FlowSequenceStartToken)
_CLOSE = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
_STANDARD_TAG_PREFIX = "tag:yaml.org,2002:"
_SAFE_TAGS = {f"{_STANDARD_TAG_PREFIX}{t}" for t in
              ("str", "int", "float", "bool", "null", "seq", "map", "timestamp", "binary", "set", "omap", "pairs",
               "merge", "value")}


def _error(message: str, mark) -> FrontEndError:
    if mark is None:
        return FrontEndError(message)
    return FrontEndError(message, mark.line + 1, mark.column + 1)


def _yaml_error(exc: yaml.YAMLError) -> FrontEndError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return _error(f"invalid YAML: {problem}", mark)


def compose(text: str) -> yaml.Node | None:
    """The document's node graph, after the depth, alias, tag and duplicate-key checks."""
    if len(text) > MAX_BYTES:
        raise FrontEndError(f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB; not read")
    depth = 0
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, _OPEN):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _error(f"nested more than {MAX_DEPTH} levels deep; not loaded", token.start_mark)
            elif isinstance(token, _CLOSE):
                depth -= 1
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from None
    except RecursionError:
        raise FrontEndError("nested too deeply to load") from None
    if node is not None:
        _check_graph(node)
    return node


def _check_graph(root: yaml.Node) -> None:
    """Reject recursive aliases, alias bombs, unknown tags and duplicate keys (iteratively)."""
    expanded: dict[int, int] = {}
    state: dict[int, int] = {}  # 1 = on the stack, 2 = done
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            children = _children(node)
            expanded[key] = 1 + sum(expanded[id(c)] for c in children)
            # what aliases add: the expanded size beyond the nodes written (a plain large file adds nothing)
            if expanded[key] - len(expanded) > MAX_EXPANDED_NODES:
                raise _error(f"aliases expand it by more than {MAX_EXPANDED_NODES} nodes; not loaded", node.start_mark)
            state[key] = 2
            continue
        if state.get(key) == 2:
            continue
        if state.get(key) == 1:
            raise _error("recursive alias; not loaded", node.start_mark)
        state[key] = 1
        if node.tag not in _SAFE_TAGS:
            raise _error(f"tag {node.tag!r} is not allowed (only plain YAML types are loaded)", node.start_mark)
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != f"{_STANDARD_TAG_PREFIX}merge":
                    if key_node.value in seen:
                        raise _error(f"duplicate key {key_node.value!r} (first at line {seen[key_node.value]})",
                                     key_node.start_mark)
                    seen[key_node.value] = key_node.start_mark.line + 1
        stack.append((node, True))
        for child in _children(node):
            if state.get(id(child)) == 1:
                raise _error("recursive alias; not loaded", child.start_mark)
            if state.get(id(child)) != 2:
                stack.append((child, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def construct(node: yaml.Node):
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from None
    except (ValueError, OverflowError, RecursionError) as exc:
        raise _error(f"invalid value: {exc}", getattr(node, "start_mark", None)) from None
    finally:
        loader.dispose()


def load(text: str):
    """(root node, Python value); (None, None) for an empty document."""
    node = compose(text)
    if node is None:
        return None, None
    return node, construct(node)


def top_level(node: yaml.Node | None) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """Top-level keys -> (key node, value node)."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}
