"""Values of a type PEFT or the trainer would refuse are LL004 at their key (or LL900 for a broken file),
never an internal error, in every front end."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from loralint.config import Settings
from loralint.engine import Linter
from loralint.resolve import Resolver

pytestmark = pytest.mark.usefixtures("offline_env")
SCRIPT = ("from peft import LoraConfig\nfrom transformers import AutoModelForCausalLM\n"
          "m = AutoModelForCausalLM.from_pretrained('Qwen/Qwen2.5-7B-Instruct')\nc = LoraConfig({})\n")
ADAPTER = {"peft_type": "LORA", "base_model_name_or_path": "Qwen/Qwen2.5-7B-Instruct", "target_modules": ["q_proj"]}
CASES = {
    "set-of-tuples.py": (SCRIPT.format("target_modules={('q_proj',)}"), "LL004", "`target_modules` is [['q_proj']]"),
    "rank-string.py": (SCRIPT.format("target_modules=['q_proj'], r='8'"), "LL004", "`r` is '8'"),
    "rank-huge.py": (SCRIPT.format("target_modules=['q_proj'], r=10**400"), None, None),  # not evaluated: a note
    "datasets-int.yml": ("base_model: Qwen/Qwen2.5-7B-Instruct\nadapter: lora\nlora_target_modules: [q_proj]\ndatasets: 5\n",
                         None, None),
    "nested-parameters.yml": ("base_model: Qwen/Qwen2.5-7B-Instruct\nadapter: lora\nlora_target_modules: [q_proj]\n"
                              "lora_target_parameters: [[x]]\n", "LL004", "`lora_target_parameters` is [['x']]"),
    "dora-string.yml": ("base_model: Qwen/Qwen2.5-7B-Instruct\nadapter: lora\nlora_target_modules: [q_proj]\n"
                        "lora_r: [8]\n", "LL004", "`lora_r` is [8]"),
    "adapter_config.json": (json.dumps({**ADAPTER, "target_parameters": [5, None]}), "LL004", "`target_parameters` is [5, None]"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_wrong_types_are_refusals_at_their_key(tmp_path, name):
    text, code, message = CASES[name]
    folder = tmp_path / name.replace(".", "_")
    folder.mkdir()
    path = folder / name
    path.write_text(text)
    diagnostics = Linter(Settings(root=folder), Resolver(offline=True)).lint_path(path).diagnostics
    assert not any("internal error" in d.message for d in diagnostics), diagnostics
    if code is None:
        assert [d.code for d in diagnostics if d.code in ("LL900", "LL004")] == []
    else:
        (diag,) = diagnostics
        assert diag.code == code and message in diag.message and (diag.span.line, diag.span.column) != (1, 1)


def test_adapter_weights_with_a_wrong_dtype_type_and_a_wrong_init(tmp_path):
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({**ADAPTER, "init_lora_weights": ["x"]}))
    header = json.dumps({"a.lora_B.weight": {"dtype": ["F32"], "shape": [2, 2], "data_offsets": [0, 16]}}).encode()
    (folder / "adapter_model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(16))
    lint = Linter(Settings(root=folder), Resolver(offline=True))
    codes = sorted(d.code for d in lint.lint_path(folder / "adapter_config.json").diagnostics)
    assert codes == ["LL004", "LL900"]  # the init PEFT refuses; the header that cannot be read
    (weights,) = lint.lint_path(folder / "adapter_model.safetensors").diagnostics
    assert weights.code == "LL900" and "unknown dtype" in weights.message


def test_a_notebook_cell_whose_source_is_null(tmp_path):
    cells = [{"cell_type": "code", "source": None, "metadata": {}, "outputs": []},
             {"cell_type": "code", "source": [SCRIPT.format("target_modules=['q_proj']")], "metadata": {}, "outputs": []}]
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert Linter(Settings(root=tmp_path), Resolver(offline=True)).lint_path(path).diagnostics == []
