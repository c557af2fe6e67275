"""Every rule: its docs page has the sections users expect, and its examples behave as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from loralint import rules
from loralint.config import Settings
from loralint.engine import Linter
from loralint.resolve import Resolver

RULES_DIR = Path(rules.__file__).parent
SECTIONS = ["## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety"]


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))


@pytest.mark.parametrize("rule", rules.RULES, ids=lambda r: r.CODE)
def test_rule_has_docs(rule):
    doc = (RULES_DIR / f"{rule.CODE}.md").read_text()
    assert doc.startswith(f"# {rule.CODE} {rule.NAME}\n")
    for section in SECTIONS:
        assert section in doc, f"{rule.CODE}.md lacks {section}"
    assert rule.SEVERITY in ("error", "warning")


def _codes(tmp_path, source: str) -> list[str]:
    path = tmp_path / "example.py"
    path.write_text(source)
    linter = Linter(Settings(root=tmp_path), Resolver(offline=True))
    return [d.code for d in linter.lint_path(path).diagnostics]


EXAMPLES = [(rule, "valid", i, src) for rule in rules.RULES for i, src in enumerate(rule.VALID)] + [
    (rule, "invalid", i, src) for rule in rules.RULES for i, src in enumerate(rule.INVALID)
]


@pytest.mark.parametrize("rule, kind, index, source", EXAMPLES, ids=[f"{r.CODE}-{k}-{i}" for r, k, i, _ in EXAMPLES])
def test_rule_examples(tmp_path, rule, kind, index, source):
    codes = _codes(tmp_path, source)
    if kind == "valid":
        assert rule.CODE not in codes
        # a valid example must be checked, not skipped: no unreadable file, no unresolved model
        assert not {"LL900", "LL901"} & set(codes), codes
    else:
        assert rule.CODE in codes


def test_selectors():
    assert rules.resolve_selector("LL00") == rules.RULES[:5]
    assert rules.resolve_selector("gradient-sink") == [rules.BY_CODE["LL001"]]
    assert rules.resolve_selector("ALL") == rules.RULES
    assert rules.resolve_selector("LL9") == [rules.BY_CODE["LL900"], rules.BY_CODE["LL901"]]
