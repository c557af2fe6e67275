"""Front ends: turn a file into LoRA sites. They never import torch or transformers.

The registry: every input kind once, in the order files are claimed. The engine, the fixer, the
renderers and the language server find a file's front end with `for_path` and a site's with
`for_site`; they name no framework or suffix. A new kind of training config is a `Trainer` in its own
module plus one line in `trainer_config.TRAINERS`; a new kind of file, a `FrontEnd` plus one line here.
"""

from __future__ import annotations

from pathlib import Path

from .base import FrontEnd, Parsed
from .errors import FrontEndError
from .notebook import Notebook
from .peft_adapter import AdapterConfig
from .python import PythonScript
from .trainer_config import TRAINERS, TrainerConfig
from .unsloth import Unsloth
from .weights import SavedWeights

FILE_KINDS: list[FrontEnd] = [AdapterConfig(), SavedWeights(), PythonScript(), Notebook(), TrainerConfig()]
# front ends whose semantics a site can carry: the file kinds, the trainers, Unsloth (found in scripts)
BY_NAME: dict[str, FrontEnd] = {fe.name: fe for fe in [*FILE_KINDS, *TRAINERS, Unsloth()]}


def for_path(path: Path) -> FrontEnd | None:
    """The front end that claims this file, or None (not a file loralint reads)."""
    return next((fe for fe in FILE_KINDS if fe.claims(path)), None)


def for_site(site) -> FrontEnd:
    return BY_NAME[site.frontend]


__all__ = ["FrontEnd", "FrontEndError", "Parsed", "for_path", "for_site", "FILE_KINDS", "BY_NAME"]
