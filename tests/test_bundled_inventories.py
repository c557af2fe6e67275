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
