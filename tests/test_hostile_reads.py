"""Reads that must never hang or fill memory: FIFOs and devices named where loralint reads (a training file,
a data file, dataset_info.json, a model path), a symlink to /dev/urandom, files over the limits, a gzip bomb.
Each runs in a subprocess with a time bound (a read that blocks fails the test, not the suite)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


def check(cwd: Path, *args: str, timeout: float = 60) -> tuple[int, list]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LORALINT_CACHE_DIR": str(cwd / ".cache"), "HF_HUB_CACHE": str(cwd / ".hf")}
    proc = subprocess.run([sys.executable, "-m", "loralint", "check", "--offline", "--output-format", "json", *args],
                          cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_a_training_file_that_is_a_fifo_or_a_device(tmp_path):
    os.mkfifo(tmp_path / "train.py")
    os.symlink("/dev/urandom", tmp_path / "random.py")
    code, diagnostics = check(tmp_path, "train.py", "random.py")
    assert code == 1 and [d["code"] for d in diagnostics] == ["LL900", "LL900"]
    assert "a FIFO, not a regular file" in diagnostics[1]["message"] or "a FIFO" in diagnostics[0]["message"]
    assert any("a device" in d["message"] for d in diagnostics)


AXOLOTL = "base_model: google/gemma-3-4b-it\nadapter: lora\nlora_target_linear: true\ndatasets:\n  - path: data.jsonl\n    type: alpaca\n"


def test_fifo_data_files_and_dataset_info_are_not_read(tmp_path):
    os.mkfifo(tmp_path / "data.jsonl")
    (tmp_path / "axolotl.yml").write_text(AXOLOTL)
    (tmp_path / "data").mkdir()
    os.mkfifo(tmp_path / "data" / "dataset_info.json")
    (tmp_path / "lf.yaml").write_text("model_name_or_path: google/gemma-3-4b-it\nfinetuning_type: lora\n"
                                      "lora_target: all\nfreeze_vision_tower: false\ndataset: my_set\n")
    code, diagnostics = check(tmp_path, "axolotl.yml", "lf.yaml")
    assert {d["code"] for d in diagnostics} <= {"LL001", "LL002"} and len(diagnostics) == 2


def test_a_model_path_that_is_proc_kmsg_or_a_fifo(tmp_path):
    os.mkfifo(tmp_path / "config.json")
    (tmp_path / "a.yml").write_text(AXOLOTL.replace("google/gemma-3-4b-it", "/proc/kmsg").replace("data.jsonl", "x"))
    (tmp_path / "b.yml").write_text(AXOLOTL.replace("google/gemma-3-4b-it", "./config.json").replace("data.jsonl", "x"))
    code, diagnostics = check(tmp_path, "a.yml", "b.yml")
    assert [d["code"] for d in diagnostics] == ["LL901", "LL901"]


def test_files_over_the_limit_are_refused_by_size(tmp_path):
    big = tmp_path / "big.py"
    with open(big, "wb") as fh:
        fh.truncate(9 * 1024 * 1024)  # sparse: no disk used
    code, diagnostics = check(tmp_path, "big.py")
    assert [d["code"] for d in diagnostics] == ["LL900"] and "over the" in diagnostics[0]["message"]


def test_a_gzip_bomb_inventory_is_refused_not_expanded(tmp_path, monkeypatch):
    from loralint import inventory
    from loralint.inventory import read_json_maybe_gz

    monkeypatch.setattr(inventory, "MAX_INVENTORY_BYTES", 1024 * 1024)  # the same bound, smaller
    bomb = tmp_path / "private.json.gz"
    bomb.write_bytes(gzip.compress(b"[" + b" " * (64 * 1024 * 1024) + b"]", compresslevel=9))
    assert bomb.stat().st_size < 256 * 1024
    with pytest.raises(ValueError, match="expands to more than"):
        read_json_maybe_gz(bomb)


HEAD = "from peft import LoraConfig\nc = LoraConfig(target_modules=['q_proj'])\n"
BOMBS = {
    "nested-lambdas": (HEAD + "x = " + "lambda: " * 2900 + "1\n", "nested 101 levels deep"),
    "chained-conditionals": (HEAD + "x = " + "a if b else " * 5000 + "a\n", "nested too deeply"),
    "power-tower": (HEAD + "x = " + "2**" * 2900 + "2\n", "nested 101 levels deep"),
    "chained-subscripts": (HEAD + "x = a" + "[0]" * 2900 + "\n", "nested 101 levels deep"),
    "seven-megabytes": (HEAD + "".join(f"v{i} = 'x' * {i}\n" for i in range(300_000)), "too large to analyse"),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_parse_bombs_are_refused_cheaply(tmp_path, name):
    """Under a 1 GiB address-space limit and 30 s; each used 1-1.6 GB or 8-21 s before the depth bound."""
    text, reason = BOMBS[name]
    (tmp_path / "bomb.py").write_text(text)
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
    code = (limit + "import sys; from loralint.cli import main; sys.exit(main(['check', '--offline', "
            "'--output-format', 'json', 'bomb.py']))")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LORALINT_CACHE_DIR": str(tmp_path / ".cache")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=30)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    (diag,) = json.loads(proc.stdout)
    assert diag["code"] == "LL900" and reason in diag["message"]


def _safetensors(names: list[str]) -> bytes:
    import struct

    header = {name: {"dtype": "F32", "shape": [1, 1], "data_offsets": [4 * i, 4 * i + 4]} for i, name in enumerate(names)}
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + bytes(4 * len(names))


def test_an_adapter_with_20000_tensors_and_one_with_a_140_kb_name(tmp_path):
    """Both took 25-40 s (a quadratic root search, a backtracking regex); now a bounded subprocess."""
    for folder, names in (("many", [f"base_model.model.model.layers.{i}.mlp.experts.{j}.down_proj.lora_{ab}.weight"
                                    for i in range(40) for j in range(250) for ab in "AB"]),
                          ("long", ["base_model.model." + "a" * 140_000 + ".lora_B.weight"])):
        adapter = tmp_path / folder
        adapter.mkdir()
        (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "target_modules": ["down_proj"]}))
        (adapter / "adapter_model.safetensors").write_bytes(_safetensors(names))
        code, diagnostics = check(tmp_path, f"{folder}/adapter_config.json", timeout=30)
        assert "LL005" in [d["code"] for d in diagnostics]  # every B matrix is zero: never trained


def test_a_large_plain_yaml_is_not_an_alias_bomb(tmp_path):
    text = "".join(f"key{i}: value{i}\n" for i in range(30_000))  # 100k nodes, no alias
    (tmp_path / "settings.yaml").write_text("base_model: x\nadapter: lora\n" + text)
    code, diagnostics = check(tmp_path, "settings.yaml", timeout=30)
    assert [d["code"] for d in diagnostics] == ["LL901"]  # read; only the made-up model is unknown
    (tmp_path / "huge.yaml").write_text("base_model: x\nadapter: lora\n" + text * 5)  # over the size limit
    code, diagnostics = check(tmp_path, "huge.yaml", timeout=30)
    assert [d["code"] for d in diagnostics] == ["LL900"] and "larger than" in diagnostics[0]["message"]


def test_configs_no_real_model_has_are_refused_before_a_build(tmp_path):
    from loralint.resolve import ZOO_DIR, Resolver, Unresolved

    base = json.loads((ZOO_DIR / "Qwen--Qwen2.5-7B-Instruct" / "config.json").read_text())
    deep, digits = tmp_path / "deep", tmp_path / "digits"
    deep.mkdir(), digits.mkdir()
    (deep / "config.json").write_text(json.dumps({**base, "num_hidden_layers": 20000}))
    (digits / "config.json").write_text(json.dumps({**base, "num_hidden_layers": 2}).replace(
        '"vocab_size": 152064', '"vocab_size": 1' + "0" * 5000))
    resolver = Resolver(offline=True, cache_dir=tmp_path / "cache")
    with pytest.raises(Unresolved, match="num_hidden_layers = 20000, more than any real model"):
        resolver.inventory(str(deep))
    with pytest.raises(Unresolved, match="number too long"):
        resolver.inventory(str(digits))


@pytest.mark.slow  # builds a model on the meta device
@pytest.mark.parametrize("damage", ["truncated-gzip", "wrong-types", "gzip-bomb", "not-json"])
def test_a_damaged_cache_entry_is_a_miss_and_rebuilt(tmp_path, damage):
    pytest.importorskip("torch")
    from loralint.resolve import ZOO_DIR, Resolver

    config = json.loads((ZOO_DIR / "Qwen--Qwen2.5-7B-Instruct" / "config.json").read_text())
    model = tmp_path / "tiny"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 2}))
    first = Resolver(offline=True, cache_dir=tmp_path / "cache").inventory(str(model))[1]
    (entry,) = (tmp_path / "cache" / "inventories").iterdir()
    good = entry.read_bytes()
    damaged = {
        "truncated-gzip": gzip.compress(good)[:40],
        "wrong-types": json.dumps({**json.loads(good), "modules": [["x", "Linear", "linear", "language", ["a"], 1]]}).encode(),
        "gzip-bomb": gzip.compress(b" " * (300 * 1024 * 1024)),
        "not-json": b"\x00\xff" * 10,
    }[damage]
    entry.write_bytes(damaged)
    again = Resolver(offline=True, cache_dir=tmp_path / "cache").inventory(str(model))[1]
    assert again.source == "built" and again.modules == first.modules
