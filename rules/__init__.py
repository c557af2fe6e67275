"""loralint's rules, one module each (`llNNN_name.py`), with their docs (`LLNNN.md`) beside them.

A rule module is registered by being here: the package lists its `ll*` modules once, in code order.
"""

import importlib
import pkgutil

RULES = [importlib.import_module(f"{__name__}.{info.name}")
         for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name) if info.name.startswith("ll")]
BY_CODE = {rule.CODE: rule for rule in RULES}
BY_NAME = {rule.NAME: rule for rule in RULES}


def resolve_selector(selector: str) -> list:
    """Rules named by a code (`LL001`), a prefix (`LL00`, `LL`, `ALL`) or a name (`gradient-sink`)."""
    selector = selector.strip()
    if selector.upper() == "ALL":
        return list(RULES)
    if selector in BY_NAME:
        return [BY_NAME[selector]]
    return [rule for rule in RULES if rule.CODE.startswith(selector.upper())]
