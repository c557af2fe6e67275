"""Rebuild the inventories bundled for the model zoo (linter/zoo/inventories/).

Each zoo config gets an inventory for the class loralint picks by default and for the classes a
script commonly loads it with; requests that resolve to the same class share one file.
Run: python scripts/build_zoo_inventories.py
"""

import json
import sys

import transformers

from loralint.build import BuildError, build_meta_model, inventory_from_model, make_config, resolve_model_class
from loralint.inventory import config_sha256, write_json_atomic
from loralint.resolve import BUNDLED_INVENTORY_DIR, ZOO_DIR, bundled_key

REQUESTS = [None, "AutoModelForImageTextToText", "AutoModelForVision2Seq", "AutoModelForCausalLM", "AutoModel"]
# sub-model classes that recipes load from a whole model's checkpoint (LLaMA-Factory, ms-swift and Qwen's own
# fine-tuning code train Qwen2.5-Omni's thinker); tried on every config, kept where the config holds their part
SUB_MODEL_REQUESTS = ["Qwen2_5OmniThinkerForConditionalGeneration"]


def main() -> int:
    index = {}
    for config_path in sorted(ZOO_DIR.glob("*/config.json")):
        config = json.loads(config_path.read_text())
        digest = config_sha256(config)
        cfg = make_config(config)
        sub_types = {v.get("model_type") for v in config.values() if isinstance(v, dict)}
        requests = REQUESTS + list(cfg.architectures or []) + [
            name for name in SUB_MODEL_REQUESTS if getattr(transformers, name).config_class.model_type in sub_types]
        by_class = {}
        for request in requests:
            try:
                cls = resolve_model_class(cfg, request)
            except BuildError:
                continue
            if cls.__name__ not in by_class:
                try:
                    model = build_meta_model(config, cls.__name__)
                except BuildError as exc:  # the script would fail too; leave it to the cold path
                    print(f"  skip {request}: {exc}", file=sys.stderr)
                    continue
                inv = inventory_from_model(model, config)
                filename = f"{config_path.parent.name}--{cls.__name__}.json.gz"
                write_json_atomic(BUNDLED_INVENTORY_DIR / filename, inv.to_json(), compress=True)
                by_class[cls.__name__] = filename
                index[bundled_key(digest, cls.__name__)] = filename
            index[bundled_key(digest, request)] = by_class[cls.__name__]
        print(config_path.parent.name, sorted(by_class), file=sys.stderr)
    write_json_atomic(BUNDLED_INVENTORY_DIR / "index.json", dict(sorted(index.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
