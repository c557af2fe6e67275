"""Architecture knowledge that sub-model boundaries cannot give: language-side modules that only run
when an image is present. One entry per model_type; each is backed by a gradient test
(tests/test_gradient.py), which trains the real architecture on text and checks what got gradient.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def _mllama_image_only(config: dict, language_prefixes: Iterable[str], names: Iterable[str]) -> set[str]:
    # MllamaTextModel.forward skips its cross-attention decoder layers (`cross_attention_layers`)
    # entirely when there are no cross_attention_states: the whole layer, cross_attn and mlp alike.
    text_config = config.get("text_config") or {}
    layers = text_config.get("cross_attention_layers") or []
    layer_names = {f"{lang}.layers.{i}" for lang in language_prefixes for i in layers}
    prefixes = tuple(f"{layer}." for layer in layer_names)
    return {name for name in names if name in layer_names or name.startswith(prefixes)}


# model_type -> function(config dict, language component prefixes, module names) -> image-only names
IMAGE_ONLY_LANGUAGE_MODULES = {
    "mllama": _mllama_image_only,
}


def image_only_modules(model_type: str, config: dict, language_prefixes: Iterable[str], names: Iterable[str]) -> set[str]:
    rule = IMAGE_ONLY_LANGUAGE_MODULES.get(model_type)
    return rule(config, list(language_prefixes), names) if rule else set()


# LLaVA-style models read image features from `vision_feature_layer`: the encoder layers after the deepest
# one read run on every image, but their output is discarded, so their adapters never train. model_type ->
# transformers' default, which applies when a config.json leaves the key out (configs saved as a diff do);
# VipLlava's older configs spell it `vision_feature_layers`. tests/test_modality_mix.py checks these defaults
# against transformers' own, and tests/test_gradient.py the rule against real backward passes with an image.
VISION_FEATURE_LAYER_DEFAULTS = {
    "llava": -2, "llava_next": -2, "llava_next_video": -2, "video_llava": -2,
    "vipllava": [-2, -5, -8, -11, 6],
    "llava_onevision": -1, "mistral3": -1, "aya_vision": -1, "internvl": -1,
}


def _vision_feature_layer(model_type: str, config: dict) -> tuple[object, bool]:
    """The layer (or layers) the model reads image features from, and whether the config says it."""
    for key in ("vision_feature_layer", "vision_feature_layers"):
        if key in config:
            return config[key], True
    return VISION_FEATURE_LAYER_DEFAULTS[model_type], False


def discarded_vision_layers(model_type: str, config: dict, inventory) -> tuple[set[str], str]:
    """Vision encoder layers (module names, the layer containers) whose output the model discards."""
    if model_type not in VISION_FEATURE_LAYER_DEFAULTS or not isinstance(config, dict):
        return set(), ""
    vision_layers: dict[int, list[str]] = {}  # index -> the layer in each tower (Video-LLaVA has two)
    for module in inventory.modules:
        found = re.search(r"\.(?:encoder\.)?layers?\.(\d+)$", module.name)
        if module.component == "vision" and found:
            vision_layers.setdefault(int(found.group(1)), []).append(module.name)
    layer, stated = _vision_feature_layer(model_type, config)
    layers = list(layer) if isinstance(layer, (list, tuple)) else [layer]
    if not vision_layers or not layers or not all(isinstance(v, int) and not isinstance(v, bool) for v in layers):
        return set(), ""
    count = max(vision_layers) + 1
    # hidden_states[0] is the embeddings' output and hidden_states[i] layer i-1's, so -1 is the last layer
    deepest = max(v - 1 if v >= 0 else count + v for v in layers)
    if not -1 <= deepest < count:  # a layer the tower does not have: the model fails, not loralint's case
        return set(), ""
    discarded = {name for index, names in vision_layers.items() if index > deepest for name in names}
    shown = list(layer) if isinstance(layer, tuple) else layer
    return discarded, f"vision_feature_layer = {shown}" + ("" if stated else f", {model_type}'s default")


# Models with a tower per medium (model_type -> {tower attribute: the medium it encodes}): each tower runs only
# on its own medium. Backed by tests/test_gradient.py (Video-LLaVA with an image, and with a video).
MEDIUM_TOWERS = {
    "video_llava": {"image_tower": "image", "video_tower": "video"},
}


def medium_towers(inventory) -> dict[str, str]:
    """{tower module name: medium} for the model's single-medium towers."""
    towers = MEDIUM_TOWERS.get(inventory.model_type, {})
    return {m.name: towers[m.name.rsplit(".", 1)[-1]] for m in inventory.modules
            if m.component == "vision" and m.name.rsplit(".", 1)[-1] in towers}


# A projector of a model with both vision and audio towers is fed by one of them when its path names that
# medium (Gemma 4's `embed_vision` and `embed_audio`): words in the module path -> the media that feed it.
# A path naming no medium (`multi_modal_projector`) or both is fed by every tower the model has.
# Backed by tests/test_gradient.py (Gemma 4 with an image, and with audio).
PROJECTOR_MEDIUM_WORDS = {
    "vision": ("image", "video"), "visual": ("image", "video"), "image": ("image", "video"), "img": ("image", "video"),
    "video": ("image", "video"), "audio": ("audio",), "speech": ("audio",),
}


def projector_media(name: str) -> frozenset[str]:
    """The media a projector's path names (empty when it names none, or names both kinds)."""
    media = set()
    for word in re.split(r"[._]", name):
        media.update(PROJECTOR_MEDIUM_WORDS.get(word, ()))
    return frozenset() if {"audio", "image"} <= media else frozenset(media)


# Omni models' speech-output sub-models (model_type -> their top-level names): they only run when the model
# generates speech, never in the thinker's training forward, so their adapters get no gradient from any data.
# Backed by tests/test_gradient.py (the whole Qwen2.5-Omni model wrapped, its thinker trained with audio).
SPEECH_OUTPUT_SUBMODELS = {
    "qwen2_5_omni": ("talker", "token2wav"),
}


def speech_output_roots(inventory) -> frozenset[str]:
    roots = SPEECH_OUTPUT_SUBMODELS.get(inventory.model_type, ())
    return frozenset(m.name for m in inventory.modules if m.name in roots)


# Models that take image input without a vision sub-model: the modules that map image patches into the
# language model (model_type -> their names' last part). They never run without an image: projector.
# Backed by tests/test_gradient.py (Fuyu: FuyuModel.forward calls vision_embed_tokens only on image_patches).
IMAGE_INPUT_PROJECTORS = {
    "fuyu": ("vision_embed_tokens",),
}


# Module classes that subclass nn.Linear (so `all-linear` or a name match wraps them) but whose
# forward does not return a tensor: the LoRA forward then crashes on the first step. PEFT accepts the
# config, so this is a crash at run time. Backed by tests/test_gradient.py::test_forward_crash_table.
LORA_BREAKS_FORWARD = {
    "Llama4Router": "returns a tuple (router scores, router logits), so LoRA's forward fails on it",
}
