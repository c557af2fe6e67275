"""The core, fast and without torch: PEFT's matching rules on bundled inventories of real checkpoints,
components and text-only-dead modules, and the settings that choose rules.

Expectations come from the checkpoints' own config.json (layer counts, cross-attention layers) and from
PEFT's documented rules, never from loralint's output; the slow differential test holds the same
engine against PEFT itself.
"""

from __future__ import annotations

import json
import re

import pytest

from loralint import rules
from loralint.matching import LoraSpec, lora_params, match, suffix_match
from loralint.resolve import ZOO_DIR, Resolver

QWEN_VL = "Qwen/Qwen2.5-VL-7B-Instruct"
QWEN_TEXT = "Qwen/Qwen2.5-7B-Instruct"
GEMMA3 = "google/gemma-3-4b-it"
MLLAMA = "meta-llama/Llama-3.2-11B-Vision-Instruct"


@pytest.fixture(scope="module")
def inventories(tmp_path_factory):
    resolver = Resolver(offline=True, cache_dir=tmp_path_factory.mktemp("cache"))
    return {ref: resolver.inventory(ref)[1] for ref in (QWEN_VL, QWEN_TEXT, GEMMA3, MLLAMA)}


def config(ref: str) -> dict:
    return json.loads((ZOO_DIR / ref.replace("/", "--") / "config.json").read_text())


def adapted(inventory, spec: LoraSpec) -> dict[str, int]:
    result = match(inventory, spec)
    assert result.error is None, result.error
    return {a.module.name: a.params for a in result.adapted}


def linear_named(inventory, leaf: str) -> list:
    return [m for m in inventory.modules if m.name.rsplit(".", 1)[-1] == leaf and m.kind == "linear"]


# -- target_modules -----------------------------------------------------------------------------------
def test_list_entry_is_a_suffix_on_whole_name_parts(inventories):
    inv = inventories[QWEN_VL]
    # `qkv` exists only in the vision tower: one per vision block
    names = adapted(inv, LoraSpec(target_modules=["qkv"]))
    assert len(names) == config(QWEN_VL)["vision_config"]["depth"]
    assert {m.component for m in inv.modules if m.name in names} == {"vision"}
    # `proj` is a whole part of `attn.proj`, never a tail of `q_proj`
    assert all(name.endswith(".proj") for name in adapted(inv, LoraSpec(target_modules=["proj"])))
    assert suffix_match("a.b.q_proj", "q_proj") and suffix_match("q_proj", "q_proj")
    assert not suffix_match("a.b.xq_proj", "q_proj")


def test_suffix_list_reaches_every_sub_model(inventories):
    inv = inventories[QWEN_VL]
    cfg = config(QWEN_VL)
    names = adapted(inv, LoraSpec(target_modules=["q_proj", "v_proj", "down_proj"]))
    language_layers = cfg.get("num_hidden_layers") or cfg["text_config"]["num_hidden_layers"]
    # q_proj and v_proj exist in the language model only; down_proj also in every vision block's MLP
    assert len(names) == 3 * language_layers + cfg["vision_config"]["depth"]


def test_string_target_is_a_full_match(inventories):
    inv = inventories[QWEN_TEXT]
    layers = config(QWEN_TEXT)["num_hidden_layers"]
    assert match(inv, LoraSpec(target_modules="q_proj")).error is not None  # no name *is* `q_proj`
    assert len(adapted(inv, LoraSpec(target_modules=r".*\.q_proj"))) == layers
    assert len(adapted(inv, LoraSpec(target_modules=r".*\.layers\.1\..*_proj"))) == 7


def test_all_linear_takes_every_linear_but_the_output_head(inventories):
    for ref in (QWEN_VL, QWEN_TEXT):
        inv = inventories[ref]
        names = adapted(inv, LoraSpec(target_modules="ALL-LINEAR"))  # any case
        linears = {m.name for m in inv.modules if m.kind == "linear"}
        assert set(names) == linears - {inv.output_embedding}
        assert inv.output_embedding == "lm_head" and "lm_head" not in names


def test_parameters_follow_the_linear_formula(inventories):
    inv = inventories[QWEN_TEXT]
    rank_pattern = {"down_proj": 4}
    names = adapted(inv, LoraSpec(target_modules=["q_proj", "down_proj"], r=16, rank_pattern=rank_pattern))
    by_name = {m.name: m for m in inv.modules}
    for name, params in names.items():
        fan_in, fan_out = by_name[name].dims[:2]
        r = 4 if name.endswith("down_proj") else 16
        assert params == r * (fan_in + fan_out) == lora_params(by_name[name], r)
    dora = adapted(inv, LoraSpec(target_modules=["q_proj"], r=8, use_dora=True))
    q = by_name["model.layers.0.self_attn.q_proj"]
    assert dora[q.name] == 8 * (q.dims[0] + q.dims[1]) + q.dims[1]  # DoRA adds a magnitude per output


# -- exclude_modules ------------------------------------------------------------------------------------
def test_string_exclude_is_a_full_match_not_a_search(inventories):
    inv = inventories[QWEN_VL]
    everything = adapted(inv, LoraSpec(target_modules="all-linear"))
    vision = {n for n in everything if n.startswith("model.visual.")}
    assert vision
    # "visual" as a string is re.fullmatch: it equals no module name, so nothing is excluded
    assert adapted(inv, LoraSpec(target_modules="all-linear", exclude_modules="visual")) == everything
    assert set(adapted(inv, LoraSpec(target_modules="all-linear", exclude_modules=r".*visual.*"))) == set(everything) - vision


def test_list_exclude_matches_whole_names_by_suffix(inventories):
    inv = inventories[QWEN_VL]
    everything = adapted(inv, LoraSpec(target_modules="all-linear"))
    # a container's name excludes none of the Linear layers under it
    assert adapted(inv, LoraSpec(target_modules="all-linear", exclude_modules=["visual"])) == everything
    kept = adapted(inv, LoraSpec(target_modules="all-linear", exclude_modules=["qkv", "down_proj"]))
    assert set(kept) == {n for n in everything if not n.endswith((".qkv", ".down_proj"))}


def test_modules_to_save_are_copies_not_adapters(inventories):
    inv = inventories[QWEN_TEXT]
    result = match(inv, LoraSpec(target_modules=["q_proj"], modules_to_save=["lm_head"]))
    assert [m.name for m in result.saved] == ["lm_head"]
    assert "lm_head" not in {a.module.name for a in result.adapted}


# -- layers_to_transform ----------------------------------------------------------------------------------
def test_layers_to_transform_filters_by_the_first_numbered_segment(inventories):
    text = inventories[QWEN_TEXT]
    names = adapted(text, LoraSpec(target_modules=["q_proj", "v_proj"], layers_to_transform=[0, 2]))
    assert {re.search(r"\.layers\.(\d+)\.", n).group(1) for n in names} == {"0", "2"} and len(names) == 4
    assert adapted(text, LoraSpec(target_modules=["q_proj"], layers_to_transform=[3], layers_pattern="layers")) == {
        "model.layers.3.self_attn.q_proj": match(text, LoraSpec(target_modules=["model.layers.3.self_attn.q_proj"])).adapted[0].params}
    # on a VLM, layer 0 of every stack: vision block 0 and language layer 0
    vlm = adapted(inventories[QWEN_VL], LoraSpec(target_modules=["qkv", "q_proj"], layers_to_transform=0))
    assert sorted(vlm) == ["model.language_model.layers.0.self_attn.q_proj", "model.visual.blocks.0.attn.qkv"]


def test_peft_refuses_a_regex_with_layers_to_transform(inventories):
    result = match(inventories[QWEN_TEXT], LoraSpec(target_modules=".*q_proj", layers_to_transform=[0]))
    assert "cannot be used when `target_modules` is a str" in result.error


# -- components ---------------------------------------------------------------------------------------------
def test_components_come_from_sub_model_boundaries(inventories):
    qwen = inventories[QWEN_VL]
    for m in qwen.modules:
        if m.name.startswith("model.visual."):
            assert m.component == "vision" and qwen.text_only_dead(m), m.name
        elif m.name.startswith("model.language_model."):
            assert m.component == "language" and not qwen.text_only_dead(m), m.name
    assert {m.component for m in qwen.modules if m.name == "lm_head"} == {"head"}
    gemma = inventories[GEMMA3]
    projector = [m for m in gemma.modules if m.name.startswith("model.multi_modal_projector.")]
    assert projector and all(m.component == "projector" and gemma.text_only_dead(m) for m in projector)
    assert all(m.component == "vision" for m in gemma.modules if m.name.startswith("model.vision_tower."))
    text = inventories[QWEN_TEXT]
    assert not text.multimodal and not any(text.text_only_dead(m) for m in text.modules)


def test_mllama_cross_attention_layers_only_run_with_images(inventories):
    inv = inventories[MLLAMA]
    cross = set(config(MLLAMA)["text_config"]["cross_attention_layers"])
    for m in linear_named(inv, "q_proj"):
        found = re.match(r"model\.language_model\.layers\.(\d+)\.", m.name)
        if found:
            assert inv.text_only_dead(m) == (int(found.group(1)) in cross), m.name
    mlp = [m for m in linear_named(inv, "down_proj") if m.component == "language"]
    assert sum(inv.text_only_dead(m) for m in mlp) == len(cross)  # the MLP of a cross-attention layer too


# -- rule selection ------------------------------------------------------------------------------------------
def test_rule_selectors():
    assert [r.CODE for r in rules.RULES] == sorted(r.CODE for r in rules.RULES)
    assert rules.resolve_selector("LL00") == [r for r in rules.RULES if r.CODE.startswith("LL00")]
    assert rules.resolve_selector("possible-gradient-sink") == [rules.BY_CODE["LL002"]]
    assert rules.resolve_selector("all") == rules.RULES
    assert rules.resolve_selector("LL9") == [rules.BY_CODE["LL900"], rules.BY_CODE["LL901"]]


def test_select_and_ignore_settings_choose_the_rules(tmp_path):
    from loralint.config import Settings
    from loralint.engine import Linter

    resolver = Resolver(offline=True)
    chosen = Linter(Settings(root=tmp_path), resolver, select=["LL00"], ignore=["LL002", "untrained-adapter"])
    assert chosen.rule_codes == {"LL001", "LL003", "LL004"}
    assert Linter(Settings(root=tmp_path, ignore=["LL9"]), resolver).rule_codes == {r.CODE for r in rules.RULES} - {"LL900", "LL901"}


def test_a_predicted_forward_crash_keeps_the_table(tmp_path, monkeypatch):
    """Llama 4 with all-linear: PEFT wraps the router too (a Linear subclass returning a tuple); the first
    forward crashes. The report shows the crash and still the adapters and their dead share."""
    import contextlib
    import io

    from loralint.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("LORALINT_CACHE_DIR", str(tmp_path))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(["report", "--offline", "--format", "json", "--model", "meta-llama/Llama-4-Scout-17B-16E-Instruct",
              "--target-modules", "all-linear"])
    (site,) = json.loads(out.getvalue())["sites"]
    assert "Llama4Router" in site["error"]
    assert site["components"]["vision"]["modules"] > 0 and site["dead_params"] > 0
    assert any(m["name"].endswith("feed_forward.router") for m in site["modules"])
