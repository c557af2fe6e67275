"""The front-end contract: what every input kind says about itself, in one place.

A front end claims files, turns their text into `Site`s, and knows the semantics of the sites it
made: how the trainer turns its settings into what PEFT gets (`spec_for`), the fix plans only that
trainer has (`plan_fix`), how a value and an edit are spelled in the file's syntax (`edit_for`), and
its comment syntax for suppressions. The engine, the fixer, the renderers and the language server ask
the registry (`loralint.frontends`) and name no framework or suffix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import Diagnostic, Edit
from ..site import Site
from . import spelling


@dataclass
class Parsed:
    """A file as its front end read it: the sites, the text their spans point into (and whose lines
    carry suppression comments), and how diagnostics map back onto the file."""

    sites: list[Site]
    text: str
    mapper: object = None  # callable(Diagnostic) -> Diagnostic, for files whose program is not their text
    extra: dict = field(default_factory=dict)

    def to_file(self, diagnostic: Diagnostic) -> Diagnostic:
        return diagnostic if self.mapper is None else self.mapper(diagnostic)


class FrontEnd:
    name = ""
    suffixes: tuple[str, ...] = ()  # file endings it claims
    filenames: tuple[str, ...] = ()  # exact file names it claims (before any suffix claim)
    comment: str | None = "#"  # line-comment leader for `# loralint: ignore[...]`; None: the format has none
    noqa = False  # honours ruff-style `# noqa: LL001`
    binary = False  # reads bytes itself (saved weights), not text

    # -- files --------------------------------------------------------------------------------------
    def claims(self, path: Path) -> bool:
        return path.name in self.filenames or (bool(self.suffixes) and path.suffix in self.suffixes)

    def parse(self, path: Path, text: str) -> Parsed:
        """Raises FrontEndError for a file that is ours but cannot be read."""
        return Parsed(self.sites(path, text), text)

    def sites(self, path: Path, text: str) -> list[Site]:
        return []

    def foreign(self, path: Path, text: str | None) -> bool:
        """A file it claims that cannot be read (text None) or parsed: someone else's, to skip silently?"""
        return False

    def still_parses(self, text: str) -> bool:
        return True

    def delegate(self, path: Path) -> Path | None:
        """Another file whose lint covers this one (saved weights: the adapter config beside them)."""
        return None

    def fix_round(self, linter, path: Path, text: str, allowed: set) -> str | None:
        """One round of fixes on the file's text, or None when nothing (safely) changes."""
        from ..engine import fix_edits
        from ..diagnostics import apply_edits

        edits = fix_edits(linter.lint_text(path, text)[0], allowed)
        if not edits:
            return None
        new_text = apply_edits(text, edits)
        return new_text if new_text != text and self.still_parses(new_text) else None

    def ignore_comment(self, path: Path, code: str) -> str | None:
        """What the editor appends to a line to silence `code` there."""
        return f"  {self.comment} loralint: ignore[{code}]" if self.comment else None

    # -- the semantics of its sites -------------------------------------------------------------------
    def submodule_for(self, site: Site, config: dict | None) -> str:
        """The part of the loaded model the trainer applies LoRA to, given the model's config ("" = all of it)."""
        return site.submodule

    def spec_for(self, site: Site, inventory):
        """The LoRA settings as the trainer hands them to PEFT on this model (may raise: the trainer refuses)."""
        return site.lora

    def plan_fix(self, analysis, expected: dict, generic):
        """(FixPlan | None, reason). `generic(also=None)` is the trainer-independent plan (an anchored regex
        or exclude_modules), `also` naming further settings the same fix must write."""
        return generic()

    def spell(self, site: Site, value) -> str:
        return spelling.spell(value, site.syntax)

    def edit_for(self, site: Site, text: str, field: str, value) -> tuple[Edit | None, bool]:
        """(edit writing `field = value` at the site, or None; whether the edit drops a comment)."""
        return spelling.edit_for(site, text, field, value)
