"""Launches against PEFT: for each command line, PEFT wraps a model built on the meta device from a real
config with the LoraConfig the trainer builds from that command line (written out here from the
trainer's documented semantics), and loralint's analysis of the same launch must adapt the same modules
with the same parameters."""

from __future__ import annotations


import pytest

from peft_oracle import build, peft_adapted, zoo_config

from loralint.config import Settings
from loralint.engine import Linter
from loralint.matching import LoraSpec
from loralint.resolve import Resolver

pytestmark = pytest.mark.slow
MODEL = "Qwen/Qwen2.5-VL-3B-Instruct"
ARGPARSE_SCRIPT = (
    "import argparse\nfrom peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForImageTextToText\n"
    "parser = argparse.ArgumentParser()\nparser.add_argument('--targets', nargs='+', default=['q_proj'])\n"
    "parser.add_argument('--rank', type=int, default=8)\nargs = parser.parse_args()\n"
    f"model = AutoModelForImageTextToText.from_pretrained('{MODEL}')\n"
    "model = get_peft_model(model, LoraConfig(r=args.rank, target_modules=args.targets))\n")

# command line -> the LoraConfig the trainer hands PEFT for it
CASES = {
    "trl-list": (f"trl sft --model_name_or_path {MODEL} --use_peft --lora_target_modules q_proj v_proj fc1",
                 LoraSpec(target_modules=["q_proj", "v_proj", "fc1"], r=16)),
    "trl-one-entry-is-a-regex": (f"trl sft --model_name_or_path {MODEL} --use_peft --lora_r 4 --lora_target_modules '.*\\.qkv'",
                                 LoraSpec(target_modules=r".*\.qkv", r=4)),
    "trl-commas": (f"trl sft --model_name_or_path {MODEL} --use_peft --lora_target_modules down_proj, o_proj, v_proj",
                   LoraSpec(target_modules=["down_proj,", "o_proj,", "v_proj"], r=16)),
    "argparse-list": ("python train.py --targets qkv down_proj --rank 4", LoraSpec(target_modules=["qkv", "down_proj"], r=4)),
    "swift-explicit": (f"swift sft --model {MODEL} --tuner_type lora --lora_rank 8 --target_modules q_proj gate_proj",
                       LoraSpec(target_modules=["q_proj", "gate_proj"], r=8)),
    "swift-regex": (f"swift sft --model {MODEL} --target_regex 'model\\.visual\\..*\\.qkv'",
                    LoraSpec(target_modules=r"model\.visual\..*\.qkv", r=8)),
}


@pytest.fixture(scope="module")
def model():
    built, _ = build(zoo_config(MODEL))
    return built


@pytest.mark.parametrize("case", sorted(CASES))
def test_launch_adapts_what_peft_adapts(case, model, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    command, trainer_spec = CASES[case]
    (tmp_path / "train.py").write_text(ARGPARSE_SCRIPT)
    run = tmp_path / "run.sh"
    run.write_text(command + "\n")
    (analysis,) = Linter(Settings(root=tmp_path), Resolver(offline=True)).lint_path(run).analyses
    oracle = peft_adapted(model, trainer_spec)
    assert not isinstance(oracle, Exception), oracle
    adapted, _ = oracle
    assert {a.module.name: a.params for a in analysis.result.adapted} == adapted
