"""Bad and hostile scripts: LL900 or a clean result, never a traceback, never executed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

LORA = 'from peft import LoraConfig\nconfig = LoraConfig(target_modules=["q_proj"])\n'


def check(tmp_path, name: str, data: bytes, *extra):
    path = tmp_path / name
    path.write_bytes(data)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "loralint", "check", "--output-format", "json", *extra, name],
                          cwd=tmp_path, capture_output=True, env=env, timeout=120)
    assert "Traceback" not in proc.stderr.decode(errors="replace"), proc.stderr.decode(errors="replace")
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout or b"[]")


@pytest.mark.parametrize("name, data, where", [
    ("syntax.py", LORA.encode() + b"config = LoraConfig(target_modules=[\n", (3, None)),
    ("latin1.py", LORA.encode() + b"# caf\xe9\n", (3, None)),
    ("nul.py", LORA.encode() + b"\x00\n", None),
    ("nested.py", b"from peft import LoraConfig\nx = " + b"(" * 3000 + b"1" + b")" * 3000 + b"\n", None),
    ("deep_list.py", b"from peft import LoraConfig\nx = " + b"[" * 150 + b"]" * 150 + b"\n", None),
], ids=["syntax-error", "invalid-utf8", "nul-byte", "3000-parens", "150-brackets"])
def test_unreadable_scripts_are_ll900(tmp_path, name, data, where):
    code, diagnostics = check(tmp_path, name, data)
    assert code == 1
    (diag,) = diagnostics
    assert diag["code"] == "LL900" and diag["file"].endswith(name)
    if where:
        assert diag["line"] == where[0]


def test_nothing_in_a_script_is_executed(tmp_path):
    marker = tmp_path / "pwned"
    source = (
        "import os\n"
        f"os.system('touch {marker}')\n"
        f"open({str(marker)!r}, 'w').write('x')\n"
        "from peft import LoraConfig\n"
        "TARGETS = __import__('os').system('touch " + str(marker) + "')\n"
        "config = LoraConfig(target_modules=TARGETS)\n"
    )
    code, diagnostics = check(tmp_path, "evil.py", source.encode())
    assert not marker.exists()
    assert [d["code"] for d in diagnostics] in ([], ["LL901"])


def test_a_good_file_beside_a_bad_one_is_still_linted(tmp_path):
    (tmp_path / "bad.py").write_bytes(b"from peft import LoraConfig\n\x00")
    (tmp_path / "good.py").write_text(
        "from peft import LoraConfig\nfrom transformers import AutoModelForCausalLM\n"
        "m = AutoModelForCausalLM.from_pretrained('meta-llama/Llama-3.1-8B-Instruct')\n"
        "c = LoraConfig(target_modules=['q_proj', 'c_attn'])\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "loralint", "check", "--output-format", "json", "."],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    codes = sorted((d["file"].rsplit("/", 1)[-1], d["code"]) for d in json.loads(proc.stdout))
    assert codes == [("bad.py", "LL900"), ("good.py", "LL003")]


@pytest.mark.parametrize("name, text", [
    ("adapter_config.json", '{"peft_type": "LORA", "r": NaN, "target_modules": ["q_proj"]}'),
    ("adapter_config.json", '{"peft_type": "LORA", "r": 1' + "0" * 5000 + ', "target_modules": ["q_proj"]}'),
    ("adapter_config.json", "[" * 100000 + "]" * 100000),
    ("adapter_config.json", '{"peft_type": "LORA", "target_modules": ["q_proj"'),
], ids=["nan", "5000-digit-int", "100000-deep", "truncated"])
def test_bad_adapter_configs(tmp_path, name, text):
    code, diagnostics = check(tmp_path, name, text.encode())
    assert code == 1 and [d["code"] for d in diagnostics] == ["LL900"]


def test_fix_never_touches_an_unreadable_file(tmp_path):
    data = LORA.encode() + b"config = LoraConfig(target_modules=[\n"
    check(tmp_path, "t.py", data, "--fix")
    assert (tmp_path / "t.py").read_bytes() == data


WRONG_TYPES = [
    ("types.py", 'from peft import LoraConfig\nfrom transformers import AutoModelForCausalLM\n'
                 'm = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2.5-7B-Instruct")\n'
                 'c = LoraConfig(target_modules=["q_proj"], layers_pattern=7, layers_to_transform=["x"], modules_to_save=5)\n'),
    ("redos.py", 'from peft import LoraConfig\nfrom transformers import AutoModelForCausalLM\n'
                 'm = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2.5-7B-Instruct")\n'
                 'c = LoraConfig(target_modules="(m+)+x")\n'),
    ("bad_regex.py", 'from peft import LoraConfig\nfrom transformers import AutoModelForCausalLM\n'
                     'm = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2.5-7B-Instruct")\n'
                     'c = LoraConfig(target_modules=["q_proj"], modules_to_save=["(("], rank_pattern={"[": 2})\n'),
    ("axolotl.yaml", "base_model: Qwen/Qwen2.5-7B-Instruct\nadapter: lora\nlora_target_modules: 5\nlora_r: [1]\n"),
    ("trl.yaml", "model_name_or_path: 5\nuse_peft: true\nlora_target_modules: {a: 1}\n"),
    ("lf.yaml", "model_name_or_path: Qwen/Qwen2.5-7B-Instruct\nfinetuning_type: lora\nlora_target: {a: 1}\nlora_rank: x\n"),
    ("adapter_config.json", '{"peft_type": "LORA", "base_model_name_or_path": ["x"], "target_modules": {"a": 1}, "r": "8"}'),
]


@pytest.mark.parametrize("name, text", WRONG_TYPES, ids=[n for n, _ in WRONG_TYPES])
def test_wrong_value_types_are_reported_not_crashed_on(tmp_path, name, text):
    code, diagnostics = check(tmp_path, name, text.encode())
    assert code == 1 and diagnostics
    assert all(d["code"] in ("LL004", "LL900", "LL901") for d in diagnostics)
    assert not any("internal error" in d["message"] for d in diagnostics), diagnostics


def test_huge_script_is_refused_before_libcst(tmp_path):
    # libcst needs ~25 s on this 800 KB file; the syntax-node limit refuses it after Python's own parse
    text = "from peft import LoraConfig\nx = LoraConfig(target_modules=[" + ",".join(['"q"'] * 200_000) + "])\n"
    code, diagnostics = check(tmp_path, "big.py", text.encode())
    assert [d["code"] for d in diagnostics] == ["LL900"] and "too large to analyse" in diagnostics[0]["message"]


def test_scripts_without_a_lora_call_are_not_parsed_by_libcst(tmp_path, monkeypatch):
    from loralint.frontends import pyvalues as front

    calls = []
    monkeypatch.setattr(front.cst, "parse_module", lambda *a, **k: calls.append(a) or (_ for _ in ()).throw(AssertionError))
    path = tmp_path / "notes.py"
    path.write_text('LORA_NOTES = "we tried lora_r=16 last week"\n')
    from loralint.config import Settings
    from loralint.engine import Linter
    from loralint.resolve import Resolver

    assert Linter(Settings(root=tmp_path), Resolver(offline=True)).lint_path(path).diagnostics == []
    assert calls == []
