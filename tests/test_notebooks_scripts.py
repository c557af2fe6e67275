"""Notebooks and scripts as people write them: IPython lines, a broken cell, values in execution order,
settings objects, overrides that always apply, chat data as evidence. Real libcst parses, bundled
inventories of real checkpoints; no torch."""

from __future__ import annotations

import ast
import contextlib
import io
import json
from pathlib import Path

import pytest

from loralint.cli import main
from loralint.config import Settings
from loralint.engine import Linter
from loralint.frontends.notebook import as_python
from loralint.resolve import Resolver


pytestmark = pytest.mark.usefixtures("offline_env")


def lint(path: Path, **kwargs):
    return Linter(Settings(root=path.parent), Resolver(offline=True), **kwargs).lint_path(path).diagnostics


def notebook(tmp_path: Path, cells: list[str], name="train.ipynb") -> Path:
    data = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                       "source": c.splitlines(True)} for c in cells],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


INSTALL = ("%%capture\nimport os\nif 'COLAB_' not in ''.join(os.environ.keys()):\n    !pip install unsloth\n"
           "else:\n    !pip install --no-deps bitsandbytes accelerate \\\n        xformers peft trl\n    %pip install -q datasets")
LOAD = ("from unsloth import FastVisionModel\nmodel_id, out_dir = 'Qwen/Qwen2.5-VL-7B-Instruct', 'outputs'\n"
        "model, tokenizer = FastVisionModel.from_pretrained(model_id, load_in_4bit=True)")
PEFT = "model = FastVisionModel.get_peft_model(\n    model,\n    finetune_vision_layers=True,\n    r=16,\n)"
TRAIN = ("from datasets import load_dataset\ndataset = load_dataset('mlabonne/FineTome-100k', split='train')\n"
         "from trl import SFTTrainer, SFTConfig\n"
         "trainer = SFTTrainer(model=model, train_dataset=dataset, args=SFTConfig(dataset_text_field='text'))")
COLAB = [INSTALL, "!nvidia-smi", "%%bash\necho hi\nfor x in 1 2; do echo $x; done", LOAD,
         "FastVisionModel.get_peft_model?", PEFT, TRAIN, "files = !ls\nprint(files)",
         "def generate(:\n    pass", "model_id = 'google/gemma-3-4b-it'  # inference with another model"]


# -- IPython syntax -----------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", COLAB[:5] + COLAB[7:8])
def test_ipython_lines_become_python_of_the_same_shape(cell):
    python = as_python(cell)
    ast.parse(python)
    assert python.count("\n") == cell.count("\n")
    for before, after in zip(cell.split("\n"), python.split("\n")):
        if after.strip() == "pass":
            assert after[: len(after) - 4] == before[: len(before) - len(before.lstrip())]  # same indentation


def test_non_python_cell_magics_are_blank_and_python_ones_are_kept():
    assert as_python("%%bash\nfor x in 1 2; do\n  echo $x\ndone").strip() == ""
    assert as_python("%%writefile x.py\nimport os").strip() == ""
    assert as_python("%%time\nx = 1").split("\n") == ["", "x = 1"]
    assert as_python("x = !ls\ny = %env HOME").split("\n") == ["x = ...", "y = ..."]
    assert as_python("model.generate??\n?model").split("\n") == ["pass", "pass"]


def test_colab_notebook_gets_a_verdict_and_its_broken_cell_only_costs_that_cell(tmp_path):
    path = notebook(tmp_path, COLAB)
    diagnostics = lint(path)
    assert [(d.code, d.cell) for d in diagnostics] == [("LL001", 6), ("LL900", 9)]
    sink, broken = diagnostics
    assert (sink.span.line, sink.span.column) == (3, 28)  # `True` of finetune_vision_layers=True, in cell 6
    assert "mlabonne/FineTome-100k" in sink.message and "cell 7" in sink.message
    assert (broken.span.line, broken.span.column) == (1, 14) and "does not parse" in broken.message


def test_fix_on_a_notebook_with_magics_changes_only_the_lora_cell(tmp_path):
    path = notebook(tmp_path, COLAB)
    before = json.loads(path.read_text())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["check", "--offline", "--fix", str(path)])
    after = json.loads(path.read_text())
    changed = [i for i, (a, b) in enumerate(zip(before["cells"], after["cells"])) if a != b]
    assert changed == [5]
    assert "finetune_vision_layers=False" in "".join(after["cells"][5]["source"])
    assert [d.code for d in lint(path)] == ["LL900"]


def test_a_name_assigned_in_a_broken_cell_is_unknown_with_the_reason(tmp_path):
    path = notebook(tmp_path, ["from peft import LoraConfig", "targets = ['q_proj'\n", LOAD.replace("FastVisionModel", "AutoModelForCausalLM").replace("Qwen/Qwen2.5-VL-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct"),
                               "config = LoraConfig(target_modules=targets)\nget_peft_model(model, config)"])
    codes = {d.code: d for d in lint(path)}
    assert set(codes) == {"LL900", "LL901"}
    assert "assigned in cell 2, which does not parse" in codes["LL901"].message


def test_report_reads_notebooks(tmp_path):
    path = notebook(tmp_path, COLAB)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(["report", "--offline", "--format", "json", str(path)])
    sites = json.loads(out.getvalue())["sites"]
    (lora,) = [s for s in sites if not s["error"]]
    assert lora["framework"] == "unsloth" and lora["dead_params"] > 0
    assert (lora["cell"], lora["line"]) == (6, 1)  # the cell, never a line of the program or the JSON
    assert {e["reason"]: e["line"] for e in lora["modality"]["evidence"]}


# -- values in execution order --------------------------------------------------------------------------
HEAD = ("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForImageTextToText\n"
        "from datasets import load_dataset\n")
TAIL = "\ndataset = load_dataset('yahma/alpaca-cleaned')\n"
SCRIPTS = {
    "later-reassignment": ("model_id = 'google/gemma-3-4b-it'\nmodel = AutoModelForImageTextToText.from_pretrained(model_id)\n"
                           "model = get_peft_model(model, LoraConfig(target_modules=['q_proj', 'v_proj']))\n"
                           "model_id = 'meta-llama/Llama-3.1-8B-Instruct'\n"
                           "model = AutoModelForImageTextToText.from_pretrained(model_id)\n"),
    "tuple-unpacking": ("model_id, output_dir = 'google/gemma-3-4b-it', 'out'\n"
                        "model = AutoModelForImageTextToText.from_pretrained(model_id)\n"
                        "model = get_peft_model(model, LoraConfig(target_modules=['q_proj', 'v_proj']))\n"),
    "branches-agree": ("import os\nif os.environ.get('COLAB'):\n    targets = ['q_proj', 'v_proj']\nelse:\n"
                       "    targets = ['q_proj', 'v_proj']\n"
                       "model = AutoModelForImageTextToText.from_pretrained('google/gemma-3-4b-it')\n"
                       "model = get_peft_model(model, LoraConfig(target_modules=targets))\n"),
    "f-string-and-dict": ("ORG = 'google'\nMODELS = {'vlm': f'{ORG}/gemma-3-4b-it'}\n"
                          "model = AutoModelForImageTextToText.from_pretrained(MODELS['vlm'])\n"
                          "model = get_peft_model(model, LoraConfig(target_modules=['q_proj'] + ['v_proj']))\n"),
    "namespace-and-dataclass": ("from types import SimpleNamespace\nfrom dataclasses import dataclass\n"
                                "cfg = SimpleNamespace(model_id='google/gemma-3-4b-it')\n@dataclass\nclass Targets:\n"
                                "    names: tuple = ('q_proj', 'v_proj')\n"
                                "model = AutoModelForImageTextToText.from_pretrained(cfg.model_id)\n"
                                "model = get_peft_model(model, LoraConfig(target_modules=list(Targets().names)))\n"),
    "path-join": ("import os\nROOT = '/models'\n"
                  "model = AutoModelForImageTextToText.from_pretrained(os.path.join(ROOT, 'gemma'))\n"
                  "model = get_peft_model(model, LoraConfig(target_modules=['q_proj', 'v_proj']))\n"),
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_values_a_reader_can_see_give_a_verdict(tmp_path, name):
    path = tmp_path / "train.py"
    path.write_text(HEAD + SCRIPTS[name] + TAIL)
    models = {"/models/gemma": "google/gemma-3-4b-it"}
    linter = Linter(Settings(root=tmp_path), Resolver(offline=True, aliases=models))
    codes = [d.code for d in linter.lint_path(path).diagnostics]
    assert codes == ["LL001"], [d.message for d in linter.lint_path(path).diagnostics]


@pytest.mark.parametrize("first, second, expected", [
    ("['gate_proj']", "['gate_proj', 'up_proj']", []),  # SigLIP has neither: language model only (Gemma 3)
    ("['gate_proj']", "['gate_proj', 'fc1']", [("LL001", "as assigned on line 8")]),  # fc1: the tower's MLP
    ("['fc1']", "['gate_proj', 'fc2']", [("LL001", "as assigned on line 6")]),  # both wrong: reported once
])
def test_branches_that_disagree_are_each_checked_and_reported_once(tmp_path, first, second, expected):
    path = tmp_path / "train.py"
    path.write_text(HEAD + f"import os\nif os.environ.get('SMALL'):\n    targets = {first}\nelse:\n    targets = {second}\n"
                    "model = AutoModelForImageTextToText.from_pretrained('google/gemma-3-4b-it')\n"
                    "model = get_peft_model(model, LoraConfig(target_modules=targets))\n" + TAIL)
    diagnostics = lint(path)
    assert [(d.code, next((e for _, e in expected if e in d.message), None)) for d in diagnostics] == expected
    assert all(d.fix is None or d.fix.applicability == "unsafe" for d in diagnostics)  # `targets` holds two values


def test_model_flag_applies_to_a_model_from_run_time(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(HEAD + "model = AutoModelForImageTextToText.from_pretrained(pick_model())\n"
                    "model = get_peft_model(model, LoraConfig(target_modules=['q_proj', 'v_proj']))\n" + TAIL)
    (unknown,) = lint(path)
    assert unknown.code == "LL901" and "--model" in unknown.message
    assert [d.code for d in lint(path, model="google/gemma-3-4b-it")] == ["LL001"]


@pytest.mark.parametrize("evidence, modality", [
    ("messages = [{'role': 'user', 'content': 'Summarise this text.'}]\n", "text"),
    ("messages = [{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': 'hi'}]}]\n", "text+image"),
    ("from transformers import AutoTokenizer\ntokenizer = AutoTokenizer.from_pretrained('google/gemma-3-4b-it')\n"
     "trainer = SFTTrainer(model=model, processing_class=tokenizer)\n", "text"),
])
def test_chat_data_and_the_processing_class_are_evidence(tmp_path, evidence, modality):
    path = tmp_path / "train.py"
    path.write_text(HEAD + "model = AutoModelForImageTextToText.from_pretrained('google/gemma-3-4b-it')\n"
                    "model = get_peft_model(model, LoraConfig(target_modules=['q_proj', 'v_proj']))\n" + evidence)
    (analysis,) = Linter(Settings(root=tmp_path), Resolver(offline=True)).lint_path(path).analyses
    assert analysis.modality == modality


def test_model_flag_with_another_architecture_says_which_class_was_built(tmp_path):
    path = tmp_path / "train.py"
    path.write_text("from peft import LoraConfig, get_peft_model\nfrom transformers import Qwen2_5_VLForConditionalGeneration\n"
                    "model = Qwen2_5_VLForConditionalGeneration.from_pretrained('Qwen/Qwen2.5-VL-7B-Instruct')\n"
                    "model = get_peft_model(model, LoraConfig(target_modules=['q_proj', 'v_proj']))\n" + TAIL)
    (diag,) = lint(path, model="google/gemma-3-4b-it")
    assert diag.code == "LL001" and "`model.vision_tower`" in diag.message
    assert "built as Gemma3ForConditionalGeneration, not as the script's Qwen2_5_VLForConditionalGeneration" in diag.message
