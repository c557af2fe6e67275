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


def _diagnostics(tmp_path, source: str):
    path = tmp_path / "example.py"
    path.write_text(source)
    return Linter(Settings(root=tmp_path), Resolver(offline=True)).lint_path(path).diagnostics


LLAMA = 'model = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-3.1-8B-Instruct")\n'


def test_dead_target_names_the_models_own_names(tmp_path):
    (diag,) = [d for d in _diagnostics(tmp_path, LLAMA + 'LoraConfig(target_modules=["c_attn", "q_prj", "v_proj"])\n')
               if d.code == "LL003"]
    assert "`q_prj`: the model has `q_proj`" in diag.message
    # same role, different architecture's name: GPT-2's fused attention -> Llama's projections
    assert "`c_attn`: the model has" in diag.message and "`k_proj`" in diag.message


def test_peft_refusal_names_the_models_own_names(tmp_path):
    diags = _diagnostics(tmp_path, LLAMA + 'LoraConfig(target_modules=["q_prj", "v_prj"])\n')
    (diag,) = [d for d in diags if d.code == "LL004"]
    assert "get_peft_model would raise ValueError: no module matches `target_modules`" in diag.message
    assert "`q_prj`: the model has `q_proj`" in diag.message and "`v_prj`: the model has `v_proj`" in diag.message


LLAVA = 'model = LlavaForConditionalGeneration.from_pretrained("llava-hf/llava-1.5-7b-hf")\n'


def test_container_in_exclude_list_is_flagged_and_the_suggested_pattern_works(tmp_path):
    import re

    from loralint.matching import LoraSpec, match
    from loralint.resolve import Resolver as R

    diags = _diagnostics(tmp_path, LLAVA + 'LoraConfig(target_modules="all-linear", exclude_modules=["vision_tower", "lm_head"])\n')
    (idle,) = [d for d in diags if d.code == "LL003"]
    assert "`vision_tower` in exclude_modules excludes none" in idle.message
    # lm_head is a leaf that all-linear never targets: excluding it is redundant, not a mistake
    assert "lm_head" not in idle.message
    pattern = re.search(r'exclude_modules=r"([^"]+)"', idle.message).group(1)
    _, inventory = R(offline=True).inventory("llava-hf/llava-1.5-7b-hf")
    result = match(inventory, LoraSpec(target_modules="all-linear", exclude_modules=pattern))
    assert result.adapted and not any(a.module.name.startswith("model.vision_tower.") for a in result.adapted)


def test_exclude_pattern_that_works_is_not_flagged(tmp_path):
    diags = _diagnostics(tmp_path, LLAVA + 'LoraConfig(target_modules="all-linear", exclude_modules=r".*\\.vision_tower\\..*")\n')
    assert "LL003" not in [d.code for d in diags]


def test_gradient_sink_says_why_a_published_llm_only_exclusion_failed(tmp_path):
    # TRL's Gemma 3 example's "LLM-only" mode: container names in the list form of exclude_modules
    source = ('model = AutoModelForImageTextToText.from_pretrained("google/gemma-3-4b-it")\n'
              'LoraConfig(target_modules="all-linear", exclude_modules=["vision_tower", "multi_modal_projector"])'
              '  # loralint: modality=text\n')
    by_code = {d.code: d for d in _diagnostics(tmp_path, source)}
    assert "exclude_modules `vision_tower` excludes none of them" in by_code["LL001"].message
    # Gemma 3's projector holds no Linear layer, so excluding it is redundant, not a failed exclusion
    assert "multi_modal_projector" not in by_code["LL003"].message
