"""Benchmarks for DESIGN.md's budgets, run by hand (never in tests).

    python scripts/bench.py [--runs 5] [--only report|check]

`check`: warm `loralint check` of one example script, and of a synthetic tree of 1,000 Python files
of which 10 are training scripts (budgets: 0.35 s and 3 s).

For each model: cold `loralint report` (empty cache, bundled inventories off), warm `report`, and what a
user would do instead (build the model on the meta device with transformers, wrap it with PEFT, list
the adapted modules), each as a fresh process, wall clock, median of runs. Also checks that loralint and
PEFT adapt the same modules.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = ["Qwen/Qwen2.5-VL-7B-Instruct", "google/gemma-3-4b-it", "meta-llama/Llama-3.2-11B-Vision-Instruct"]
TARGETS = "q_proj,v_proj,down_proj"

PEFT_ALTERNATIVE = r"""
import json, sys, torch, transformers, peft
from transformers import AutoConfig
cfg = AutoConfig.from_pretrained(sys.argv[1], trust_remote_code=False)
cls = getattr(transformers, cfg.architectures[0])
with torch.device("meta"):
    model = cls._from_config(cfg)
wrapped = peft.get_peft_model(model, peft.LoraConfig(target_modules=sys.argv[2].split(","), r=16), low_cpu_mem_usage=True)
from peft.tuners.lora import LoraLayer
print(json.dumps(sorted(n for n, m in wrapped.base_model.model.named_modules() if isinstance(m, LoraLayer))))
"""

TRANSFORMERS_ONLY = r"""
import sys, torch, transformers
from transformers import AutoConfig
cfg = AutoConfig.from_pretrained(sys.argv[1], trust_remote_code=False)
cls = getattr(transformers, cfg.architectures[0])
with torch.device("meta"):
    model = cls._from_config(cfg)
"""


def timed(cmd, env) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd} failed: {proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def bench_check(repo: Path, runs: int, env: dict) -> None:
    script = repo / "examples" / "scripts" / "peft_trainer_text.py"
    cmd = [sys.executable, "-m", "loralint", "check", "--output-format", "concise"]
    timed(cmd + [str(script)], env)  # warm the inventory cache
    one = [timed(cmd + [str(script)], env)[0] for _ in range(runs)]
    with tempfile.TemporaryDirectory() as tree:
        root = Path(tree)
        examples = sorted((repo / "examples" / "scripts").glob("*.py"))
        for i in range(1000):
            package = root / f"pkg{i // 100}"
            package.mkdir(exist_ok=True)
            if i % 100 == 0:
                text = examples[(i // 100) % len(examples)].read_text()
            else:
                text = f'"""Module {i}."""\nimport os\n\n\ndef f{i}(x):\n    return os.path.join(str(x), "{i}")\n' * 20
            (package / f"mod{i}.py").write_text(text)
        tree_times = [timed(cmd + [str(root)], env)[0] for _ in range(runs)]
    print(json.dumps({"check_one_script_s": statistics.median(one), "check_one_min_s": min(one),
                      "check_1000_files_s": statistics.median(tree_times), "check_1000_min_s": min(tree_times)}))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=["report", "check"])
    args = parser.parse_args()
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    if args.only != "report":
        bench_check(repo, args.runs, env)
        if args.only == "check":
            return 0
    rows = []
    for hub_id in MODELS:
        config_dir = repo / "linter" / "zoo" / hub_id.replace("/", "--")
        report = [sys.executable, "-m", "loralint", "report", "--model", hub_id, "--target-modules", TARGETS,
                  "-r", "16", "--format", "json"]
        cold, warm, alternative, meta_only = [], [], [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as cache:
                cold_env = {**env, "LORALINT_CACHE_DIR": cache, "LORALINT_BUNDLED": "0"}
                t, _ = timed(report, cold_env)
                cold.append(t)
                t, out = timed(report, cold_env)
                warm.append(t)
            t, peft_out = timed([sys.executable, "-c", PEFT_ALTERNATIVE, str(config_dir), TARGETS], env)
            alternative.append(t)
            t, _ = timed([sys.executable, "-c", TRANSFORMERS_ONLY, str(config_dir)], env)
            meta_only.append(t)
        ours = sorted(m["name"] for m in json.loads(out)["sites"][0]["modules"])
        same = ours == json.loads(peft_out)
        row = {
            "model": hub_id,
            "cold_s": statistics.median(cold),
            "warm_s": statistics.median(warm),
            "transformers_meta_s": statistics.median(meta_only),
            "peft_alternative_s": statistics.median(alternative),
            "same_modules": same,
            "modules": len(ours),
        }
        row["cold_vs_transformers"] = row["cold_s"] / row["transformers_meta_s"]
        row["warm_speedup_vs_peft"] = row["peft_alternative_s"] / row["warm_s"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\nmodel                                      cold   warm  tf-meta  peft-alt  cold/tf  warm speedup  same")
    for r in rows:
        print(f"{r['model']:42s} {r['cold_s']:5.2f}s {r['warm_s']:5.2f}s {r['transformers_meta_s']:6.2f}s "
              f"{r['peft_alternative_s']:7.2f}s {r['cold_vs_transformers']:7.2f}x {r['warm_speedup_vs_peft']:10.1f}x  {r['same_modules']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
