"""Trainer configs (Axolotl, LLaMA-Factory, TRL YAML, PEFT adapter_config.json): each trainer's
semantics, fixes that change one value and nothing else, and hostile YAML."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from loralint.config import Settings
from loralint.engine import Linter
from loralint.resolve import Resolver

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "examples" / "configs"

# file -> (codes, applicability of the first fix or None)
EXPECTED = {
    "axolotl/qwen25vl_text_linear.yaml": (["LL004"], None),  # `lora_target_linear` adds "0"/"2": blocks get matched
    "axolotl/gemma3_text_list.yaml": (["LL001"], "unsafe"),  # the list holds a comment the fix would drop
    "axolotl/qwen25vl_images.yaml": ([], None),
    "llamafactory/qwen25vl_text_unfrozen.yaml": (["LL001"], "safe"),
    "llamafactory/qwen25vl_text_default.yaml": ([], None),  # LLaMA-Factory freezes the tower itself
    "llamafactory/qwen25vl_images.yaml": ([], None),
    "trl/gemma3_text.yaml": (["LL001"], "safe"),
    "trl/single_target.yaml": (["LL004"], None),  # TRL turns ["q_proj"] into the regex "q_proj"
    "peft/qwen-vl-adapter/adapter_config.json": (["LL002"], "unsafe"),
}


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))


def linter(root: Path, **kwargs) -> Linter:
    return Linter(Settings(root=root), Resolver(offline=True), **kwargs)


def test_every_example_is_covered():
    found = sorted(p.relative_to(CONFIGS).as_posix() for p in CONFIGS.rglob("*")
                   if p.suffix in (".yaml", ".json") and p.name != "dataset_info.json")
    assert found == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_diagnostics(name):
    codes, applicability = EXPECTED[name]
    result = linter(CONFIGS).lint_path(CONFIGS / name)
    assert [d.code for d in result.diagnostics] == codes, [d.message for d in result.diagnostics]
    if applicability:
        assert result.diagnostics[0].fix.applicability == applicability
    elif codes:
        assert result.diagnostics[0].fix is None


def _comments(text: str) -> list[str]:
    return [line[line.index("#"):] for line in text.splitlines() if "#" in line]


@pytest.mark.parametrize("name", [n for n, (_, app) in sorted(EXPECTED.items()) if app])
def test_fix_changes_one_value_and_keeps_the_rest(name, tmp_path):
    shutil.copytree(CONFIGS, tmp_path / "configs")
    path = tmp_path / "configs" / name
    before = path.read_text()
    lint = linter(tmp_path / "configs", modality="text")
    (analysis_before,) = lint.lint_text(path, before)[1]
    dead = {a.module.name for a in analysis_before.dead_modules}
    live_before = {a.module.name: a.params for a in analysis_before.result.adapted if a.module.name not in dead}

    fixed, remaining = lint.fix_text(path, before, unsafe=True)
    assert fixed != before
    assert not [d for d in remaining if d.code in ("LL001", "LL002")]
    (analysis_after,) = lint.lint_text(path, fixed)[1]
    assert analysis_after.dead_params == 0
    assert {a.module.name: a.params for a in analysis_after.result.adapted} == live_before

    old, new = (json.loads(t) if path.suffix == ".json" else yaml.safe_load(t) for t in (before, fixed))
    changed = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
    assert changed <= {"lora_target_modules", "target_modules", "lora_target_linear", "freeze_vision_tower",
                       "freeze_multi_modal_projector", "lora_exclude_modules", "exclude_modules"}
    assert list(new)[: len(old)] == [k for k in old if k in new]  # key order kept
    # every comment outside the replaced span is still there, byte for byte
    kept = _comments(fixed)
    for comment in _comments(before):
        if comment != "# attention":  # the one comment inside gemma3_text_list's replaced list
            assert comment in kept
    again, _ = lint.fix_text(path, fixed, unsafe=True)
    assert again == fixed


def test_yaml_fix_keeps_crlf_and_bom(tmp_path):
    source = (CONFIGS / "trl" / "gemma3_text.yaml").read_text()
    path = tmp_path / "gemma3_text.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + source.replace("\n", "\r\n").encode())
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "loralint", "check", "--fix", path.name], cwd=tmp_path,
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    body = raw[3:].decode()
    assert "\n" not in body.replace("\r\n", "")
    assert "# trl sft --config gemma3_text.yaml\r\n" in body
    assert yaml.safe_load(body)["lora_target_modules"].startswith("model\\.language_model")


def test_axolotl_linear_on_a_model_without_numbered_linears_gets_a_two_key_fix(tmp_path):
    path = tmp_path / "axolotl.yaml"
    path.write_text("base_model: google/gemma-3-4b-it\nadapter: lora\nlora_r: 8\n"
                    "lora_target_linear: true\ndatasets:\n  - path: tatsu-lab/alpaca\n    type: alpaca\n")
    lint = linter(tmp_path)
    (diag,) = lint.lint_path(path).diagnostics
    assert diag.code == "LL001" and diag.fix.applicability == "safe"
    fixed, remaining = lint.fix_text(path, path.read_text(), unsafe=False)
    data = yaml.safe_load(fixed)
    assert data["lora_target_linear"] is False
    assert data["lora_target_modules"].startswith("model\\.language_model")
    assert remaining == []


def test_llamafactory_non_composite_model_gets_no_fix(tmp_path):
    # Phi-4-multimodal's towers are not in LLaMA-Factory's composite registry: no freeze flag helps
    from loralint.trainer_data import LLAMAFACTORY_COMPOSITE_MODELS

    assert "phi4_multimodal" not in LLAMAFACTORY_COMPOSITE_MODELS
    assert {"qwen2_5_vl", "gemma3", "mllama", "llava"} <= set(LLAMAFACTORY_COMPOSITE_MODELS)


def test_trainer_detection_skips_foreign_yaml(tmp_path):
    for name, text in {
        "ci.yaml": "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n",
        "compose.yml": "services:\n  web:\n    image: nginx\n",
        "k8s.yaml": "apiVersion: v1\nkind: Pod\n",
    }.items():
        (tmp_path / name).write_text(text)
        assert linter(tmp_path).lint_path(tmp_path / name).diagnostics == []


def test_trl_without_use_peft_is_not_a_lora_site(tmp_path):
    path = tmp_path / "sft.yaml"
    path.write_text("model_name_or_path: google/gemma-3-4b-it\ndataset_name: trl-lib/Capybara\nlora_target_modules: all-linear\n")
    assert linter(tmp_path).lint_path(path).diagnostics == []


def test_report_accepts_trainer_configs(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "loralint", "report", "--format", "json",
                           str(CONFIGS / "llamafactory" / "qwen25vl_text_unfrozen.yaml"),
                           str(CONFIGS / "trl" / "gemma3_text.yaml")], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    sites = json.loads(proc.stdout)["sites"]
    assert [s["framework"] for s in sites] == ["llamafactory", "trl"]
    assert all(s["dead_params"] > 0 for s in sites)
    assert sites[0]["modality"]["value"] == "text"


# -- hostile YAML and JSON ----------------------------------------------------------------------
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi")) + "base_model: x\nadapter: lora\n"

HOSTILE = {
    "alias-bomb": BOMB,
    "recursive-alias": "base_model: &a [*a]\nadapter: lora\n",
    "deep-flow": "base_model: x\nadapter: lora\nlora_target_modules: " + "[" * 30000 + "]" * 30000 + "\n",
    "python-tag": "base_model: !!python/object/apply:os.system ['touch {marker}']\nadapter: lora\n",
    "custom-tag": "base_model: !Ref foo\nadapter: lora\n",
    "duplicate-keys": "base_model: a\nadapter: lora\nbase_model: b\n",
    "huge-int": "base_model: x\nadapter: lora\nlora_r: 1" + "0" * 5000 + "\n",
    "bad-syntax": "base_model: x\nadapter: lora\nlora_target_modules: [q_proj\n",
    "two-documents": "base_model: x\nadapter: lora\n---\nother: 1\n",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_yaml(tmp_path, case):
    marker = tmp_path / "pwned"
    path = tmp_path / "config.yaml"
    original = HOSTILE[case].replace("{marker}", str(marker)).encode()
    path.write_bytes(original)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "loralint", "check", "--fix", "--output-format", "json", path.name],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert "Traceback" not in proc.stderr and proc.returncode == 1, proc.stderr
    (diag,) = json.loads(proc.stdout)
    assert diag["code"] == "LL900" and diag["line"] >= 1
    assert not marker.exists()
    assert path.read_bytes() == original


@pytest.mark.parametrize("text", [
    '{"model_name_or_path": "x", "use_peft": true, "lora_r": NaN}',
    '{"model_name_or_path": "x", "use_peft": true, "lora_r": 1' + "0" * 5000 + "}",
    '{"model_name_or_path": "x", "use_peft": true,',
], ids=["nan", "huge-int", "truncated"])
def test_hostile_json_trainer_config(tmp_path, text):
    path = tmp_path / "train.json"
    path.write_text(text)
    (diag,) = linter(tmp_path).lint_path(path).diagnostics
    assert diag.code == "LL900"


def test_foreign_broken_yaml_and_json_are_skipped_but_broken_configs_are_not(tmp_path):
    files = {
        "helm.yaml": "apiVersion: v1\nkind: {{ .Values.kind }}\nmetadata: [\n",
        "tsconfig.json": '{\n  // comment\n  "compilerOptions": {}\n}\n',
        "data.json": "[" * 5000 + "]" * 5000,
        "broken.yaml": "base_model: x\nadapter: lora\nlora_target_modules: [q\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    lint = linter(tmp_path)
    codes = {name: [d.code for d in lint.lint_path(tmp_path / name).diagnostics] for name in files}
    assert codes == {"helm.yaml": [], "tsconfig.json": [], "data.json": [], "broken.yaml": ["LL900"]}


@pytest.mark.parametrize("depth", [65, 30000])
def test_yaml_depth_limit_gives_its_own_reason(tmp_path, depth):
    path = tmp_path / "deep.yaml"
    path.write_text("base_model: x\nadapter: lora\nlora_target_modules: " + "[" * depth + "]" * depth + "\n")
    (diag,) = linter(tmp_path).lint_path(path).diagnostics
    assert diag.code == "LL900" and "nested more than 64 levels deep" in diag.message
    assert diag.span.line == 3


def test_yaml_depth_within_the_limit_is_read(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("base_model: x\nadapter: lora\nextra: " + "[" * 60 + "]" * 60 + "\n")
    assert [d.code for d in linter(tmp_path).lint_path(path).diagnostics] == ["LL901"]


@pytest.mark.parametrize("comment, silenced", [
    ("  # loralint: ignore[LL001]", True),
    ("  # loralint: ignore[gradient-sink]", True),
    ("  # loralint: ignore[LL002]", False),
    ("  # noqa: LL001", False),  # ruff's noqa is for Python only
])
def test_yaml_ignore_comment_on_the_reported_line(tmp_path, comment, silenced):
    source = (REPO / "examples/configs/axolotl/gemma3_text_list.yaml").read_text()
    (tmp_path / "data").mkdir()
    shutil.copy(REPO / "examples/configs/axolotl/data/chat.jsonl", tmp_path / "data")
    lines = source.split("\n")
    assert lines[3] == "lora_target_modules:"
    lines[3] += comment
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines))
    codes = [d.code for d in linter(tmp_path).lint_path(path).diagnostics]
    assert codes == ([] if silenced else ["LL001"])
