"""loralint's rules, one module each (`llNNN_name.py`), with their docs (`LLNNN.md`) beside them.

A rule module is registered by being here: the package lists its `ll*` modules once, in code order.
"""

import importlib
import pkgutil

RULES = [importlib.import_module(f"{__name__}.{info.name}")
         for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name) if info.name.startswith("ll")]
BY_CODE = {rule.CODE: rule for rule in RULES}
BY_NAME = {rule.NAME: rule for rule in RULES}


class UnknownSelector(ValueError):
    """A selector that names no rule; the message names the closest valid one."""


def resolve_selector(selector: str) -> list:
    """Rules named by a code (`LL001`), a code prefix (`LL00`, `LL`, `ALL`) or a name (`gradient-sink`).
    Raises UnknownSelector for anything else (`LL0001`, `foo`, `gradient_sink`)."""
    selector = selector.strip()
    if selector.upper() == "ALL":
        return list(RULES)
    if selector in BY_NAME:
        return [BY_NAME[selector]]
    if selector.upper().startswith("LL"):
        found = [rule for rule in RULES if rule.CODE.startswith(selector.upper())]
        if found:
            return found
    raise UnknownSelector(f"unknown rule selector {selector!r}{_closest(selector)}")


def _closest(selector: str) -> str:
    import difflib

    names = [r.CODE for r in RULES] + [r.NAME for r in RULES]
    candidates = difflib.get_close_matches(selector.replace("_", "-").lower(), [n.lower() for n in names], n=1, cutoff=0.5)
    if not candidates:
        return "; rules are LL001-LL005, LL900, LL901 (or their names, or a prefix such as LL00)"
    match = next(n for n in names if n.lower() == candidates[0])
    return f"; did you mean {match!r}?"
