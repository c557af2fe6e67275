"""Dead adapters for every data mix: LLaVA's discarded last vision layer even with images, an Omni model's
audio tower with image data, Mllama's cross-attention live only with images; mixes declared in files,
settings and flags. Bundled inventories of real checkpoints; tests/test_gradient.py backs the table with
real backward passes."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from loralint.cli import main
from loralint.config import Settings
from loralint.engine import Linter
from loralint.modality import canonical, mix_of, verdict
from loralint.resolve import Resolver
from loralint.site import Evidence

pytestmark = pytest.mark.usefixtures("offline_env")
OMNI = "Qwen2_5OmniForConditionalGeneration"


def script(tmp_path: Path, model: str, targets: str, declaration: str = "", cls: str = "AutoModelForImageTextToText") -> Path:
    path = tmp_path / "train.py"
    path.write_text(f"from peft import LoraConfig, get_peft_model\nfrom transformers import {cls}\n"
                    f"model = {cls}.from_pretrained('{model}')\n"
                    f"model = get_peft_model(model, LoraConfig(target_modules={targets}))  {declaration}\n")
    return path


def lint(path: Path, **kwargs):
    return Linter(Settings(root=path.parent), Resolver(offline=True), **kwargs).lint_path(path)


def test_mix_spelling_and_verdict():
    assert canonical("image+text") == "text+image" and canonical("text,audio") == "text+audio"
    assert mix_of("multimodal") == {"text", "image", "video", "audio"} and mix_of("unknown") is None
    assert verdict([Evidence("text", "a"), Evidence("audio", "b")]) == "text+audio"
    assert verdict([Evidence("image", "a"), Evidence("multimodal", "b")]) == "multimodal"
    with pytest.raises(ValueError):
        canonical("text+smell")


def test_llava_discards_its_last_vision_layer_even_with_images(tmp_path):
    path = script(tmp_path, "llava-hf/llava-1.5-7b-hf", '"all-linear"', "# loralint: modality=text+image")
    result = lint(path)
    (diag,) = result.diagnostics
    assert diag.code == "LL001" and "6 of " in diag.message
    assert "`model.vision_tower.encoder.layers.23`, which runs but whose output Llava discards " \
           "(vision_feature_layer = -2), so they never train even with images" in diag.message
    dead = {a.module.name.rsplit(".", 1)[0] for a in result.analyses[0].dead_modules}
    assert dead == {"model.vision_tower.encoder.layers.23.self_attn", "model.vision_tower.encoder.layers.23.mlp"}
    with contextlib.redirect_stdout(io.StringIO()):
        main(["check", "--offline", "--fix", str(path)])
    assert lint(path).diagnostics == []  # the rewrite keeps every live adapter, tower included


def test_llava_with_text_only_data_is_unchanged(tmp_path):
    (diag,) = lint(script(tmp_path, "llava-hf/llava-1.5-7b-hf", '"all-linear"', "# loralint: modality=text")).diagnostics
    assert "which never see gradient with text-only data" in diag.message and "discards" not in diag.message


def test_omni_model_trained_on_images_never_runs_its_audio_tower(tmp_path):
    path = script(tmp_path, "Qwen/Qwen2.5-Omni-7B", '["q_proj", "k_proj", "v_proj"]', cls=OMNI)
    (diag,) = lint(path, modality="text+image").diagnostics
    assert diag.code == "LL001" and "audio_tower" in diag.message and "with text+image data" in diag.message
    assert "visual" not in diag.message.split("adapters (")[1].split("which")[0]  # the vision tower trains



def test_omni_model_trained_on_speech_never_runs_its_vision_tower(tmp_path):
    # the vision blocks name their attention q, k, v; the audio encoder's are q_proj, k_proj, v_proj
    path = script(tmp_path, "Qwen/Qwen2.5-Omni-7B", '["q", "v", "q_proj", "v_proj"]', cls=OMNI)
    (diag,) = lint(path, modality="text+audio").diagnostics
    assert diag.code == "LL001" and "with text+audio data" in diag.message
    named = diag.message.split("adapters (")[1].split("which")[0]
    assert "visual" in named and "audio_tower" not in named  # the audio tower trains

def test_mllama_cross_attention_lives_only_with_images(tmp_path):
    path = script(tmp_path, "meta-llama/Llama-3.2-11B-Vision-Instruct", '["q_proj", "v_proj"]')
    assert lint(path, modality="text+image").diagnostics == []
    (text_only,) = lint(path, modality="text").diagnostics
    assert "layers.3" in text_only.message


def test_mix_from_settings_and_report_flag(tmp_path):
    path = script(tmp_path, "Qwen/Qwen2.5-Omni-7B", '["q_proj", "gate_proj"]', cls=OMNI)
    (tmp_path / "pyproject.toml").write_text('[tool.loralint]\nmodality = ["text", "audio"]\n')
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.chdir(tmp_path):
        main(["check", "--offline", "--output-format", "json", "train.py"])
    (diag,) = json.loads(out.getvalue())
    assert "with text+audio data" in diag["message"] and "visual" in diag["message"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(["report", "--offline", "--format", "json", "--modality", "text,image", str(path)])
    (site,) = json.loads(out.getvalue())["sites"]
    assert site["modality"]["value"] == "text+image"
    assert all(m["dead"] == (m["component"] == "audio") for m in site["modules"])  # the vision tower's gate_proj lives
    assert 0 < site["mix_dead_params"] < site["dead_params"]


def test_a_vision_projector_is_dead_with_audio_only_media(tmp_path):
    # LLaVA's projector is fed by its vision tower: speech data never reaches it
    path = script(tmp_path, "llava-hf/llava-1.5-7b-hf", '"all-linear"')
    (diag,) = lint(path, modality="text+audio").diagnostics
    assert "`model.multi_modal_projector`" in diag.message and "`model.vision_tower`" in diag.message
    # with images the projector trains, and only the discarded vision layer is left
    (diag,) = lint(path, modality="text+image").diagnostics
    assert "multi_modal_projector" not in diag.message and "discards" in diag.message


@pytest.mark.parametrize(("config", "dead_layers", "why"), [
    ({"vision_feature_layer": -2}, [23], "vision_feature_layer = -2"),
    ({"vision_feature_layer": -1}, [], "vision_feature_layer = -1"),
    ({}, [23], "vision_feature_layer = -2, llava's default"),  # a config saved as a diff leaves the default out
    ({"vision_feature_layer": [3, -20]}, list(range(5, 24)), "vision_feature_layer = [3, -20]"),  # the deepest read
    ({"vision_feature_layer": 2}, list(range(2, 24)), "vision_feature_layer = 2"),  # hidden state 2: layer 1's output
    ({"vision_feature_layers": [-2, -5, 6]}, [23], "vision_feature_layer = [-2, -5, 6]"),  # VipLlava's older key
    ({"vision_feature_layer": 40}, [], ""),  # not a layer the tower has: the model fails to run, nothing to say
    ({"vision_feature_layer": "last"}, [], ""),
])
def test_discarded_vision_layers_read_from_the_config(config, dead_layers, why):
    from loralint.arch import discarded_vision_layers

    _, inventory = Resolver(offline=True).inventory("llava-hf/llava-1.5-7b-hf")
    discarded, said = discarded_vision_layers("llava", config, inventory)
    assert discarded == {f"model.vision_tower.encoder.layers.{i}" for i in dead_layers}
    assert said == why


def test_vision_feature_layer_defaults_are_transformers_own():
    """A config.json that leaves vision_feature_layer out gets the model type's default: the table must hold
    transformers' own defaults, or a LLaVA-OneVision checkpoint would lose its last SigLIP layer to a -2."""
    transformers = pytest.importorskip("transformers")
    from loralint.arch import VISION_FEATURE_LAYER_DEFAULTS

    for model_type, default in VISION_FEATURE_LAYER_DEFAULTS.items():
        theirs = transformers.CONFIG_MAPPING[model_type]().vision_feature_layer
        assert (list(theirs) if isinstance(theirs, tuple) else theirs) == default, model_type


def _two_tower_inventory():
    """Video-LLaVA's shape: an image tower and a video tower of four layers each, a projector, a language model."""
    from loralint.inventory import Inventory, Module

    modules = []
    for tower in ("image_tower", "video_tower"):
        modules.append(Module(f"model.{tower}", "CLIPVisionModel", "other", "vision", (), 0))
        for i in range(4):
            modules.append(Module(f"model.{tower}.encoder.layers.{i}", "CLIPEncoderLayer", "other", "vision", (), 0))
            modules.append(Module(f"model.{tower}.encoder.layers.{i}.mlp.fc1", "Linear", "linear", "vision", (8, 8), 64))
    modules.append(Module("model.multi_modal_projector.linear_1", "Linear", "linear", "projector", (8, 8), 64))
    modules.append(Module("model.language_model.layers.0.mlp.up_proj", "Linear", "linear", "language", (8, 8), 64))
    return Inventory("video_llava", "VideoLlavaForConditionalGeneration", "5", "", True, None, modules)


def test_a_tower_per_medium_runs_only_on_its_medium():
    from loralint.analysis import Analysis
    from loralint.arch import discarded_vision_layers

    inventory = _two_tower_inventory()
    analysis = Analysis(site=None, inventory=inventory)
    discarded, why = discarded_vision_layers("video_llava", {}, inventory)
    # the default -2 leaves the last layer of each tower discarded
    assert discarded == {"model.image_tower.encoder.layers.3", "model.video_tower.encoder.layers.3"}
    assert why == "vision_feature_layer = -2, video_llava's default"
    analysis.discarded = frozenset(discarded)

    def dead(*mix):
        return {m.name for m in inventory.modules if m.kind == "linear" and analysis.dead(m, frozenset(mix))}

    towers = {f"model.{t}.encoder.layers.{i}.mlp.fc1" for t in ("image_tower", "video_tower") for i in range(4)}
    last_layers = {f"model.{t}.encoder.layers.3.mlp.fc1" for t in ("image_tower", "video_tower")}
    video_tower = {n for n in towers if "video_tower" in n}
    image_tower = towers - video_tower
    assert dead("text", "image") == video_tower | last_layers
    assert dead("text", "video") == image_tower | last_layers
    assert dead("text", "image", "video") == last_layers
    assert dead("text") == towers | {"model.multi_modal_projector.linear_1"}


def test_a_projector_named_for_one_medium_is_fed_by_that_tower_alone(tmp_path):
    """Gemma 4 has a vision and an audio tower, each with its projector (embed_vision, embed_audio)."""
    path = script(tmp_path, "google/gemma-4-E2B-it", '"all-linear"')
    (analysis,) = Linter(Settings(root=tmp_path), Resolver(offline=True), modality="text+image").lint_path(path).analyses
    dead = {a.module.name.split(".")[1] for a in analysis.dead_modules}
    assert dead == {"audio_tower", "embed_audio"}
    (analysis,) = Linter(Settings(root=tmp_path), Resolver(offline=True), modality="text+audio").lint_path(path).analyses
    assert {a.module.name.split(".")[1] for a in analysis.dead_modules} == {"vision_tower", "embed_vision"}
    (analysis,) = Linter(Settings(root=tmp_path), Resolver(offline=True), modality="text").lint_path(path).analyses
    assert {a.module.name.split(".")[1] for a in analysis.dead_modules} == {"vision_tower", "embed_vision",
                                                                          "audio_tower", "embed_audio"}


@pytest.mark.parametrize("apply", [
    "model = get_peft_model(model.thinker, config)",
    "thinker = model.thinker\nthinker = get_peft_model(thinker, config)",
    "model = model.thinker\nmodel = get_peft_model(model, config)",
])
def test_lora_on_a_part_of_the_model_is_matched_on_that_parts_names(tmp_path, apply):
    """The whole Qwen2.5-Omni loaded, LoRA applied to its thinker: PEFT sees `model.audio_tower...`, not
    `thinker.model.audio_tower...`, and the fix must be written in those names."""
    path = tmp_path / "train.py"
    path.write_text("from peft import LoraConfig, get_peft_model\nfrom transformers import Qwen2_5OmniForConditionalGeneration\n"
                    "model = Qwen2_5OmniForConditionalGeneration.from_pretrained('Qwen/Qwen2.5-Omni-7B')\n"
                    "config = LoraConfig(target_modules=['q_proj', 'v_proj'])  # loralint: modality=text+image\n"
                    f"{apply}\n")
    (diag,) = lint(path).diagnostics
    assert diag.code == "LL001" and "`model.audio_tower`" in diag.message and "thinker." not in diag.message
    assert diag.fix.edits[0].content == r'r"model\.language_model\..*\.(q_proj|v_proj)"'
    with contextlib.redirect_stdout(io.StringIO()):
        main(["check", "--offline", "--fix", str(path)])
    assert lint(path).diagnostics == []


def test_lora_on_a_part_the_model_does_not_have_is_ll901(tmp_path):
    path = tmp_path / "train.py"
    path.write_text("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForImageTextToText\n"
                    "model = AutoModelForImageTextToText.from_pretrained('google/gemma-3-4b-it')\n"
                    "model = get_peft_model(model.thinker, LoraConfig(target_modules=['q_proj']))\n")
    (diag,) = lint(path).diagnostics
    assert diag.code == "LL901" and "applied to `.thinker` of the model" in diag.message


@pytest.mark.parametrize(("keyword", "medium"), [("images", "image"), ("videos", "video"), ("audio", "audio")])
def test_a_processor_keyword_names_its_medium(tmp_path, keyword, medium):
    path = script(tmp_path, "llava-hf/llava-1.5-7b-hf", '"all-linear"')
    path.write_text(path.read_text() + f"batch = processor(text=['hi'], {keyword}=media)\n")
    (analysis,) = lint(path).analyses
    assert analysis.modality == f"text+{medium}" and f"passes {keyword}= to processor" in analysis.site.evidence[0].reason


def test_qwen_omni_video_with_its_sound_track_trains_the_audio_tower(tmp_path):
    """The Qwen Omni cookbook's `processor(..., videos=videos, use_audio_in_video=True)`: videos bring audio too."""
    path = script(tmp_path, "Qwen/Qwen2.5-Omni-7B", '["q_proj", "v_proj"]', cls="Qwen2_5OmniThinkerForConditionalGeneration")
    text = path.read_text() + "inputs = processor(text=texts, videos=videos, use_audio_in_video=True)\n"
    path.write_text(text)
    (analysis,) = lint(path).analyses
    assert analysis.mix == {"text", "video", "audio"} and analysis.dead_modules == []
    path.write_text(text.replace("use_audio_in_video=True", "use_audio_in_video=False"))
    (diag,) = lint(path).diagnostics
    assert "`model.audio_tower`" in diag.message and "with text+video data" in diag.message
