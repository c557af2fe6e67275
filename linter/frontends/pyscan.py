"""The cheap first look at a Python file: no libcst, no imports of the script."""

from __future__ import annotations

import ast
import re

from .errors import FrontEndError

# Files that never mention LoRA are not parsed at all.
PREFILTER = re.compile(r"LoraConfig|get_peft_model|peft_config|FastVisionModel|FastLanguageModel|FastModel|lora_", re.I)
MAX_NESTING = 100  # libcst's native parser can overflow its stack on pathological nesting


def _nesting_depth(text: str) -> int:
    depth = best = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            best = max(best, depth)
        elif ch in ")]}":
            depth -= 1
    return best


MAX_SYNTAX_NODES = 100_000  # libcst needs ~25 s for a 800 KB file; no training script is that large
MAX_SYNTAX_DEPTH = 100  # lambdas, `a if b else ...`, `2**2**...`, `a[0][0]...` nest without brackets
MAX_SCRIPT_CHARS = 2_000_000  # Python's own parse of a larger file already costs a gigabyte
LORA_CALL_NAMES = {"LoraConfig", "get_peft_model", "ModelConfig", "get_peft_config"}


def _syntax_depth(tree: ast.AST) -> int:
    """The deepest chain of syntax nodes (walked without recursion), beyond the limit at most."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_SYNTAX_DEPTH:
            return depth
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _has_lora_call(tree: ast.Module) -> bool:
    """Cheap test with Python's own parser: does any call look like a LoRA site?"""
    names = set(LORA_CALL_NAMES)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "peft":
            names.update(alias.asname for alias in node.names if alias.name == "LoraConfig" and alias.asname)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name in names:
                return True
    return False


def scan(text: str) -> bool:
    """Vet a script with Python's own parser (clear errors, bounded nesting and size) and say whether
    it calls anything LoRA at all; only then is libcst imported and run."""
    if "\x00" in text:
        raise FrontEndError("file contains NUL bytes")
    if len(text) > MAX_SCRIPT_CHARS:
        raise FrontEndError(f"too large to analyse: {len(text):,} characters (the limit for a script is "
                            f"{MAX_SCRIPT_CHARS:,})")
    if _nesting_depth(text) > MAX_NESTING:
        raise FrontEndError(f"brackets nested more than {MAX_NESTING} deep; not parsed")
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise FrontEndError(f"syntax error: {exc.msg}", exc.lineno or 1, (exc.offset or 1)) from None
    except RecursionError:
        raise FrontEndError("expressions nested too deeply for Python's own parser; not analysed") from None
    except (MemoryError, ValueError) as exc:
        raise FrontEndError(f"cannot parse: {type(exc).__name__}") from None
    depth = _syntax_depth(tree)
    if depth > MAX_SYNTAX_DEPTH:
        raise FrontEndError(f"expressions nested {depth} levels deep (the limit is {MAX_SYNTAX_DEPTH}); not analysed")
    if not _has_lora_call(tree):
        return False
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_SYNTAX_NODES:
        raise FrontEndError(f"too large to analyse: {count:,} syntax nodes (the limit is {MAX_SYNTAX_NODES:,})")
    return True
