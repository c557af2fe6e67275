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


def _discarded_vision_layers(config: dict, vision_layers: dict[int, str]) -> tuple[set[str], str]:
    """LLaVA-style models read image features from `vision_feature_layer` (default -2): the encoder layers after
    the deepest one read run on every image but their output is discarded, so their adapters never train."""
    layer = config.get("vision_feature_layer", -2)
    layers = layer if isinstance(layer, list) else [layer]
    if not vision_layers or not all(isinstance(v, int) and not isinstance(v, bool) for v in layers):
        return set(), ""
    count = max(vision_layers) + 1
    deepest = max(v if v >= 0 else count + v for v in layers)
    discarded = {name for index, name in vision_layers.items() if index > deepest}
    return discarded, f"vision_feature_layer = {layer}"


# model_type -> rule(config, {vision encoder layer index: module name}) -> (discarded layer names, why)
DISCARDED_VISION_LAYERS = {model_type: _discarded_vision_layers for model_type in (
    "llava", "llava_next", "llava_next_video", "llava_onevision", "vipllava", "video_llava", "mistral3",
    "aya_vision", "internvl")}


def discarded_vision_layers(model_type: str, config: dict, inventory) -> tuple[set[str], str]:
    """Vision encoder layers (module names, the layer containers) whose output the model discards."""
    rule = DISCARDED_VISION_LAYERS.get(model_type)
    if rule is None or not isinstance(config, dict):
        return set(), ""
    layers = {}
    for module in inventory.modules:
        found = re.search(r"\.(?:encoder\.)?layers?\.(\d+)$", module.name)
        if module.component == "vision" and found:
            layers[int(found.group(1))] = module.name
    return rule(config, layers)


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
