"""Every inventory shipped in the wheel equals what a fresh build on the meta device gives today
(the claim `resolve.py` relies on when it answers from the bundle without torch)."""

from __future__ import annotations

import json

import pytest

from loralint.inventory import config_sha256, load_inventory_file
from loralint.resolve import BUNDLED_INVENTORY_DIR, ZOO_DIR

pytestmark = pytest.mark.slow

INDEX = json.loads((BUNDLED_INVENTORY_DIR / "index.json").read_text())
FILES = sorted(set(INDEX.values()))


def test_index_covers_every_zoo_config():
    digests = {config_sha256(json.loads(p.read_text())) for p in ZOO_DIR.glob("*/config.json")}
    assert digests == {key.split(":")[0] for key in INDEX}


@pytest.mark.parametrize("filename", FILES)
def test_bundled_inventory_equals_a_fresh_build(filename):
    from loralint.build import build_meta_model, inventory_from_model

    zoo_name = filename.rsplit("--", 1)[0]
    class_name = filename.rsplit("--", 1)[1].removesuffix(".json.gz")
    config = json.loads((ZOO_DIR / zoo_name / "config.json").read_text())
    bundled = load_inventory_file(BUNDLED_INVENTORY_DIR / filename).to_json()
    fresh = inventory_from_model(build_meta_model(config, class_name), config).to_json()
    assert fresh == bundled


@pytest.mark.parametrize(("hub_id", "class_request"), [
    ("Qwen/Qwen2.5-Omni-7B", "Qwen2_5OmniThinkerForConditionalGeneration"),  # a named sub-model class
    ("Qwen/Qwen3.5-9B", "AutoModelForCausalLM"),  # an Auto class that maps to the text-only class
    ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "AutoModelForCausalLM"),
])
def test_sub_model_classes_read_their_part_of_the_config(tmp_path, hub_id, class_request):
    """A class loaded from a composite checkpoint gets the module names transformers' own loading route gives
    (the config class's from_pretrained, or the auto factory), built on the meta device from the same config.json."""
    import warnings

    import torch
    import transformers

    from loralint.resolve import Resolver

    (tmp_path / "config.json").write_text((ZOO_DIR / hub_id.replace("/", "--") / "config.json").read_text())
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        if class_request.startswith("Auto"):
            auto = getattr(transformers, class_request)
            model = auto.from_config(transformers.AutoConfig.from_pretrained(tmp_path))
        else:
            cls = getattr(transformers, class_request)
            model = cls._from_config(cls.config_class.from_pretrained(tmp_path))
    _, inventory = Resolver(offline=True).inventory(hub_id, class_request)
    assert [m.name for m in inventory.modules] == [name for name, _ in model.named_modules() if name]
    assert inventory.model_class == type(model).__name__
