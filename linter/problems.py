"""The one error channel: why a check could not run, or what would stop the training run.

Every stage that gives up (reading a file, resolving the model, evaluating a value, PEFT's own
checks, the first forward, auditing saved weights) records one `Problem` with its kind, reason and
location; the rules choose their codes from the kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .site import Span


class Kind(Enum):
    UNREADABLE = "unreadable"  # the file (or saved weights) cannot be read or parsed: LL900
    MODEL_UNRESOLVED = "model-unresolved"  # the base model's config cannot be found: LL901
    NOT_STATIC = "not-static"  # a setting that decides targeting is not statically known: LL901
    MODEL_NOT_STATIC = "model-not-static"  # the base model reference is not statically known (--model answers it)
    NOT_AUDITABLE = "not-auditable"  # saved weights the zero test says nothing about: LL901
    WOULD_REFUSE = "would-refuse"  # PEFT (or the trainer) would refuse the config: LL004
    FORWARD_CRASH = "forward-crash"  # the wrapped model would crash at its first forward: LL004


@dataclass(frozen=True)
class Problem:
    kind: Kind
    reason: str
    span: Span | None = None  # where it is; None: the site's own location
    file: str | None = None  # when it is not the site's file (saved weights beside an adapter config)
    help: str | None = None  # the way out, for the user
