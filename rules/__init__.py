"""loralint's rules, one module each, with their docs (`LLxxx.md`) beside them."""

from . import (
    ll001_gradient_sink,
    ll002_possible_gradient_sink,
    ll003_target_matches_nothing,
    ll004_peft_would_raise,
    ll005_untrained_adapter,
    ll900_unreadable_file,
    ll901_unresolved_model,
)

RULES = [
    ll001_gradient_sink,
    ll002_possible_gradient_sink,
    ll003_target_matches_nothing,
    ll004_peft_would_raise,
    ll005_untrained_adapter,
    ll900_unreadable_file,
    ll901_unresolved_model,
]
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
