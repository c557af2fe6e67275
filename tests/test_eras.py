"""The transformers the project trains with: its pins, and module names of transformers 4.52-4.57 derived from
today's inventory with transformers' own conversion tables. The reference inventories under
tests/data/eras/transformers-4.57.1/ were built once with transformers 4.57.1 and torch 2.13.0 in a throwaway
environment by scripts/build_era_references.py, from the configs beside them."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
from pathlib import Path

import pytest

from loralint.cli import main
from loralint.config import Settings
from loralint.engine import Linter
from loralint.eras import era_of, inventory_in_era
from loralint.matching import LoraSpec, match
from loralint.pins import project_pins
from loralint.resolve import Resolver

DATA = Path(__file__).parent / "data" / "eras"
REFERENCE = DATA / "transformers-4.57.1"
ERA = era_of("4.57.1", "test")


def reference(stem: str) -> dict:
    return json.loads(gzip.decompress((REFERENCE / f"{stem}.json.gz").read_bytes()))


def linears(modules) -> dict:
    return {m[0]: tuple(m[2]) for m in modules if m[2]}


def derived_linears(inventory) -> dict:
    return {m.name: tuple(m.dims) for m in inventory_in_era(inventory, ERA).modules if m.kind == "linear"}


@pytest.mark.parametrize("hub_id", ["Qwen/Qwen2-VL-2B-Instruct", "Qwen/Qwen2.5-VL-3B-Instruct", "llava-hf/llava-1.5-7b-hf",
                                    "google/gemma-3-4b-it"])
def test_derived_names_equal_a_model_built_with_transformers_4_57(hub_id, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ref = reference(hub_id.replace("/", "--"))
    _, inventory = Resolver(offline=True, cache_dir=tmp_path).inventory(hub_id)
    assert inventory.model_class == ref["model_class"]
    assert derived_linears(inventory) == linears(ref["modules"])  # LoRA's candidates: names and shapes


@pytest.mark.slow
@pytest.mark.parametrize("stem", ["default--mixtral", "default--qwen3_moe"])
def test_fused_moe_experts_unfold_as_transformers_4_57_built_them(stem):
    from loralint.build import build_meta_model, inventory_from_model

    config = json.loads((DATA / "configs" / f"{stem}.json").read_text())
    inventory = inventory_from_model(build_meta_model(config, None), config)
    assert derived_linears(inventory) == linears(reference(stem)["modules"])


# -- pins --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("files, expected", [
    ({"requirements.txt": "torch>=2.4\ntransformers==4.57.1  # pinned\npeft>=0.17\n"}, ("4.57.1", True, "requirements.txt")),
    ({"pyproject.toml": '[project]\nname = "x"\ndependencies = ["transformers>=4.55,<5", "trl"]\n'}, ("4.55", False, "pyproject.toml")),
    ({"uv.lock": 'version = 1\n\n[[package]]\nname = "transformers"\nversion = "4.56.2"\nsource = { registry = "x" }\n',
      "requirements.txt": "transformers>=4.40\n"}, ("4.56.2", True, "uv.lock")),
    ({"poetry.lock": '[[package]]\nname = "transformers"\nversion = "5.1.0"\n'}, ("5.1.0", True, "poetry.lock")),
    ({"Pipfile.lock": json.dumps({"default": {"transformers": {"version": "==4.53.0"}}})}, ("4.53.0", True, "Pipfile.lock")),
    ({"environment.yml": "dependencies:\n  - python=3.11\n  - pip:\n    - transformers==4.57.0\n"}, ("4.57.0", True, "environment.yml")),
    ({"setup.py": 'setup(install_requires=["transformers>=4.52.4", "peft"])\n'}, ("4.52.4", False, "setup.cfg/setup.py")),
])
def test_pins_from_the_files_projects_keep(tmp_path, files, expected):
    root = tmp_path / "project"
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    pin = project_pins(root)["transformers"]
    assert (pin.version, pin.exact, pin.source) == expected


# -- checks in the project's era -----------------------------------------------------------------------------
def test_moe_experts_are_modules_under_transformers_4(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _, inventory = Resolver(offline=True, cache_dir=tmp_path).inventory("Qwen/Qwen3-30B-A3B")
    spec = LoraSpec(target_modules=["gate_proj", "down_proj"], r=8)
    today, then = match(inventory, spec), match(inventory_in_era(inventory, ERA), spec)
    assert all(a.module.name.endswith("mlp.experts") or "base_layer" in a.module.name for a in today.adapted)
    assert {a.module.name.rsplit(".", 1)[-1] for a in then.adapted} == {"gate_proj", "down_proj"}
    assert len(then.adapted) == 48 * 128 * 2 and not then.notes


def test_a_pinned_project_is_checked_with_its_names_and_says_so(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "requirements.txt").write_text("transformers==4.57.1\n")
    script = tmp_path / "train.py"
    script.write_text("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForImageTextToText\n"
                      "model = AutoModelForImageTextToText.from_pretrained('llava-hf/llava-1.5-7b-hf')\n"
                      "model = get_peft_model(model, LoraConfig(target_modules=['q_proj', 'v_proj', 'fc1']))\n"
                      "# loralint: modality=text\n")
    result = Linter(Settings(root=tmp_path), Resolver(offline=True)).lint_path(script)
    (diag,) = result.diagnostics
    assert "module names of transformers 4.57.1 (pinned in requirements.txt)" in diag.message
    dead = {a.module.name for a in result.analyses[0].dead_modules}
    assert dead and all(name.startswith("model.vision_tower.vision_model.") for name in dead)  # 4.57's level
    assert diag.fix.applicability == "safe" and "not with transformers 5" not in diag.fix.message  # valid in both eras


def test_setting_and_flag_override_the_pin(tmp_path):
    (tmp_path / "requirements.txt").write_text("transformers==4.57.1\n")
    (tmp_path / "pyproject.toml").write_text('[tool.loralint]\ntransformers = "5.2"\n')
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()), contextlib.chdir(tmp_path):
        main(["report", "--offline", "--format", "json", "--model", "Qwen/Qwen3-30B-A3B", "--target-modules", "down_proj"])
        first = json.loads(out.getvalue())["sites"][0]["transformers"]
        out.seek(0), out.truncate()
        main(["report", "--offline", "--format", "json", "--model", "Qwen/Qwen3-30B-A3B", "--target-modules", "down_proj",
              "--transformers", "4.56"])
        second = json.loads(out.getvalue())["sites"][0]
    assert first == {"version": "5.2", "names": "5", "source": "[tool.loralint] transformers"}
    assert second["transformers"] == {"version": "4.56", "names": "4.52", "source": "--transformers"}
    assert len(second["modules"]) == 48 * 128
