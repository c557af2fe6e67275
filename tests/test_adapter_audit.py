"""LL005 on real adapters: tiny models (real configs, widths divided) trained for two steps on the
CPU with PEFT, saved with safetensors, then audited without torch; and broken saves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from peft_oracle import peft, torch, zoo_config
from tiny import shrink

from loralint.config import Settings
from loralint.engine import Linter
from loralint.resolve import Resolver

pytestmark = pytest.mark.slow
IMAGE_TOKEN, VISION_START, VISION_END = 151655, 151652, 151653


def _tiny_qwen_vl() -> dict:
    config = shrink(zoo_config("Qwen/Qwen2.5-VL-3B-Instruct"), 8)
    config["vision_config"]["num_heads"] = 4  # keep the vision rotary width even after dividing
    return config


def _train_and_save(config: dict, out: Path, *, with_image: bool, target_modules="all-linear") -> Path:
    from loralint.build import make_config, resolve_model_class

    base = out / "base"
    base.mkdir(parents=True)
    (base / "config.json").write_text(json.dumps(config))
    cfg = make_config(config)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = resolve_model_class(cfg, None)._from_config(cfg, dtype=torch.float32)
        wrapped = peft.get_peft_model(model, peft.LoraConfig(target_modules=target_modules, r=2))
    optimizer = torch.optim.AdamW([p for p in wrapped.parameters() if p.requires_grad], lr=1e-3)
    kwargs = {}
    ids = [151644, 872, 198, 3838, 374, 419, 30, 151645]
    if with_image:
        vision = cfg.vision_config
        patches = 64  # a 1 x 8 x 8 grid of patches, merged 2 x 2 into 16 image tokens
        kwargs = {"pixel_values": torch.randn(patches, 3 * vision.temporal_patch_size * vision.patch_size ** 2),
                  "image_grid_thw": torch.tensor([[1, 8, 8]])}
        ids = ids[:3] + [VISION_START] + [IMAGE_TOKEN] * (patches // 4) + [VISION_END] + ids[3:]
    input_ids = torch.tensor([ids])
    for _ in range(2):
        loss = wrapped(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), labels=input_ids, **kwargs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    adapter = out / "adapter"
    wrapped.save_pretrained(adapter)
    config_path = adapter / "adapter_config.json"
    saved = json.loads(config_path.read_text())
    saved["base_model_name_or_path"] = "../base"  # relative to the adapter config
    config_path.write_text(json.dumps(saved, indent=2))
    return adapter


@pytest.fixture(scope="module")
def text_only_vlm(tmp_path_factory):
    return _train_and_save(_tiny_qwen_vl(), tmp_path_factory.mktemp("text-vlm"), with_image=False)


@pytest.fixture(scope="module")
def image_text_vlm(tmp_path_factory):
    return _train_and_save(_tiny_qwen_vl(), tmp_path_factory.mktemp("image-vlm"), with_image=True)


@pytest.fixture(scope="module")
def text_llm(tmp_path_factory):
    config = shrink(zoo_config("Qwen/Qwen2.5-7B-Instruct"), 8)
    return _train_and_save(config, tmp_path_factory.mktemp("text-llm"), with_image=False)


def _lint(adapter: Path):
    linter = Linter(Settings(root=adapter), Resolver(offline=True))
    result = linter.lint_path(adapter / "adapter_config.json")
    return result.diagnostics, result.analyses[0].audit


def _zero_b_per_safetensors(adapter: Path) -> set[str]:
    from safetensors import safe_open

    dead = set()
    with safe_open(adapter / "adapter_model.safetensors", framework="pt") as f:
        for key in f.keys():
            if key.endswith("lora_B.weight") and not torch.any(f.get_tensor(key) != 0):
                dead.add(key.removeprefix("base_model.model.").removesuffix(".lora_B.weight"))
    return dead


def test_text_only_vlm_reports_exactly_the_zero_adapters(text_only_vlm, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    diagnostics, audit = _lint(text_only_vlm)
    expected = _zero_b_per_safetensors(text_only_vlm)
    assert expected, "text-only training left no adapter untouched: the test proves nothing"
    assert {a.module for a in audit.dead} == expected
    assert {a.component for a in audit.dead} == {"vision"}
    assert all(a.trained for a in audit.adapters if a.component == "language")
    (ll005,) = [d for d in diagnostics if d.code == "LL005"]
    assert ll005.file.endswith("adapter_model.safetensors")
    assert ll005.message.startswith(
        f"{len(expected)} of {len(audit.adapters)} adapters never trained (all under `model.visual`, vision)")
    assert "model.visual.blocks.{0-" in ll005.message


def test_image_text_training_stays_clean(image_text_vlm, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    diagnostics, audit = _lint(image_text_vlm)
    assert _zero_b_per_safetensors(image_text_vlm) == set()
    assert audit.dead == [] and audit.adapters
    assert "LL005" not in [d.code for d in diagnostics]


def test_text_only_model_stays_clean(text_llm, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    diagnostics, audit = _lint(text_llm)
    assert audit.dead == [] and len(audit.adapters) > 0
    assert "LL005" not in [d.code for d in diagnostics]


def test_audit_needs_no_torch(text_only_vlm, tmp_path):
    """The audit itself runs in a process where torch and transformers cannot be imported."""
    code = (
        "import sys\n"
        "class B:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'transformers', 'safetensors'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, B())\n"
        "from loralint.cli import main\n"
        f"sys.exit(main(['check', '--output-format', 'json', {str(text_only_vlm / 'adapter_model.safetensors')!r}]))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LORALINT_CACHE_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 1, proc.stderr
    codes = {d["code"] for d in json.loads(proc.stdout)}
    assert "LL005" in codes  # components fall back to names when the unbundled base cannot be built


def test_report_on_adapter_dir_counts_trained_adapters(text_only_vlm):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "loralint", "report", "--format", "json", str(text_only_vlm)],
                          capture_output=True, text=True, env=env)
    weights = json.loads(proc.stdout)["sites"][0]["weights"]
    assert weights["components"]["vision"]["trained"] == 0
    assert weights["components"]["language"]["untrained"] == 0 < weights["components"]["language"]["trained"]
