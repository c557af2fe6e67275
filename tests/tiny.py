"""Tiny real models: a real config with every width divided and every layer count kept, so module
names are exactly the full model's while the weights fit on a CPU."""

from __future__ import annotations

import copy

# Keys that are widths (divided); head counts, layer counts, vocab and image geometry are kept.
WIDTH_KEYS = {
    "hidden_size", "intermediate_size", "moe_intermediate_size", "shared_expert_intermediate_size",
    "head_dim", "embed_dim", "out_hidden_size", "projection_dim", "d_model", "encoder_ffn_dim",
    "decoder_ffn_dim", "kv_lora_rank", "q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
    "v_head_dim", "hidden_size_per_layer_input", "vision_output_dim", "text_hidden_size",
    "mm_hidden_size", "output_dim", "intermediate_size_mlp", "global_head_dim", "projector_hidden_size",
    "vision_feature_dim", "qformer_hidden_size", "linear_key_head_dim", "linear_value_head_dim",
    "expert_intermediate_size", "audio_hidden_size", "output_hidden_size", "block_size_dim",
}
LIST_WIDTH_KEYS = {"mrope_section"}
# Experts are fused parameters in transformers v5 (no per-expert names), so their count can shrink too.
CAPPED_KEYS = {
    "num_experts": 4, "num_local_experts": 4, "n_routed_experts": 4, "moe_num_experts": 4,
    "num_experts_per_tok": 2, "moe_k": 2, "n_group": 1, "topk_group": 1,
}


def shrink(config: dict, factor: int = 16) -> dict:
    """Divide every width in a config dict (nested sub-configs included) by `factor`.

    The config is first completed by transformers, so widths left to defaults shrink too."""
    from loralint.build import make_config

    config = make_config(config).to_dict()

    def walk(node):
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key in CAPPED_KEYS and isinstance(value, int) and not isinstance(value, bool):
                    out[key] = min(value, CAPPED_KEYS[key])
                elif key in WIDTH_KEYS and isinstance(value, int) and not isinstance(value, bool) and value >= factor:
                    out[key] = value // factor
                elif key in LIST_WIDTH_KEYS and isinstance(value, list) and value and all(isinstance(v, int) for v in value):
                    # sections must still add up to the (divided) rotary half-width
                    scaled = [max(1, v // factor) for v in value]
                    scaled[0] += sum(value) // factor - sum(scaled)
                    out[key] = scaled
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(copy.deepcopy(config))
