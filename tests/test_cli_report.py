"""`loralint report` and `loralint inventory` as users run them: real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
QWEN_VL = "Qwen/Qwen2.5-VL-7B-Instruct"

# Makes `import torch` / `import transformers` fail, as on a machine without them.
BLOCK_HEAVY_IMPORTS = textwrap.dedent(
    """
    import sys
    class _Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "transformers"):
                raise ImportError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, _Block())
    """
)


def run(args, *, env_extra=None, cwd=None, prelude="", check_modules=False):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env["HF_HUB_OFFLINE"] = "1"
    env.update(env_extra or {})
    code = prelude + textwrap.dedent(
        f"""
        import sys
        from loralint.cli import main
        code = main({args!r})
        if {check_modules!r}:
            heavy = sorted(m for m in ("torch", "transformers", "peft") if m in sys.modules)
            print("HEAVY=" + ",".join(heavy), file=sys.stderr)
        sys.exit(code)
        """
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


@pytest.fixture
def cache_env(tmp_path):
    return {"LORALINT_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_CACHE": str(tmp_path / "hf")}


def test_quick_question_table(cache_env):
    proc = run(["report", "--model", QWEN_VL, "--target-modules", "q_proj,v_proj,down_proj", "-r", "16"], env_extra=cache_env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "Qwen2_5_VLForConditionalGeneration" in lines[0]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows["language"][-1] == "live"
    assert rows["vision"][-1] == "dead"
    assert rows["total"][-2] == "dead" or rows["total"][-1] == "dead"


def test_json_contract_and_sums(cache_env):
    proc = run(["report", "--model", QWEN_VL, "--target-modules", "all-linear", "-r", "8", "--format", "json"], env_extra=cache_env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["version"] == 1
    (site,) = report["sites"]
    assert set(site) >= {"file", "line", "framework", "model", "modality", "lora", "error", "components",
                         "modules", "total_params", "dead_params"}
    assert site["framework"] == "cli" and site["error"] is None
    assert site["model"] == {**site["model"], "ref": QWEN_VL, "model_type": "qwen2_5_vl",
                             "model_class": "Qwen2_5_VLForConditionalGeneration", "source": "zoo"}
    assert site["total_params"] == sum(m["params"] for m in site["modules"])
    assert site["dead_params"] == sum(m["params"] for m in site["modules"] if m["text_only_dead"])
    for comp, entry in site["components"].items():
        mods = [m for m in site["modules"] if m["component"] == comp]
        assert entry == {"modules": len(mods), "params": sum(m["params"] for m in mods)}
    assert all(m["text_only_dead"] == (m["component"] in ("vision", "projector", "audio")) for m in site["modules"])
    # all-linear never takes the output head
    assert "lm_head" not in {m["name"] for m in site["modules"]}
    assert 0 < site["dead_params"] < site["total_params"]


def test_warm_report_imports_neither_torch_nor_transformers(cache_env):
    proc = run(["report", "--model", QWEN_VL, "--target-modules", "q_proj,v_proj", "--format", "json"],
               env_extra=cache_env, check_modules=True)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY=\n" in proc.stderr + "\n", proc.stderr


def test_bundled_model_works_without_torch_installed(cache_env):
    proc = run(["report", "--model", "google/gemma-3-4b-it", "--target-modules", "q_proj,v_proj"],
               env_extra=cache_env, prelude=BLOCK_HEAVY_IMPORTS)
    assert proc.returncode == 0, proc.stderr
    assert "vision" in proc.stdout and "language" in proc.stdout


def test_unbundled_model_without_torch_says_what_to_install(cache_env, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps({"model_type": "llama", "num_hidden_layers": 2}))
    proc = run(["report", "--model", str(tmp_path / "m"), "--target-modules", "q_proj"],
               env_extra=cache_env, prelude=BLOCK_HEAVY_IMPORTS)
    assert proc.returncode == 1
    # the way out is in the report's error row, once
    assert proc.stdout.count("loralint[torch]") == 1 and "loralint[torch]" not in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow  # builds a model on the meta device
def test_cold_build_is_cached_then_warm(cache_env, tmp_path):
    (tmp_path / "m").mkdir()
    config = {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128,
              "num_attention_heads": 4, "vocab_size": 100}
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    args = ["report", "--model", str(tmp_path / "m"), "--target-modules", "q_proj,v_proj", "--format", "json"]
    cold = run(args, env_extra=cache_env)
    assert cold.returncode == 0, cold.stderr
    assert json.loads(cold.stdout)["sites"][0]["model"]["inventory"] == "built"
    cached = list(Path(cache_env["LORALINT_CACHE_DIR"]).glob("inventories/*.json"))
    assert len(cached) == 1
    warm = run(args, env_extra=cache_env, check_modules=True)
    assert warm.returncode == 0, warm.stderr
    assert json.loads(warm.stdout)["sites"][0]["model"]["inventory"] == "cache"
    assert "HEAVY=\n" in warm.stderr + "\n"
    site = json.loads(warm.stdout)["sites"][0]
    assert site["total_params"] == 2 * 2 * 8 * (64 + 64)  # 2 layers x (q, v) x r*(in+out)


@pytest.mark.slow  # builds a model on the meta device
def test_inventory_file_lets_ci_lint_a_private_model_without_torch(cache_env, tmp_path):
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "config.json").write_text(json.dumps(
        {"model_type": "qwen2", "num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128,
         "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100}))
    out = tmp_path / "private.inventory.json"
    made = run(["inventory", str(tmp_path / "private"), "-o", str(out)], env_extra=cache_env)
    assert made.returncode == 0, made.stderr
    proc = run(["report", "--model", str(out), "--target-modules", "all-linear", "--format", "json"],
               env_extra={**cache_env, "LORALINT_CACHE_DIR": str(tmp_path / "empty")}, prelude=BLOCK_HEAVY_IMPORTS)
    assert proc.returncode == 0, proc.stderr
    site = json.loads(proc.stdout)["sites"][0]
    assert site["model"]["source"] == "inventory-file"
    assert len(site["modules"]) == 2 * 7


def _adapter(dirpath: Path, **fields) -> Path:
    dirpath.mkdir(parents=True, exist_ok=True)
    data = {"peft_type": "LORA", "r": 8, "target_modules": ["q_proj", "v_proj"], **fields}
    (dirpath / "adapter_config.json").write_text(json.dumps(data, indent=2))
    return dirpath / "adapter_config.json"


def test_adapter_config_and_directory_of_them(cache_env, tmp_path):
    # Qwen2.5-VL's vision tower fuses qkv, so only down_proj reaches it
    _adapter(tmp_path / "runs" / "a", base_model_name_or_path=QWEN_VL, target_modules=["q_proj", "v_proj", "down_proj"])
    _adapter(tmp_path / "runs" / "b", base_model_name_or_path="google/gemma-3-4b-it", target_modules="all-linear")
    proc = run(["report", str(tmp_path / "runs"), "--format", "json"], env_extra=cache_env)
    assert proc.returncode == 0, proc.stderr
    sites = json.loads(proc.stdout)["sites"]
    assert [s["framework"] for s in sites] == ["peft", "peft"]
    assert sites[0]["line"] == 4  # the target_modules key
    assert sites[0]["modality"]["value"] == "unknown"
    assert {s["model"]["model_type"] for s in sites} == {"qwen2_5_vl", "gemma3"}
    assert all(s["dead_params"] > 0 for s in sites)
    assert {m["name"].rsplit(".", 1)[-1] for m in sites[0]["modules"] if m["text_only_dead"]} == {"down_proj"}


def test_adapter_base_model_path_is_relative_to_the_file(cache_env, tmp_path):
    model_dir = tmp_path / "base"
    model_dir.mkdir()
    (model_dir / "config.json").write_text((REPO / "linter/zoo/Qwen--Qwen2.5-VL-3B-Instruct/config.json").read_text())
    config = _adapter(tmp_path / "out" / "adapter", base_model_name_or_path="../../base")
    proc = run(["report", str(config), "--format", "json"], env_extra=cache_env, cwd="/")
    assert proc.returncode == 0, proc.stderr
    site = json.loads(proc.stdout)["sites"][0]
    assert site["model"]["source"] == "local"
    assert site["model"]["model_class"] == "Qwen2_5_VLForConditionalGeneration"


def test_site_peft_would_refuse_has_error_and_no_modules(cache_env):
    proc = run(["report", "--model", QWEN_VL, "--target-modules", "no_such_proj", "--format", "json"], env_extra=cache_env)
    assert proc.returncode == 1
    site = json.loads(proc.stdout)["sites"][0]
    assert "no module matches `target_modules`" in site["error"]
    assert site["modules"] == [] and site["components"] == {}


@pytest.mark.parametrize(
    "config_text, expected",
    [
        (json.dumps({"model_type": "llama", "auto_map": {"AutoModel": "x.Y"}}), "trust_remote_code"),
        (json.dumps({"hidden_size": 8}), "no `model_type`"),
    ],
)
def test_unresolvable_local_models(cache_env, tmp_path, config_text, expected):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(config_text)
    proc = run(["report", "--model", str(tmp_path / "m")], env_extra=cache_env)
    assert proc.returncode == 1
    errors = [line for line in proc.stdout.splitlines() if line.strip().startswith("error:")]
    assert len(errors) == 1 and expected in errors[0]
    assert proc.stderr == ""


@pytest.mark.parametrize("ref", ["someorg/not-cached", "definitely-unknown-model-xyz"])
def test_unresolvable_hub_ids_offline(cache_env, ref):
    proc = run(["report", "--model", ref, "--offline"], env_extra=cache_env)
    assert proc.returncode == 1
    assert "error: unresolved model" in proc.stdout and "offline" in proc.stdout and proc.stderr == ""


def test_broken_adapter_config_reports_location(cache_env, tmp_path):
    bad = tmp_path / "adapter_config.json"
    bad.write_text('{\n  "peft_type": "LORA",\n  "r": NaN\n}\n')
    proc = run(["report", str(bad)], env_extra=cache_env)
    assert proc.returncode == 1
    assert "NaN" in proc.stdout and "Traceback" not in proc.stderr


def test_usage_errors_exit_2(cache_env):
    assert run(["report"], env_extra=cache_env).returncode == 2
    assert run(["report", "--format", "yaml", "--model", QWEN_VL], env_extra=cache_env).returncode == 2
    assert run(["report", "/no/such/path"], env_extra=cache_env).returncode == 2
