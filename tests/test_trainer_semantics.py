"""The data and the options as each trainer reads them: Axolotl without a processor is text, the dataset table,
LLaMA-Factory's v1 configs, Axolotl's freeze_mm_modules / lora_target_parameters / regex-looking list entries,
Unsloth's MoE expert parameters and its all-linear trap; findings on the key that chose the targets, new keys
next to their kin."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from loralint.cli import main
from loralint.config import Settings
from loralint.engine import Linter
from loralint.frontends.data_evidence import DATASETS_TABLE, dataset_evidence
from loralint.resolve import Resolver


pytestmark = pytest.mark.usefixtures("offline_env")


def lint(path: Path, **kwargs):
    return Linter(Settings(root=path.parent), Resolver(offline=True), **kwargs).lint_path(path)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- the dataset table ----------------------------------------------------------------------------------------
def test_dataset_table_rows_name_their_modality_and_a_public_source():
    rows = [line.split("\t") for line in DATASETS_TABLE.read_text().splitlines()
            if line and not line.startswith(("#", "id\t"))]
    assert len(rows) >= 250
    assert all(len(row) == 3 and row[1] in {"text", "image", "video", "audio"} for row in rows)
    assert all(row[2] == f"https://huggingface.co/datasets/{row[0]}" for row in rows)
    assert len({row[0].lower() for row in rows}) == len(rows)


@pytest.mark.parametrize("name, value", [
    ("cgato/SlimOrcaDedupCleaned", "text"), ("TRL-LIB/Capybara", "text"),
    ("HuggingFaceH4/llava-instruct-mix-vsft", "image"), ("mozilla-foundation/common_voice_17_0", "audio"),
    ("someone/my-private-set", None), ("alpaca-like-name", None),  # never guessed from the name
])
def test_dataset_lookup(name, value):
    found = dataset_evidence(name)
    assert (found[0] if found else None) == value


# -- Axolotl ----------------------------------------------------------------------------------------------------
GEMMA_AXOLOTL = """base_model: google/gemma-3-4b-it
load_in_4bit: true
adapter: qlora
lora_r: 32
lora_alpha: 16
lora_dropout: 0.05
lora_target_linear: true
datasets:
  - path: cgato/SlimOrcaDedupCleaned
    type: chat_template
sequence_len: 2048
sample_packing: true
weight_decay: 0.0
"""


def test_axolotl_gemma3_official_shape_is_text_and_flagged_on_lora_target_linear(tmp_path):
    result = lint(write(tmp_path, "gemma-3-4b-qlora.yml", GEMMA_AXOLOTL))
    (diag,) = result.diagnostics
    assert diag.code == "LL001" and "cgato/SlimOrcaDedupCleaned" in diag.message
    assert (diag.span.line, diag.span.column) == (7, 21)  # `true` of lora_target_linear, not the last key
    reasons = [e.reason for e in result.analyses[0].site.evidence]
    assert any("no processor_type" in r for r in reasons) and any("sample_packing" in r for r in reasons)


def test_axolotl_fix_puts_the_new_key_next_to_the_lora_keys(tmp_path):
    path = write(tmp_path, "gemma.yml", GEMMA_AXOLOTL)
    with contextlib.redirect_stdout(io.StringIO()):
        main(["check", "--offline", "--fix", str(path)])
    lines = path.read_text().splitlines()
    assert lines[6] == "lora_target_linear: false"
    assert lines[7].startswith("lora_target_modules: 'model\\.language_model")  # right after, not at the end
    assert lines[-1] == "weight_decay: 0.0"
    assert lint(path).diagnostics == []


def test_axolotl_processor_type_means_images(tmp_path):
    text = GEMMA_AXOLOTL.replace("sample_packing: true\n", "processor_type: AutoProcessor\n")
    (analysis,) = lint(write(tmp_path, "vlm.yml", text)).analyses
    assert analysis.modality == "multimodal"


def test_axolotl_freeze_mm_modules_is_said(tmp_path):
    (diag,) = lint(write(tmp_path, "f.yml", GEMMA_AXOLOTL + "freeze_mm_modules: true\n")).diagnostics
    assert "freeze_mm_modules freezes them" in diag.message and "cost memory" in diag.message


def test_axolotl_regex_list_entries_are_explained(tmp_path):
    text = GEMMA_AXOLOTL.replace("lora_target_linear: true\n", "lora_target_modules:\n  - 'model.language_model.*q_proj'\n  - gate_proj\n")
    (diag,) = lint(write(tmp_path, "r.yml", text)).diagnostics
    assert diag.code == "LL003" and "matches each entry of a list as a module-name suffix" in diag.message


def test_axolotl_lora_target_parameters_reach_fused_experts(tmp_path):
    text = ("base_model: Qwen/Qwen3-30B-A3B\nadapter: lora\nlora_target_modules: [q_proj, v_proj]\n"
            "lora_target_parameters: [mlp.experts.gate_up_proj, mlp.experts.down_proj]\n"
            "datasets:\n  - path: tatsu-lab/alpaca\n    type: alpaca\n")
    (analysis,) = lint(write(tmp_path, "moe.yml", text)).analyses
    adapted = {a.module.name for a in analysis.result.adapted}
    assert any(name.endswith("mlp.experts") for name in adapted) and any(name.endswith("q_proj") for name in adapted)


# -- LLaMA-Factory v1 -------------------------------------------------------------------------------------------
V1 = """model: google/gemma-3-4b-it
model_class: vlm

peft_config:
  name: lora
  r: 16
  target_modules: all

train_dataset: data/v1_sft_demo.yaml
"""


def test_llamafactory_v1_all_does_not_exclude_the_towers(tmp_path):
    (diag,) = lint(write(tmp_path, "train_lora_sft.yaml", V1), modality="text").diagnostics
    assert diag.code == "LL001" and (diag.span.line, diag.span.column) == (7, 19)
    assert "a string becomes a one-entry list" in diag.message  # no pattern fix exists in v1


def test_llamafactory_v1_string_target_is_a_name_not_a_pattern(tmp_path):
    text = V1.replace("target_modules: all", "target_modules: '.*q_proj'")
    result = lint(write(tmp_path, "v1.yaml", text), modality="text")
    assert [d.code for d in result.diagnostics] == ["LL004"]


OMNI_LF = """model_name_or_path: Qwen/Qwen2.5-Omni-7B
stage: sft
do_train: true
finetuning_type: lora
lora_target: all
dataset: mllm_demo
template: qwen2_omni
output_dir: saves/omni
"""


def test_llamafactory_trains_the_omni_thinker_and_its_demo_media(tmp_path):
    """load_model keeps `model.thinker` of the Omni models, a composite model LLaMA-Factory knows: with its
    freeze flags on (the default) `all` stays on the language model."""
    assert lint(write(tmp_path, "omni.yaml", OMNI_LF)).diagnostics == []
    text = OMNI_LF.replace("lora_target: all", "lora_target: q_proj,v_proj\nfreeze_vision_tower: false")
    result = lint(write(tmp_path, "omni_tower.yaml", text))
    (diag,) = result.diagnostics
    assert result.analyses[0].inventory.model_class == "Qwen2_5OmniForConditionalGeneration.thinker"
    # mllm_demo holds images: the audio tower (in the thinker's names) never trains
    assert diag.code == "LL001" and "`model.audio_tower`" in diag.message and "with text+image data" in diag.message
    audio = OMNI_LF.replace("mllm_demo", "mllm_audio_demo").replace("lora_target: all", "lora_target: q_proj,v_proj\nfreeze_vision_tower: false")
    assert lint(write(tmp_path, "omni_audio.yaml", audio)).diagnostics == []
    video = OMNI_LF.replace("mllm_demo", "mllm_video_demo").replace("lora_target: all", "lora_target: q_proj,v_proj\nfreeze_vision_tower: false")
    (diag,) = lint(write(tmp_path, "omni_video.yaml", video)).diagnostics
    assert "`model.audio_tower`" in diag.message and "with text+video data" in diag.message
    # the videos' sound track goes through the audio tower
    assert lint(write(tmp_path, "omni_video_sound.yaml", video + "use_audio_in_video: true\n")).diagnostics == []


# -- Unsloth ------------------------------------------------------------------------------------------------------
def test_unsloth_moe_experts_become_target_parameters(tmp_path):
    path = write(tmp_path, "moe.py", "from unsloth import FastModel\nmodel, tok = FastModel.from_pretrained('Qwen/Qwen3.5-35B-A3B')\n"
                 "model = FastModel.get_peft_model(model, target_modules=['q_proj', 'gate_proj', 'up_proj', 'down_proj'])\n")
    result = lint(path, modality="text")
    assert not [d for d in result.diagnostics if d.code == "LL003"]  # gate/up/down reach the fused experts
    assert {"mlp.experts.gate_up_proj", "mlp.experts.down_proj"} <= set(result.analyses[0].spec.target_parameters)


def test_unsloth_all_linear_overrides_finetune_vision_layers(tmp_path):
    path = write(tmp_path, "trap.py", "from unsloth import FastVisionModel\nfrom datasets import load_dataset\n"
                 "model, tok = FastVisionModel.from_pretrained('Qwen/Qwen2.5-VL-7B-Instruct')\n"
                 "model = FastVisionModel.get_peft_model(model, target_modules='all-linear', finetune_vision_layers=False)\n"
                 "dataset = load_dataset('mlabonne/FineTome-100k')\n")
    (diag,) = lint(path).diagnostics
    assert diag.code == "LL001" and "finetune_vision_layers=False has no effect" in diag.message
    with contextlib.redirect_stdout(io.StringIO()):
        main(["check", "--offline", "--fix", str(path)])
    assert "target_modules=None, finetune_vision_layers=False" in path.read_text()
    assert lint(path).diagnostics == []
