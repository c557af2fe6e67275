"""Shell scripts and Makefiles that launch training, and the semantics of a site a launch supplies.

Each launch of a Python script is a site of its own: the script read with the values that launch
passes (`launch.py` reads the command line, `cliargs.py` parses it as the script's parser would),
reported at the flags in the file where the launch is written. Trainer CLIs are read by `clis.py`.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from ..diagnostics import Edit
from ..site import Site, Span
from .base import FrontEnd
from .launch import Launch, makefile_launches, shell_launches, target_of

SHELL_SUFFIXES = (".sh", ".bash")
MAKEFILES = ("Makefile", "makefile", "GNUmakefile")
MAX_SCRIPT_BYTES = 8 * 1024 * 1024
MAX_LAUNCH_FILES = 5000
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", "node_modules", "site-packages",
             "build", "dist"}


def launches_in(path: Path, text: str) -> list[Launch]:
    if path.name in MAKEFILES or path.suffix == ".mk":
        return makefile_launches(path, text)
    return shell_launches(path, text)


def project_root(path: Path) -> Path:
    """The repository a file is in (the nearest folder with .git or pyproject.toml), else its folder."""
    folder = path.resolve().parent
    for candidate in [folder, *folder.parents][:12]:
        if (candidate / ".git").exists() or (candidate / "pyproject.toml").is_file():
            return candidate
    return folder


def script_of(launch: Launch, name: str) -> Path | None:
    """The script a launch runs, as a path that exists: relative to the launch's folder or any folder above
    it (commands are usually run from the repository's top)."""
    written = Path(name)
    if written.is_absolute():
        return written if written.is_file() else None
    for folder in [launch.file.parent, *launch.file.resolve().parent.parents][:8]:
        candidate = folder / written
        if candidate.is_file():
            return candidate
    return None


def sites_of_launch(launch: Launch) -> list[Site]:
    """The LoRA sites a launch makes: a script read with the launch's values, or a trainer CLI."""
    target = target_of(launch)
    if target is None:
        return []
    if target.kind == "cli":
        from .clis import cli_sites

        return cli_sites(launch, target)
    if target.kind != "script":
        return []
    script = script_of(launch, target.name)
    if script is None or script.suffix != ".py":
        return []
    from ..files import read_text

    try:
        text = read_text(script, MAX_SCRIPT_BYTES)
    except (OSError, UnicodeDecodeError):
        return []
    from .python import script_sites

    sites = script_sites(script, text, launch=launch, launch_args=target.args)
    launch_evidence = _dataset_flags(target.args)
    for site in sites:
        for item in site.evidence:
            if item.line and not item.where:
                item.where = f"{script.name}, line {item.line}"
        if launch_evidence and not any(e.reason.startswith("declared") for e in site.evidence):
            from .. import modality

            site.evidence = launch_evidence + site.evidence
            site.modality = modality.verdict(site.evidence)
    return sites


def _dataset_flags(words) -> list:
    """`--dataset_name NAME` (TRL's ScriptArguments) naming a dataset the data table knows."""
    from ..site import Evidence
    from .data_evidence import dataset_evidence

    out = []
    for flag, value in zip(words, words[1:]):
        if flag.value in ("--dataset_name", "--dataset-name"):
            found = dataset_evidence(value.value)
            if found is not None:
                out.append(Evidence(found[0], found[1], value.span.line))
    return out


def find_launches(script: Path, root: Path) -> tuple[list[Launch], int]:
    """Launches of `script` in the shell scripts and Makefiles under `root`: (launches, files looked in)."""
    from ..files import read_text

    found, looked = [], 0
    resolved = script.resolve()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            path = Path(folder) / name
            if not (path.suffix in SHELL_SUFFIXES or name in MAKEFILES or path.suffix == ".mk"):
                continue
            looked += 1
            if looked > MAX_LAUNCH_FILES:
                return found, looked - 1
            try:
                text = read_text(path, MAX_SCRIPT_BYTES, errors="replace")
            except OSError:
                continue
            if script.name not in text:
                continue
            for launch in launches_in(path, text):
                target = target_of(launch)
                if target is not None and target.kind == "script":
                    runs = script_of(launch, target.name)
                    if runs is not None and runs.resolve() == resolved:
                        found.append(launch)
    return found, looked


class ShellScript(FrontEnd):
    name = "shell"
    suffixes = SHELL_SUFFIXES + (".mk",)
    filenames = MAKEFILES

    def sites(self, path: Path, text: str) -> list[Site]:
        if not any(word in text for word in ("python", "accelerate", "torchrun", "deepspeed", "trl", "swift",
                                             "llamafactory-cli", "lmf", "axolotl")):
            return []
        from .. import modality

        declared = modality.declared_in([text])  # `# loralint: modality=text` anywhere in the file
        sites = []
        for launch in launches_in(path, text):
            sites.extend(sites_of_launch(launch))
        if declared:
            for site in sites:
                site.modality, site.evidence = modality.decide(declared, site.evidence)
        return sites

    def still_parses(self, text: str) -> bool:
        import bashlex

        try:
            bashlex.parse(text)
        except Exception:
            return True  # bashlex reads less than bash does; a file it could not read before is no worse
        return True


class LaunchSemantics(FrontEnd):
    """How a site that a launch supplies is fixed: by rewriting the flag's words, shell-quoted."""

    name = "launch"

    def spell(self, site: Site, value) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (list, tuple)):
            return " ".join(shlex.quote(str(v)) for v in value)
        return shlex.quote(str(value))

    def edit_for(self, site: Site, text: str, field: str, value) -> tuple[Edit | None, bool]:
        literal = self.spell(site, value)
        if field in site.spans:
            return Edit(site.spans[field], literal), False
        flag = site.key_names.get(field)
        anchor = site.anchor
        if flag is None or anchor is None:
            return None, False
        at = Span(anchor.end, anchor.end, anchor.end_line, anchor.end_column, anchor.end_line, anchor.end_column)
        return Edit(at, f" --{flag} {literal}"), False

    def plan_fix(self, analysis, expected: dict, generic):
        if analysis.site.flags.get("one_entry_is_regex"):
            return generic()
        return None, ("the flag takes a list of module names, which PEFT matches by suffix, so no anchored "
                      "pattern can be passed through it")
