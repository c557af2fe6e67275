"""Saved adapter weights named directly: audited with the adapter config beside them, or alone."""

from __future__ import annotations

from pathlib import Path

from ..site import Site
from .base import FrontEnd
from .peft_adapter import ADAPTER_CONFIG_NAME


class SavedWeights(FrontEnd):
    name = "weights"
    suffixes = (".safetensors",)
    comment = None
    binary = True

    def claims(self, path: Path) -> bool:
        from ..adapter_audit import PICKLE_WEIGHTS

        return path.suffix in self.suffixes or path.name == PICKLE_WEIGHTS

    def delegate(self, path: Path) -> Path | None:
        config = path.parent / ADAPTER_CONFIG_NAME
        return config if config.is_file() else None

    def sites(self, path: Path, text: str) -> list[Site]:
        # no adapter config: nothing to match, only the weights to audit (PEFT's default init assumed)
        return [Site(file=str(path), line=1, framework="peft", model_ref=None, lora=None, frontend=self.name,
                     weights=path)]
