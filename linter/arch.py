"""Architecture knowledge that sub-model boundaries cannot give: language-side modules that only run
when an image is present. One entry per model_type; each is backed by a gradient test
(tests/test_gradient.py), which trains the real architecture on text and checks what got gradient.
"""

from __future__ import annotations

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
