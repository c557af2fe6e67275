"""Front ends: turn a file into LoRA sites. They never import torch or transformers.

The registry: every input kind once, in the order files are claimed. The engine, the fixer, the
renderers and the language server find a file's front end with `for_path` and a site's with
`for_site`; they name no framework or suffix. A new kind of training config is a `Trainer` in its own
module plus one line in `trainer_config.trainers()`; a new kind of file, a `FrontEnd` plus one line here.
Modules a run does not need are not imported (trainers, Unsloth, saved weights), to keep the warm path short.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from .base import FrontEnd, Parsed
from .errors import FrontEndError
from .notebook import Notebook
from .peft_adapter import AdapterConfig
from .python import PythonScript
from .shell import LaunchSemantics, ShellScript
from .trainer_config import TrainerConfig, trainers
from .weights import SavedWeights

# in claiming order: the first that claims a file reads it (adapter_config.json before other JSON)
FILE_KINDS: list[FrontEnd] = [PythonScript(), Notebook(), AdapterConfig(), TrainerConfig(), ShellScript(),
                              SavedWeights()]


@cache
def _by_name() -> dict[str, FrontEnd]:
    """Front ends whose semantics a site can carry: the file kinds, the trainers, Unsloth (found in scripts)."""
    from .clis import Swift
    from .unsloth import Unsloth

    return {fe.name: fe for fe in [*FILE_KINDS, *trainers(), Unsloth(), LaunchSemantics(), Swift()]}


def for_path(path: Path) -> FrontEnd | None:
    """The front end that claims this file, or None (not a file loralint reads)."""
    return next((fe for fe in FILE_KINDS if fe.claims(path)), None)


def for_site(site) -> FrontEnd:
    return _by_name()[site.frontend]


__all__ = ["FrontEnd", "FrontEndError", "Parsed", "for_path", "for_site", "FILE_KINDS"]
