"""`loralint check` on the example scripts: expected diagnostics, verified fixes, safe writes."""

from __future__ import annotations

import ast
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from loralint.config import Settings
from loralint.engine import Linter
from loralint.resolve import Resolver

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "scripts"

# example -> (codes expected, fix applicability of the first diagnostic or None)
EXPECTED = {
    "peft_trainer_text.py": (["LL001"], "safe"),
    "trl_sft_all_linear.py": (["LL001"], "safe"),
    "unsloth_vision_text.py": (["LL001"], "safe"),
    "constants_kwargs.py": (["LL001"], "safe"),
    "argparse_defaults.py": (["LL001"], "unsafe"),  # the value is also the --lora-target-modules flag
    "layers_to_transform.py": (["LL001"], "safe"),
    "function_parameter.py": (["LL001"], "unsafe"),  # rewriting a parameter changes every caller
    "unknown_modality.py": (["LL002"], "unsafe"),
    "vlm_images_clean.py": ([], None),
    "text_model_clean.py": ([], None),
}


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("LORALINT_CACHE_DIR", str(tmp_path / "cache"))


def linter(tmp_path=None, **kwargs) -> Linter:
    return Linter(Settings(root=tmp_path or REPO), Resolver(offline=True), **kwargs)


def run_cli(*args, cwd=None, env=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "loralint", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_every_example_is_covered():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_diagnostics(name):
    codes, applicability = EXPECTED[name]
    result = linter().lint_path(EXAMPLES / name)
    assert [d.code for d in result.diagnostics] == codes, [d.message for d in result.diagnostics]
    if applicability:
        assert result.diagnostics[0].fix is not None
        assert result.diagnostics[0].fix.applicability == applicability


def _live_modules(lint: Linter, path: Path, text: str):
    _, analyses = lint.lint_text(path, text)
    (analysis,) = analyses
    dead = {a.module.name for a in analysis.dead_modules}
    return {a.module.name: a.params for a in analysis.result.adapted if a.module.name not in dead}, analysis.dead_params


@pytest.mark.parametrize("name", [n for n, (codes, app) in sorted(EXPECTED.items()) if app])
def test_fix_keeps_live_modules_and_converges(name, tmp_path):
    shutil.copytree(EXAMPLES, tmp_path / "ex")
    path = tmp_path / "ex" / name
    before = path.read_text()
    lint = linter(tmp_path, modality="text" if name == "unknown_modality.py" else None)
    live_before, dead_before = _live_modules(lint, path, before)
    assert dead_before > 0

    fixed, remaining = lint.fix_text(path, before, unsafe=True)
    assert fixed != before
    ast.parse(fixed)
    assert not [d for d in remaining if d.code in ("LL001", "LL002")]
    live_after, dead_after = _live_modules(lint, path, fixed)
    assert dead_after == 0
    assert live_after == live_before
    # only the LoRA value changed: every line but the edited ones is byte-identical
    changed = [(a, b) for a, b in zip(before.splitlines(), fixed.splitlines()) if a != b]
    assert len(changed) == 1 and len(before.splitlines()) == len(fixed.splitlines())
    # a second fix changes nothing
    again, _ = lint.fix_text(path, fixed, unsafe=True)
    assert again == fixed


def test_cli_fix_writes_and_second_run_is_clean(tmp_path):
    shutil.copy(EXAMPLES / "peft_trainer_text.py", tmp_path / "train.py")
    first = run_cli("check", "--fix", "train.py", cwd=tmp_path)
    assert first.returncode == 1, first.stdout + first.stderr  # a fix changed the file
    text = (tmp_path / "train.py").read_text()
    assert 'target_modules=r"model\\.language_model\\..*\\.(q_proj|v_proj|down_proj)",' in text
    assert "# attention and MLP projections" in text
    second = run_cli("check", "--fix", "train.py", cwd=tmp_path)
    assert second.returncode == 0, second.stdout
    assert (tmp_path / "train.py").read_text() == text


def test_unsafe_fix_needs_the_flag(tmp_path):
    shutil.copy(EXAMPLES / "unknown_modality.py", tmp_path / "t.py")
    original = (tmp_path / "t.py").read_bytes()
    proc = run_cli("check", "--fix", "t.py", cwd=tmp_path)
    assert proc.returncode == 1 and (tmp_path / "t.py").read_bytes() == original
    proc = run_cli("check", "--fix", "--unsafe-fixes", "t.py", cwd=tmp_path)
    assert (tmp_path / "t.py").read_bytes() != original
    assert "LL002" not in run_cli("check", "t.py", cwd=tmp_path).stdout


def test_fix_keeps_crlf_bom_comments_and_mode(tmp_path):
    text = (EXAMPLES / "peft_trainer_text.py").read_text()
    path = tmp_path / "train.py"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    path.chmod(0o750)
    proc = run_cli("check", "--fix", "train.py", cwd=tmp_path)
    assert proc.returncode == 1
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    body = raw[3:].decode()
    assert "\n" not in body.replace("\r\n", "")  # every newline still CRLF
    assert "# attention and MLP projections\r\n" in body
    assert "model\\.language_model" in body
    assert stat.S_IMODE(path.stat().st_mode) == 0o750
    assert run_cli("check", "train.py", cwd=tmp_path).returncode == 0


def test_diff_prints_and_writes_nothing(tmp_path):
    shutil.copy(EXAMPLES / "trl_sft_all_linear.py", tmp_path / "t.py")
    original = (tmp_path / "t.py").read_bytes()
    proc = run_cli("check", "--diff", "t.py", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.startswith("--- t.py") and "+peft_config = LoraConfig(" in proc.stdout
    assert (tmp_path / "t.py").read_bytes() == original


def test_json_output_contract():
    proc = run_cli("check", "--output-format", "json", str(EXAMPLES / "peft_trainer_text.py"))
    assert proc.returncode == 1
    (diag,) = json.loads(proc.stdout)
    assert set(diag) == {"code", "name", "severity", "message", "file", "line", "column", "end_line", "end_column", "fix"}
    assert (diag["code"], diag["name"], diag["severity"]) == ("LL001", "gradient-sink", "error")
    assert (diag["line"], diag["column"], diag["end_line"]) == (21, 20, 21)
    source_line = (EXAMPLES / "peft_trainer_text.py").read_text().splitlines()[20]
    assert source_line[diag["column"] - 1: diag["end_column"] - 1] == '["q_proj", "v_proj", "down_proj"]'
    assert diag["fix"]["applicability"] == "safe"
    (edit,) = diag["fix"]["edits"]
    assert edit["content"] == 'r"model\\.language_model\\..*\\.(q_proj|v_proj|down_proj)"'
    assert "32 of 116 adapters" in diag["message"] and "`model.visual`" in diag["message"]


def test_github_output_escapes_and_summarises(tmp_path):
    shutil.copy(EXAMPLES / "peft_trainer_text.py", tmp_path / "a,b:c.py")
    proc = run_cli("check", "--output-format", "github", "a,b:c.py", cwd=tmp_path)
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("::error file=a%2Cb%3Ac.py,line=21,col=20,endColumn=53,endLine=21,title=loralint (LL001)::")
    assert "%" not in lines[0].split("::", 2)[2].replace("%25", "")
    assert any(line.startswith("a,b:c.py:21:20: LL001") for line in lines[1:])


def test_full_output_shows_source_and_fix():
    proc = run_cli("check", str(EXAMPLES / "peft_trainer_text.py"))
    assert '21 |     target_modules=["q_proj", "v_proj", "down_proj"],' in proc.stdout
    assert "^" * len('["q_proj", "v_proj", "down_proj"]') + " LL001" in proc.stdout
    assert "safe fix" in proc.stdout and "Found 1 problem." in proc.stdout


def test_select_ignore_and_exit_zero():
    path = str(EXAMPLES / "peft_trainer_text.py")
    assert run_cli("check", "--ignore", "LL001", path).returncode == 0
    assert run_cli("check", "--select", "LL003,LL004", path).returncode == 0
    assert run_cli("check", "--select", "gradient-sink", path).returncode == 1
    assert run_cli("check", "--exit-zero", path).returncode == 0


def test_modality_flag_overrides_evidence():
    path = str(EXAMPLES / "peft_trainer_text.py")
    assert run_cli("check", "--modality", "multimodal", path).returncode == 0
    proc = run_cli("check", "--output-format", "concise", "--modality", "text", str(EXAMPLES / "unknown_modality.py"))
    assert "LL001" in proc.stdout


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


BAD_LINE = 'config = LoraConfig(target_modules=["q_proj", "v_proj", "down_proj"])'
HEADER = ('from peft import LoraConfig\nfrom transformers import Qwen2_5_VLForConditionalGeneration\n'
          'model = Qwen2_5_VLForConditionalGeneration.from_pretrained("Qwen/Qwen2.5-VL-7B-Instruct")\n'
          '# loralint: modality=text\n')


@pytest.mark.parametrize("comment, suppressed", [
    ("  # noqa: LL001", True),
    ("  # noqa", True),
    ("  # noqa: LL003", False),
    ("  # loralint: ignore[LL001]", True),
    ("  # loralint: ignore[gradient-sink]", True),
    ("  # loralint: ignore[LL002]", False),
])
def test_inline_suppression(tmp_path, comment, suppressed):
    path = _write(tmp_path, "t.py", HEADER + BAD_LINE + comment + "\n")
    codes = [d.code for d in linter(tmp_path).lint_path(path).diagnostics]
    assert codes == ([] if suppressed else ["LL001"])


def test_pyproject_settings(tmp_path):
    (tmp_path / "scripts").mkdir()
    _write(tmp_path, "scripts/train.py", HEADER + BAD_LINE + "\n")
    _write(tmp_path, "other.py", HEADER.replace("# loralint: modality=text\n", "") + BAD_LINE + "\n")
    _write(tmp_path, "pyproject.toml", '[tool.loralint]\nper-file-ignores = { "scripts/*" = ["LL001"] }\n')
    proc = run_cli("check", "--output-format", "concise", ".", cwd=tmp_path)
    assert "scripts/train.py" not in proc.stdout and "other.py" in proc.stdout and "LL002" in proc.stdout
    _write(tmp_path, "pyproject.toml", '[tool.loralint]\nmodality = "text"\nignore = ["LL003"]\n')
    proc = run_cli("check", "--output-format", "concise", "other.py", cwd=tmp_path)
    assert "LL001" in proc.stdout
    _write(tmp_path, "pyproject.toml", '[tool.loralint]\nselect = ["LL9"]\n')
    assert run_cli("check", "other.py", cwd=tmp_path).returncode == 0
    _write(tmp_path, "pyproject.toml", '[tool.loralint]\nunknown_key = 1\n')
    bad = run_cli("check", "other.py", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown_key" in bad.stderr and "Traceback" not in bad.stderr


def test_model_aliases_from_pyproject(tmp_path):
    _write(tmp_path, "t.py", HEADER.replace("Qwen/Qwen2.5-VL-7B-Instruct", "/mnt/ckpts/qwen-vl") + BAD_LINE + "\n")
    assert "LL901" in run_cli("check", "--output-format", "concise", "t.py", cwd=tmp_path).stdout
    _write(tmp_path, "pyproject.toml", '[tool.loralint]\nmodels = { "/mnt/ckpts/qwen-vl" = "Qwen/Qwen2.5-VL-7B-Instruct" }\n')
    assert "LL001" in run_cli("check", "--output-format", "concise", "t.py", cwd=tmp_path).stdout


def test_directories_skip_git_ignored_files(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    _write(tmp_path, ".gitignore", "ignored/\n")
    (tmp_path / "ignored").mkdir()
    _write(tmp_path, "ignored/t.py", HEADER + BAD_LINE + "\n")
    _write(tmp_path, "kept.py", HEADER + BAD_LINE + "\n")
    proc = run_cli("check", "--output-format", "concise", ".", cwd=tmp_path)
    assert "kept.py" in proc.stdout and "ignored/t.py" not in proc.stdout


def test_prefilter_skips_files_without_lora(tmp_path, monkeypatch):
    from loralint.frontends import pyvalues as front

    def boom(*args, **kwargs):
        raise AssertionError("parsed a file that never mentions LoRA")

    monkeypatch.setattr(front, "PythonFile", boom)
    path = _write(tmp_path, "plain.py", "import os\nprint(os.getcwd())\n")
    assert linter(tmp_path).lint_path(path).diagnostics == []


def test_unresolved_and_unknown_values_are_ll901_with_reason(tmp_path):
    path = _write(tmp_path, "t.py",
                  "from peft import LoraConfig\nfrom transformers import AutoModelForCausalLM\n"
                  "m = AutoModelForCausalLM.from_pretrained(load_name())\n"
                  "c = LoraConfig(target_modules=['q_proj'])\n")
    (diag,) = linter(tmp_path).lint_path(path).diagnostics
    assert diag.code == "LL901" and "not statically known" in diag.message


def test_kimi_k25_gets_no_fix_and_names_the_language_modules():
    """Every q_proj/v_proj of Kimi-K2.5 is in the vision tower; its language model uses MLA names."""
    pytest.importorskip("torch")
    from peft_oracle import build, default_config

    from loralint.fixes import plan_fix
    from loralint.matching import LoraSpec
    from loralint.analysis import analyze
    from loralint.site import Site

    _, inventory = build(default_config("kimi_k25"))

    class FixedResolver:
        def inventory(self, ref, cls, rel):
            return None, inventory

    site = Site(file="t.py", line=1, framework="peft", model_ref="kimi", lora=LoraSpec(target_modules=["q_proj", "v_proj"]))
    analysis = analyze(site, FixedResolver())
    assert analysis.dead_params == analysis.total_params > 0
    plan, reason = plan_fix(analysis)
    assert plan is None
    assert "every selected module is dead" in reason
    assert "`kv_b_proj`" in reason and "`o_proj`" in reason


@pytest.mark.parametrize("selector, closest", [("foo", "rules are LL001"), ("LL0001", "'LL001'"),
                                               ("gradient_sink", "'gradient-sink'")])
def test_unknown_rule_selectors_are_usage_errors_naming_the_closest(tmp_path, selector, closest):
    path = _write(tmp_path, "t.py", HEADER + BAD_LINE + "\n")
    for flag in ("--select", "--ignore"):
        proc = run_cli("check", flag, selector, str(path), cwd=tmp_path)
        assert proc.returncode == 2 and "unknown rule selector" in proc.stderr and closest in proc.stderr
    (tmp_path / "pyproject.toml").write_text(f'[tool.loralint]\nignore = ["{selector}"]\n')
    proc = run_cli("check", str(path), cwd=tmp_path)
    assert proc.returncode == 2 and "pyproject.toml" in proc.stderr


def test_diff_shows_what_it_cannot_fix_and_fails(tmp_path):
    path = _write(tmp_path, "t.py", HEADER.replace("# loralint: modality=text\n", "") + BAD_LINE + "\n")
    proc = run_cli("check", "--diff", str(path), cwd=tmp_path)
    assert proc.returncode == 1 and "LL002" in proc.stdout and "--unsafe-fixes" in proc.stdout
    assert not proc.stdout.startswith("---")  # nothing it may apply: no diff, the problem is still shown


def test_summary_says_found_fixed_and_remaining(tmp_path):
    path = _write(tmp_path, "t.py", HEADER + BAD_LINE + "\n")
    proc = run_cli("check", "--fix", "--output-format", "concise", str(path), cwd=tmp_path)
    assert "Found 1 problem (1 fixed, 0 remaining)." in proc.stdout and proc.returncode == 1
    unknown = _write(tmp_path, "u.py", HEADER.replace("# loralint: modality=text\n", "") + BAD_LINE + "\n")
    hook = run_cli("check", "--output-format", "concise", str(unknown), cwd=tmp_path, env={"PRE_COMMIT": "1"})
    assert "`unsafe-fixes = true` in [tool.loralint]" in hook.stdout and "--unsafe-fixes" not in hook.stdout
    (tmp_path / "pyproject.toml").write_text("[tool.loralint]\nunsafe-fixes = true\n")
    fixed = run_cli("check", "--fix", "--output-format", "concise", str(unknown), cwd=tmp_path)
    assert "1 fixed, 0 remaining" in fixed.stdout
