"""The dead set checked against real gradients, for text-only data and for data with images or audio.

Each architecture is built small (widths divided, layer counts kept, so module names are the real
ones), wrapped by PEFT with `all-linear` and `init_lora_weights=False`, run forward and backward once
on the CPU: on text alone, or with the media's real input tensors in the model's own token layout. The
modules whose LoRA weights got no gradient must be exactly the modules loralint calls dead for that mix.
"""

from __future__ import annotations

import warnings

import pytest

from peft_oracle import build, default_config, peft, torch, zoo_config
from tiny import shrink

pytestmark = pytest.mark.slow

def _with_mrope(section):
    """Models that read a hard-coded default mrope_section need one that fits the divided head width."""

    def fix(config: dict) -> dict:
        def walk(node):
            if isinstance(node, dict):
                for key, value in node.items():
                    if key in ("rope_parameters", "rope_scaling") and isinstance(value, dict):
                        value["mrope_section"] = list(section)
                    else:
                        walk(value)

        walk(config)
        return config

    return fix


# name: (config factory, model class or None, post-shrink fix, forward options)
ARCHITECTURES = {
    "mllama": (lambda: zoo_config("meta-llama/Llama-3.2-11B-Vision-Instruct"), None, None, {}),
    "qwen2_5_vl": (lambda: zoo_config("Qwen/Qwen2.5-VL-3B-Instruct"), None, None, {}),
    # The thinker's rope index reads vision_start_token_id, which its default config leaves out.
    "qwen2_5_omni_thinker": (
        lambda: {**default_config("qwen2_5_omni")["thinker_config"], "vision_start_token_id": 151652},
        "Qwen2_5OmniThinkerForConditionalGeneration", _with_mrope([2, 3, 3]), {},
    ),
    "gemma3": (lambda: zoo_config("google/gemma-3-4b-it"), None, None, {}),
    "llava": (lambda: zoo_config("llava-hf/llava-1.5-7b-hf"), None, None, {}),
    # transformers 5.24's Llama4ForConditionalGeneration.forward fails on text-only input (it reads
    # `image_outputs` from the language model's output); without an image it only embeds the tokens
    # and calls its language model, so the test calls that directly.
    "llama4": (lambda: zoo_config("meta-llama/Llama-4-Scout-17B-16E-Instruct"), None, None, {"via": "language_model"}),
    "idefics3": (lambda: default_config("idefics3"), None, None, {}),
    "kimi_k25": (lambda: default_config("kimi_k25"), None, None, {}),
    "qwen3_vl": (lambda: zoo_config("Qwen/Qwen3-VL-2B-Instruct"), None, None, {}),
    "gemma4": (lambda: zoo_config("google/gemma-4-E2B-it"), None, None, {}),
    "mistral3": (lambda: zoo_config("mistralai/Devstral-Small-2-24B-Instruct"), None, None, {}),
    "glm4v": (lambda: zoo_config("zai-org/GLM-4.1V-9B-Thinking"), None, _with_mrope([4, 2, 2]), {}),
    "lfm2_vl": (lambda: zoo_config("LiquidAI/LFM2.5-VL-1.6B"), None, None, {}),
    "phi4_multimodal": (lambda: default_config("phi4_multimodal"), None, None, {}),
    "paligemma": (lambda: default_config("paligemma"), None, None, {}),
    # no vision sub-model: vision_embed_tokens maps image patches and only runs on them (arch.py)
    "fuyu": (lambda: default_config("fuyu"), None, None, {}),
}

# Llama 4's router subclasses nn.Linear but returns a tuple: all-linear wraps it and the LoRA forward
# crashes (loralint reports that as peft-would-raise), so the gradient run leaves it out.
EXCLUDE_FROM_RUN = r".*\.router"


def _real_model(config: dict, model_class: str | None):
    from loralint.build import make_config, resolve_model_class

    cfg = make_config(config)
    cls = resolve_model_class(cfg, model_class)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls._from_config(cfg, dtype=torch.float32)


def _untrained(wrapped) -> tuple[set[str], set[str]]:
    """The LoRA layers whose A and B got no nonzero gradient, and all LoRA layers, by module name."""
    from peft.tuners.lora import LoraLayer

    no_grad, adapted = set(), set()
    for name, module in wrapped.base_model.model.named_modules():
        if isinstance(module, LoraLayer):
            adapted.add(name)
            grads = [p.grad for p in module.lora_A.parameters()] + [p.grad for p in module.lora_B.parameters()]
            if all(g is None or not torch.any(g != 0) for g in grads):
                no_grad.add(name)
    return no_grad, adapted


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_text_only_dead_matches_gradient(arch):
    make, model_class, fix, forward_kwargs = ARCHITECTURES[arch]
    config = shrink(make(), 8)
    if fix is not None:
        config = fix(config)
    model = _real_model(config, model_class)
    _, inventory = build(config, model_class)
    dead_expected = {m.name for m in inventory.modules if inventory.text_only_dead(m)}

    lora = peft.LoraConfig(target_modules="all-linear", exclude_modules=EXCLUDE_FROM_RUN, init_lora_weights=False, r=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapped = peft.get_peft_model(model, lora)
    wrapped.train()
    vocab = model.get_input_embeddings().num_embeddings
    input_ids = torch.randint(0, min(vocab, 1000), (1, 12), generator=torch.Generator().manual_seed(0))
    forward = wrapped
    if "via" in forward_kwargs:
        forward = getattr(wrapped.base_model.model, forward_kwargs["via"])
    out = forward(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), labels=input_ids)
    loss = out[0] if isinstance(out, tuple) else out.loss
    loss.backward()

    no_grad, adapted = _untrained(wrapped)
    assert adapted, "PEFT adapted nothing"
    assert no_grad == dead_expected & adapted
    # The run must exercise both sides for the comparison to mean anything.
    assert no_grad and adapted - no_grad


def test_forward_crash_table():
    """Llama 4's router: PEFT wraps it under all-linear, and the first forward crashes. loralint says so."""
    from loralint.arch import LORA_BREAKS_FORWARD
    from loralint.matching import LoraSpec, match

    make, model_class, _, _ = ARCHITECTURES["llama4"]
    config = shrink(make(), 16)
    model = _real_model(config, model_class)
    _, inventory = build(config, model_class)
    routers = {m.name for m in inventory.modules if m.cls in LORA_BREAKS_FORWARD}
    assert routers

    result = match(inventory, LoraSpec(target_modules="all-linear", r=2))
    assert result.error is None and result.forward_crash and "Llama4Router" in result.forward_crash
    assert routers <= {a.module.name for a in result.adapted}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapped = peft.get_peft_model(model, peft.LoraConfig(target_modules="all-linear", r=2))
    input_ids = torch.randint(0, 1000, (1, 8), generator=torch.Generator().manual_seed(0))
    with pytest.raises(AttributeError, match="tuple"):
        wrapped.base_model.model.language_model(input_ids=input_ids, labels=input_ids)

    excluded = match(inventory, LoraSpec(target_modules="all-linear", exclude_modules=["router"], r=2))
    assert excluded.forward_crash is None and excluded.error is None


# -- with images: what dies even when the vision tower runs (issue: dead adapters for every data mix) --------
@pytest.mark.parametrize("make", [lambda: zoo_config("llava-hf/llava-1.5-7b-hf")], ids=["llava-1.5"])
def test_llava_with_images_leaves_the_discarded_vision_layer_dead(make):
    """One forward and backward WITH an image: every adapter trains but those of the vision layers after
    `vision_feature_layer`, which loralint names for any mix with images."""
    from loralint.arch import discarded_vision_layers

    config = shrink(make(), 8)
    model = _real_model(config, None)
    _, inventory = build(config, None)
    discarded, _ = discarded_vision_layers(inventory.model_type, config, inventory)
    assert discarded == {f"model.vision_tower.encoder.layers.{config['vision_config'].get('num_hidden_layers', 24) - 1}"}

    lora = peft.LoraConfig(target_modules="all-linear", init_lora_weights=False, r=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapped = peft.get_peft_model(model, lora)
    wrapped.train()
    input_ids, extra = _clip_batch(config, model)  # the real geometry: 336 pixels, 576 image tokens
    wrapped(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), labels=input_ids, **extra).loss.backward()

    no_grad, adapted = _untrained(wrapped)
    expected = {name for name in adapted if any(name.startswith(root + ".") for root in discarded)}
    assert no_grad == expected and len(expected) == 6  # q, k, v, out_proj, fc1, fc2 of that layer


def _fixed_image_batch(config: dict, image_tokens: int, token: int):
    """Input ids with `image_tokens` image tokens first, and pixel values of the vision tower's size."""
    size = config["vision_config"]["image_size"]
    input_ids = _media_first(torch.full((1, image_tokens), token), token)
    pixel_values = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    return input_ids, {"pixel_values": pixel_values}


def _media_first(media_ids, *special: int):
    """The media's tokens, then eight text tokens that are none of the model's special tokens."""
    text = torch.randint(0, 1000, (1, 8), generator=torch.Generator().manual_seed(0))
    for token in special:
        text[text == token] = 1
    return torch.cat([media_ids, text], dim=1)


def _counted_image_batch(token_key: str, pixels, features_of: str = "get_image_features"):
    """As many image (or video) tokens as the model's own `get_image_features` (`get_video_features`) yields
    for the pixels (anyres tiling, pixel shuffles and merges included): the model's own token layout."""

    def batch(config, model):
        inputs = pixels(config)
        with torch.no_grad():
            features = getattr(model.model, features_of)(**inputs, return_dict=True).pooler_output
        count = sum(f.reshape(-1, f.shape[-1]).shape[0] for f in features)
        token = config[token_key]
        return _media_first(torch.full((1, count), token), token), inputs

    return batch


def _gemma3_batch(config, model):
    return _fixed_image_batch(config, config["mm_tokens_per_image"], config["image_token_index"])


def _paligemma_batch(config, model):
    vision = config["vision_config"]
    image_tokens = (vision["image_size"] // vision["patch_size"]) ** 2
    input_ids, extra = _fixed_image_batch(config, image_tokens, config["image_token_index"])
    # the prefix (image) attends bidirectionally, the suffix is what the loss trains
    extra["token_type_ids"] = torch.cat([torch.zeros(1, image_tokens), torch.ones(1, 8)], dim=1).long()
    return input_ids, extra


def _clip_batch(config, model):
    """LLaVA and VipLlava: one image of the tower's size, a token per patch (the CLS feature dropped)."""
    vision = config["vision_config"]
    return _fixed_image_batch(config, (vision["image_size"] // vision["patch_size"]) ** 2, config["image_token_index"])


def _qwen_vl_batch(config, model):
    """A 4x4-patch image: flattened patches, its grid, and the merged tokens after a vision-start token."""
    vision = config["vision_config"]
    patch, temporal, merge = vision["patch_size"], vision["temporal_patch_size"], vision["spatial_merge_size"]
    image_token = config.get("image_token_id", config.get("image_token_index"))
    input_ids = _media_first(torch.cat([torch.tensor([[config["vision_start_token_id"]]]),
                                        torch.full((1, 16 // (merge * merge)), image_token)], dim=1), image_token)
    channels = vision.get("in_chans", vision.get("in_channels", 3))
    pixel_values = torch.randn(16, channels * temporal * patch * patch, generator=torch.Generator().manual_seed(1))
    extra = {"pixel_values": pixel_values, "image_grid_thw": torch.tensor([[1, 4, 4]])}
    if config["model_type"] in ("qwen2_vl", "qwen3_vl"):  # their M-RoPE reads the token types
        extra["mm_token_type_ids"] = (input_ids == image_token).int()
    return input_ids, extra


def _qwen_video_batch(config, model):
    """A video of two temporal patches (four frames) of 4x4 patches, its merged tokens after a vision-start token."""
    vision = config["vision_config"]
    patch, temporal, merge = vision["patch_size"], vision["temporal_patch_size"], vision["spatial_merge_size"]
    token = config.get("video_token_id", config.get("video_token_index"))
    input_ids = _media_first(torch.cat([torch.tensor([[config["vision_start_token_id"]]]),
                                        torch.full((1, 2 * 16 // (merge * merge)), token)], dim=1), token)
    pixel_values = torch.randn(2 * 16, 3 * temporal * patch * patch, generator=torch.Generator().manual_seed(1))
    extra = {"pixel_values_videos": pixel_values, "video_grid_thw": torch.tensor([[2, 4, 4]])}
    # seconds per temporal patch, which their M-RoPE reads (each model names it its own way)
    if config["model_type"] == "qwen2_5_vl":
        extra["second_per_grid_ts"] = torch.tensor([1.0])
    else:
        extra["video_second_per_grid"] = torch.tensor([1.0])
    return input_ids, extra


def _omni_audio_batch(config, model):
    """Two seconds of mel features (200 frames) between the audio start and end tokens, with as many audio
    tokens as the thinker's own audio encoder yields."""
    frames = 200
    features = torch.randn(1, config["audio_config"]["num_mel_bins"], frames, generator=torch.Generator().manual_seed(1))
    mask = torch.ones(1, frames, dtype=torch.long)
    with torch.no_grad():
        count = model.model.get_audio_features(features, mask, return_dict=True).last_hidden_state.shape[0]
    token = config["audio_token_index"]
    audio = torch.cat([torch.tensor([[config["audio_start_token_id"]]]), torch.full((1, count), token),
                       torch.tensor([[config["audio_end_token_id"]]])], dim=1)
    return _media_first(audio, token), {"input_features": features, "feature_attention_mask": mask}


def _mllama_batch(config, model):
    """One image of four tiles (aspect ratio 2x2), its token first, and a cross-attention mask over all tiles."""
    size, tiles = config["vision_config"]["image_size"], config["vision_config"]["max_num_tiles"]
    input_ids = _media_first(torch.tensor([[config["image_token_index"]]]), config["image_token_index"])
    pixel_values = torch.randn(1, 1, tiles, 3, size, size, generator=torch.Generator().manual_seed(1))
    ratios = config["vision_config"]["supported_aspect_ratios"]
    return input_ids, {"pixel_values": pixel_values, "aspect_ratio_ids": torch.tensor([[ratios.index([2, 2]) + 1]]),
                       "aspect_ratio_mask": torch.ones(1, 1, tiles, dtype=torch.long),
                       "cross_attention_mask": torch.ones(1, input_ids.shape[1], 1, tiles, dtype=torch.long)}


def _open_gates(model) -> None:
    """Mllama initialises its tanh gates (cross-attention, tile and position embeddings) to zero, which blocks
    every gradient through them; a trained checkpoint's gates are open."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "gate" in name.rsplit(".", 1)[-1] and parameter.numel() <= 4:
                parameter.fill_(0.5)


def _idefics3_batch(config, model):
    vision = config["vision_config"]
    size = vision["image_size"]
    tokens = (size // vision["patch_size"]) ** 2 // config["scale_factor"] ** 2  # after the pixel shuffle
    input_ids, _ = _fixed_image_batch(config, tokens, config["image_token_id"])
    return input_ids, {"pixel_values": torch.randn(1, 1, 3, size, size, generator=torch.Generator().manual_seed(1))}


def _anyres_pixels(config):
    """A 50x100 image: LLaVA-NeXT's anyres picks the 56x112 grid, so the base view and two tiles of 56x56."""
    return {"pixel_values": torch.randn(1, 3, 3, 56, 56, generator=torch.Generator().manual_seed(1)),
            "image_sizes": torch.tensor([[50, 100]])}


def _square_pixels(size: int, with_sizes: bool = False):
    def pixels(config):
        inputs = {"pixel_values": torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))}
        if with_sizes:  # Pixtral reads each image's own size
            inputs["image_sizes"] = torch.tensor([[size, size]])
        return inputs

    return pixels


def _gemma4_image_batch(config, model):
    """A 6x6-patch image (flattened patches and their x, y positions), pooled 3x3 into the model's soft tokens."""
    patch, side = config["vision_config"]["patch_size"], 6
    pixel_values = torch.randn(1, side * side, 3 * patch * patch, generator=torch.Generator().manual_seed(1))
    positions = torch.tensor([[[x, y] for y in range(side) for x in range(side)]])
    with torch.no_grad():
        count = sum(f.shape[0] for f in model.model.get_image_features(pixel_values, positions).pooler_output)
    token = config["image_token_id"]
    input_ids = _media_first(torch.full((1, count), token), token)
    return input_ids, {"pixel_values": pixel_values, "image_position_ids": positions,
                       "mm_token_type_ids": (input_ids == token).long()}


def _gemma4_audio_batch(config, model):
    """160 frames of 128 mel bins, with as many audio tokens as the audio tower's subsampling yields."""
    features = torch.randn(1, 160, 128, generator=torch.Generator().manual_seed(1))
    mask = torch.ones(1, 160, dtype=torch.bool)
    with torch.no_grad():
        count = model.model.get_audio_features(features, mask, return_dict=True).pooler_output.shape[1]
    token = config["audio_token_id"]
    return _media_first(torch.full((1, count), token), token), {"input_features": features, "input_features_mask": mask}


def _video_llava_pixels(medium: str):
    def pixels(config):
        if medium == "image":
            return {"pixel_values_images": torch.randn(1, 3, 56, 56, generator=torch.Generator().manual_seed(1))}
        return {"pixel_values_videos": torch.randn(1, 8, 3, 56, 56, generator=torch.Generator().manual_seed(1))}

    return pixels


def _video_llava_geometry(config: dict) -> dict:
    config = _small_llava()(config)
    config["text_config"]["vocab_size"] = max(config["text_config"]["vocab_size"], config["video_token_index"] + 1)
    return config


def _idefics3_geometry(config: dict) -> dict:
    # a patch grid the pixel shuffle divides (8x8), and a vocabulary that holds the image token, which
    # transformers' default Idefics3 config places past its default text vocabulary
    config["vision_config"]["image_size"] = 256
    config["text_config"]["vocab_size"] = config["image_token_id"] + 1
    return config


def _small_tiles(config: dict) -> dict:
    config["vision_config"]["image_size"] = 112  # 64 patches a tile: the module names do not depend on it
    return config


def _even_vision_heads(config: dict) -> dict:
    # the divided vision width over the real head count gives an odd head width, which 2D rotary cannot split
    config["vision_config"]["num_heads"] = 4
    return config


def _small_llava(feature_layer=None, pinpoints: bool = False):
    """56-pixel images (16 patches), a vocabulary that holds the image token (transformers' default LLaVA
    configs place it just past the default Llama vocabulary), and optionally another `vision_feature_layer`."""

    def fix(config: dict) -> dict:
        config["vision_config"]["image_size"] = 56
        config["text_config"]["vocab_size"] = max(config["text_config"]["vocab_size"], config["image_token_index"] + 1)
        if pinpoints:
            config["image_grid_pinpoints"] = [[56, 112], [112, 56]]
        if feature_layer is not None:
            config["vision_feature_layer"] = feature_layer
        return config

    return fix


def _internvl_geometry(config: dict) -> dict:
    config["vision_config"]["image_size"] = [56, 56]  # 4x4 patches, 2x2 tokens after the pixel shuffle
    return config


def _omni_thinker():
    # the thinker's rope index reads vision_start_token_id, which its default config leaves out
    return {**default_config("qwen2_5_omni")["thinker_config"], "vision_start_token_id": 151652}


def _omni_fix(config: dict) -> dict:
    return _even_vision_heads(_with_mrope([2, 3, 3])(config))


TEXT_IMAGE, TEXT_AUDIO, TEXT_VIDEO = frozenset({"text", "image"}), frozenset({"text", "audio"}), frozenset({"text", "video"})
OMNI_THINKER = "Qwen2_5OmniThinkerForConditionalGeneration"

# name: (config factory, model class or None, batch(config, model) with the media, post-shrink fix, the mix)
WITH_MEDIA = {
    "gemma3": (lambda: zoo_config("google/gemma-3-4b-it"), None, _gemma3_batch, None, TEXT_IMAGE),
    "paligemma": (lambda: default_config("paligemma"), None, _paligemma_batch, None, TEXT_IMAGE),
    "qwen2_vl": (lambda: zoo_config("Qwen/Qwen2-VL-2B-Instruct"), None, _qwen_vl_batch, _even_vision_heads, TEXT_IMAGE),
    "qwen2_5_vl": (lambda: zoo_config("Qwen/Qwen2.5-VL-3B-Instruct"), None, _qwen_vl_batch, _even_vision_heads, TEXT_IMAGE),
    "qwen3_vl": (lambda: zoo_config("Qwen/Qwen3-VL-2B-Instruct"), None, _qwen_vl_batch, _even_vision_heads, TEXT_IMAGE),
    "mllama": (lambda: zoo_config("meta-llama/Llama-3.2-11B-Vision-Instruct"), None, _mllama_batch, _small_tiles,
               TEXT_IMAGE),
    "idefics3": (lambda: default_config("idefics3"), None, _idefics3_batch, _idefics3_geometry, TEXT_IMAGE),
    # vision_feature_layer = -2 (the last CLIP layer dead), anyres tiling
    "llava_next": (lambda: default_config("llava_next"), None, _counted_image_batch("image_token_index", _anyres_pixels),
                   _small_llava(pinpoints=True), TEXT_IMAGE),
    # vision_feature_layer = -1 with the "full" strategy: the whole SigLIP tower trains
    "llava_onevision": (lambda: default_config("llava_onevision"), None,
                        _counted_image_batch("image_token_index", _anyres_pixels), _small_llava(pinpoints=True),
                        TEXT_IMAGE),
    # a list: the deepest entry (-2) decides
    "vipllava": (lambda: default_config("vipllava"), None, _clip_batch, _small_llava(), TEXT_IMAGE),
    # a positive index counts the embeddings as hidden state 0: [3, -20] reads layer 4, so 5-23 are dead
    "llava_feature_layers_3_-20": (lambda: zoo_config("llava-hf/llava-1.5-7b-hf"), None, _clip_batch,
                                   _small_llava([3, -20]), TEXT_IMAGE),
    "mistral3": (lambda: zoo_config("mistralai/Devstral-Small-2-24B-Instruct"), None,
                 _counted_image_batch("image_token_index", _square_pixels(56, with_sizes=True)), None, TEXT_IMAGE),
    "internvl": (lambda: default_config("internvl"), None, _counted_image_batch("image_token_id", _square_pixels(56)),
                 _internvl_geometry, TEXT_IMAGE),
    # a tower per medium: the video tower never runs on images, the image tower never on videos
    "video_llava_image": (lambda: default_config("video_llava"), None,
                          _counted_image_batch("image_token_index", _video_llava_pixels("image")), _video_llava_geometry,
                          TEXT_IMAGE),
    "video_llava_video": (lambda: default_config("video_llava"), None,
                          _counted_image_batch("video_token_index", _video_llava_pixels("video"), "get_video_features"),
                          _video_llava_geometry, TEXT_VIDEO),
    # vision and audio towers with a projector each (embed_vision, embed_audio): the other medium's pair is dead
    "gemma4_image": (lambda: zoo_config("google/gemma-4-E2B-it"), None, _gemma4_image_batch, None, TEXT_IMAGE),
    "gemma4_audio": (lambda: zoo_config("google/gemma-4-E2B-it"), None, _gemma4_audio_batch, None, TEXT_AUDIO),
    "qwen2_5_vl_video": (lambda: zoo_config("Qwen/Qwen2.5-VL-3B-Instruct"), None, _qwen_video_batch, _even_vision_heads,
                         TEXT_VIDEO),
    "qwen2_5_omni_thinker_video": (_omni_thinker, OMNI_THINKER, _qwen_video_batch, _omni_fix, TEXT_VIDEO),
    "qwen2_5_omni_thinker_image": (_omni_thinker, OMNI_THINKER, _qwen_vl_batch, _omni_fix, TEXT_IMAGE),
    "qwen2_5_omni_thinker_audio": (_omni_thinker, OMNI_THINKER, _omni_audio_batch, _omni_fix, TEXT_AUDIO),
}


@pytest.mark.parametrize("arch", list(WITH_MEDIA))
def test_dead_with_media_matches_gradient(arch):
    """With an image (or audio) in the batch, the modules loralint calls dead for that mix are exactly those
    whose adapters get no gradient: none for towers whose whole output reaches the language model, the
    layers after `vision_feature_layer` for LLaVA-style models, the other modality's tower for omni models."""
    from loralint.analysis import Analysis
    from loralint.arch import discarded_vision_layers

    make, model_class, batch, fix, mix = WITH_MEDIA[arch]
    config = shrink(make(), 8)
    if fix is not None:
        config = fix(config)
    model = _real_model(config, model_class)
    _open_gates(model)
    _, inventory = build(config, model_class)
    analysis = Analysis(site=None, inventory=inventory)
    analysis.discarded = frozenset(discarded_vision_layers(inventory.model_type, config, inventory)[0])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapped = peft.get_peft_model(model, peft.LoraConfig(target_modules="all-linear", init_lora_weights=False, r=2))
    wrapped.train()
    input_ids, extra = batch(config, model)
    wrapped(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), labels=input_ids, **extra).loss.backward()

    no_grad, adapted = _untrained(wrapped)
    expected = {m.name for m in inventory.modules if analysis.dead(m, mix)} & adapted
    assert no_grad == expected
    # the comparison is not vacuous: without the media, adapters are dead
    assert {m.name for m in inventory.modules if analysis.dead(m, frozenset({"text"}))} & adapted - expected


def test_omni_speech_output_never_trains():
    """The whole Qwen2.5-Omni model wrapped, its thinker trained with audio (the whole model has no training
    forward): the vision tower and the speech-output sub-models (talker, token2wav) get no gradient."""
    from loralint.analysis import Analysis

    config = _omni_thinker()
    whole = default_config("qwen2_5_omni")
    whole["thinker_config"] = config
    whole = shrink(whole, 8)
    whole = _with_mrope([2, 3, 3])(whole)
    whole["thinker_config"]["vision_config"]["num_heads"] = 4
    model = _real_model(whole, "Qwen2_5OmniForConditionalGeneration")
    _, inventory = build(whole, "Qwen2_5OmniForConditionalGeneration")
    analysis = Analysis(site=None, inventory=inventory)
    assert analysis.speech_output == {"talker", "token2wav"}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapped = peft.get_peft_model(model, peft.LoraConfig(target_modules="all-linear", init_lora_weights=False, r=2))
    wrapped.train()
    thinker = wrapped.base_model.model.thinker
    input_ids, extra = _omni_audio_batch(whole["thinker_config"], thinker)
    thinker(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), labels=input_ids, **extra).loss.backward()

    no_grad, adapted = _untrained(wrapped)
    assert no_grad == {m.name for m in inventory.modules if analysis.dead(m, TEXT_AUDIO)} & adapted
    assert {n.split(".")[0] for n in no_grad} == {"thinker", "talker", "token2wav"}
