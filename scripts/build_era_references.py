"""Reference inventories of an older transformers, for tests/test_eras.py.

Run once in a throwaway environment that has the old version (it does not import loralint):
    python -m venv /tmp/tf457 && /tmp/tf457/bin/pip install torch==2.13.0 transformers==4.57.1
    /tmp/tf457/bin/python scripts/build_era_references.py
It builds each model of tests/data/eras/configs on the meta device with that transformers and writes
its module names, classes and Linear shapes to tests/data/eras/transformers-<version>/.
"""

import gzip
import json
import sys
import warnings
from pathlib import Path

import torch
import transformers

HERE = Path(__file__).resolve().parents[1] / "tests" / "data" / "eras"


def build(config: dict):
    config = dict(config)
    model_type = config.pop("model_type")
    cfg = transformers.AutoConfig.for_model(model_type, **config)
    architecture = (cfg.architectures or [None])[0]
    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if architecture:
            return getattr(transformers, architecture)._from_config(cfg)
        return transformers.AutoModelForCausalLM.from_config(cfg)


def main() -> int:
    out = HERE / f"transformers-{transformers.__version__}"
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted((HERE / "configs").glob("*.json")):
        model = build(json.loads(path.read_text()))
        modules = []
        for name, module in model.named_modules():
            if not name:
                continue
            dims = [module.in_features, module.out_features] if isinstance(module, torch.nn.Linear) else []
            modules.append([name, type(module).__name__, dims])
        data = {"transformers": transformers.__version__, "model_class": type(model).__name__, "modules": modules}
        (out / (path.stem + ".json.gz")).write_bytes(gzip.compress(json.dumps(data).encode(), mtime=0))
        print(path.stem, type(model).__name__, len(modules), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
