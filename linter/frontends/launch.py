"""Launches: the command lines that run a training script or a trainer's CLI, and the values they pass.

Shell is read as bash reads it (bashlex, a maintained bash parser that keeps each word's position):
`\\` continuations, a `#` line inside a continuation ending the command, variables assigned earlier in
the file (`VAR=...`, `export VAR=...`) expanded as `$VAR`/`${VAR}`/`${VAR:-default}` (split into words
when unquoted), `for x in a b; do ...; done` loops over literal values (one launch per value), and
Makefile recipes with their `$(VAR)` variables. A word whose value is not known statically (command
substitution, an unset variable) is UNKNOWN, never guessed.

Launchers: `python`/`python3` (also `-m module`), `accelerate launch`, `torchrun`, `python -m
torch.distributed.run`, `deepspeed`, each with its own options before the script; trainer CLIs (`trl`,
`swift`, `llamafactory-cli`, `axolotl`) are recognised by their first word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import span_at
from ..site import Span

MAX_LAUNCHES_PER_FILE = 200
MAX_LOOP_VALUES = 8
MAX_BLANKED_LINES = 20


class _Unknown:
    def __repr__(self):
        return "UNKNOWN"


UNKNOWN_WORD = _Unknown()


@dataclass
class Word:
    value: object  # str, or UNKNOWN_WORD
    span: Span
    quoted: bool = False


@dataclass
class Launch:
    """One command line, as the shell would run it."""

    file: Path
    words: list[Word]
    span: Span  # the whole command
    text: str  # the file's text (spans point into it)
    syntax: str = "shell"  # shell | docstring
    label: str | None = None  # which loop value, when a loop made several

    @property
    def argv(self) -> list:
        return [w.value for w in self.words]


@dataclass
class Target:
    """What a launch runs: a script (path) or a CLI (name, subcommand), and the words passed to it."""

    kind: str  # script | module | cli
    name: str  # script path as written, module name, or CLI name
    args: list[Word] = field(default_factory=list)
    subcommand: str | None = None


PYTHON = re.compile(r"^(?:.*/)?python(?:3(?:\.\d+)?)?$")
# launcher options that take a value (the next word) before the script
_ACCELERATE_VALUE_OPTIONS = {
    "--config_file", "--config-file", "--num_processes", "--num-processes", "--num_machines", "--num-machines",
    "--machine_rank", "--machine-rank", "--main_process_ip", "--main-process-ip", "--main_process_port",
    "--main-process-port", "--mixed_precision", "--mixed-precision", "--gpu_ids", "--gpu-ids",
    "--deepspeed_config_file", "--deepspeed-config-file", "--zero_stage", "--zero-stage", "--dynamo_backend",
    "--rdzv_backend", "--rdzv-backend", "--deepspeed_multinode_launcher", "--fsdp_sharding_strategy",
    "--gradient_accumulation_steps", "--gradient-accumulation-steps", "--offload_optimizer_device",
    "--offload_param_device", "--num_cpu_threads_per_process", "--fsdp_version", "--same_network",
}
_TORCHRUN_VALUE_OPTIONS = {
    "--nproc_per_node", "--nproc-per-node", "--nnodes", "--node_rank", "--node-rank", "--master_addr",
    "--master-addr", "--master_port", "--master-port", "--rdzv_backend", "--rdzv-backend", "--rdzv_endpoint",
    "--rdzv-endpoint", "--rdzv_id", "--rdzv-id", "--max_restarts", "--max-restarts", "--log_dir", "--log-dir",
    "--local_addr", "--monitor_interval", "--start_method", "--role", "--tee", "--redirects",
}
_DEEPSPEED_VALUE_OPTIONS = {
    "--num_gpus", "--num_nodes", "--hostfile", "--include", "--exclude", "--master_port", "--master_addr",
    "--launcher", "--module", "--node_rank", "--bind_core_list", "--ssh_port", "--launcher_args",
}
CLIS = {"trl", "swift", "llamafactory-cli", "lmf", "axolotl"}


def target_of(launch: Launch) -> Target | None:
    """The script, module or CLI a command runs, after its launcher and the launcher's options."""
    words = [w for w in launch.words]
    # environment assignments before the command (`CUDA_VISIBLE_DEVICES=0 python ...`), `nohup`, `exec`, `time`
    while words and isinstance(words[0].value, str) and (
            re.match(r"^[A-Za-z_]\w*=", words[0].value) or words[0].value in ("nohup", "exec", "time", "env")):
        words = words[1:]
    if not words or not isinstance(words[0].value, str):
        return None
    first = words[0].value.rpartition("/")[2]
    if first in CLIS:
        sub = words[1].value if len(words) > 1 and isinstance(words[1].value, str) else None
        return Target("cli", first, words[2:], sub)
    if PYTHON.match(words[0].value):
        return _after_options(words[1:], set(), python=True)
    if first == "accelerate" and len(words) > 1 and words[1].value == "launch":
        return _after_options(words[2:], _ACCELERATE_VALUE_OPTIONS)
    if first == "torchrun":
        return _after_options(words[1:], _TORCHRUN_VALUE_OPTIONS)
    if first == "deepspeed":
        return _after_options(words[1:], _DEEPSPEED_VALUE_OPTIONS)
    return None


def _after_options(words: list[Word], value_options: set, python: bool = False) -> Target | None:
    index = 0
    while index < len(words):
        value = words[index].value
        if not isinstance(value, str):
            return None
        if value in ("-m", "--module") or (python and value == "-m"):
            if index + 1 >= len(words) or not isinstance(words[index + 1].value, str):
                return None
            module = words[index + 1].value
            rest = words[index + 2:]
            if module == "torch.distributed.run" or module == "torch.distributed.launch":
                return _after_options(rest, _TORCHRUN_VALUE_OPTIONS)
            if module in ("accelerate.commands.launch",):
                return _after_options(rest, _ACCELERATE_VALUE_OPTIONS)
            if module.startswith("axolotl.cli."):
                return Target("cli", "axolotl", rest, module.rpartition(".")[2])
            return Target("module", module, rest)
        if value.endswith(".py"):
            return Target("script", value, words[index + 1:])
        if not value.startswith("-"):
            return None  # a subcommand or a program we do not know
        if "=" not in value and value in value_options:
            index += 2
            continue
        if python and value in ("-c",):
            return None
        index += 1
    return None


# -- reading shell ------------------------------------------------------------------------------------------
def shell_launches(path: Path, text: str) -> list[Launch]:
    """Every simple command in a shell script, with variables expanded and loops unrolled."""
    return _Shell(path, text).launches()


def makefile_launches(path: Path, text: str) -> list[Launch]:
    """Recipe lines of a Makefile, read as shell after the Makefile's own `$(VAR)` expansion."""
    variables = {}
    out = []
    for match in re.finditer(r"^([A-Za-z_][\w.-]*)\s*(?::=|\?=|\+=|=)\s*(.*)$", text, re.M):
        variables[match.group(1)] = match.group(2).strip()
    lines = text.splitlines(keepends=True)
    offsets, position = [], 0
    for line in lines:
        offsets.append(position)
        position += len(line)
    index = 0
    while index < len(lines):
        if not lines[index].startswith("\t"):
            index += 1
            continue
        first, last = index, index
        while lines[last].rstrip("\r\n").endswith("\\") and last + 1 < len(lines):
            last += 1  # make passes `\`-newline on to the shell
        index = last + 1
        start = offsets[first] + 1
        recipe = text[start:offsets[last] + len(lines[last].rstrip("\r\n"))]
        # $(VAR) and ${VAR} are make's; $$ is a shell $; @ - + are make's prefixes
        body = recipe.lstrip("@-+ ")
        expanded = re.sub(r"\$[({]([A-Za-z_][\w.-]*)[)}]", lambda m: variables.get(m.group(1), ""), body)
        expanded = expanded.replace("$$", "$")
        offset = start + len(recipe) - len(body)
        if expanded == body:
            out.extend(_Shell(path, text, region=(offset, offset + len(body))).launches())
            continue
        # positions inside an expanded recipe are not the file's: findings point at the recipe
        where = span_at(text, offset, offset + len(body))
        for launch in _Shell(path, expanded).launches():
            launch.words = [Word(w.value, where, w.quoted) for w in launch.words]
            launch.span, launch.text, launch.file = where, text, path
            out.append(launch)
    return out


class _Shell:
    def __init__(self, path: Path, text: str, region: tuple[int, int] | None = None):
        self.path = path
        self.text = text
        self.region = region or (0, len(text))
        self.variables: dict[str, str] = {}

    def launches(self) -> list[Launch]:
        import bashlex

        source = self.text[self.region[0]:self.region[1]]
        trees = []
        for _ in range(MAX_BLANKED_LINES):
            try:
                trees = [(tree, 0) for tree in bashlex.parse(source)]
                break
            except bashlex.errors.ParsingError as exc:
                # a construct bashlex does not read (arrays, `case`): blank that line, keep every position
                blanked = _blank_line(source, getattr(exc, "position", 0) or 0)
                if blanked == source:
                    break
                source = blanked
            except Exception:
                break
        if not trees:
            for chunk, offset in _chunks(source):
                try:
                    trees.extend((tree, offset) for tree in bashlex.parse(chunk))
                except Exception:
                    continue
        out: list[Launch] = []
        for tree, offset in trees:
            self._walk(tree, offset + self.region[0], out, {})
            if len(out) >= MAX_LAUNCHES_PER_FILE:
                break
        return out[:MAX_LAUNCHES_PER_FILE]

    def _walk(self, node, offset: int, out: list, loop: dict) -> None:
        kind = node.kind
        if kind == "command":
            self._command(node, offset, out, loop)
        elif kind == "for":
            self._for(node, offset, out, loop)
        elif kind in ("list", "pipeline", "compound", "if", "while", "until", "function"):
            for part in getattr(node, "parts", []) or getattr(node, "list", []):
                if hasattr(part, "kind"):
                    self._walk(part, offset, out, loop)

    def _for(self, node, offset: int, out: list, loop: dict) -> None:
        parts = node.parts
        names = [p for p in parts if p.kind == "word"]
        if len(names) < 2:
            return
        variable = names[0].word
        values = []
        for word in names[1:]:
            if word.word == "in":
                continue
            values.extend(self._expand(word, offset))
        body = [p for p in parts if p.kind not in ("word", "reservedword", "operator")]
        for value in values[:MAX_LOOP_VALUES]:
            if not isinstance(value.value, str):
                continue
            inner = {**loop, variable: value.value}
            for part in body:
                before = len(out)
                self._walk(part, offset, out, inner)
                for launch in out[before:]:
                    launch.label = f"{variable}={value.value}"

    def _command(self, node, offset: int, out: list, loop: dict) -> None:
        words, assignments = [], []
        for part in node.parts:
            if part.kind == "assignment":
                assignments.append(part)
            elif part.kind == "word":
                words.extend(self._expand(part, offset, loop))
        if assignments and not words:
            for part in assignments:
                self._assign(part.word)
            return
        if words and words[0].value == "export":
            for word in words[1:]:
                if isinstance(word.value, str) and "=" in word.value:
                    name, _, value = word.value.partition("=")
                    self.variables[name] = value
            return
        if words:
            start, end = node.pos
            out.append(Launch(self.path, words, span_at(self.text, start + offset, end + offset), self.text))

    def _assign(self, assignment: str) -> None:
        name, _, value = assignment.partition("=")
        self.variables[name] = self._substitute(value, {}) if isinstance(self._substitute(value, {}), str) else None

    def _substitute(self, value: str, loop: dict):
        """`$VAR`, `${VAR}`, `${VAR:-default}` in a word's value; UNKNOWN for what cannot be known."""
        unknown = False

        def one(match):
            nonlocal unknown
            name = match.group(1) or match.group(2)
            default = match.group(4)
            known = loop.get(name, self.variables.get(name))
            if known is None:
                if default is not None:
                    return default
                unknown = True
                return ""
            return known

        result = re.sub(r"\$(?:([A-Za-z_]\w*)|\{([A-Za-z_]\w*)(:?-([^}]*))?\})", one, value)
        if unknown or "$(" in value or "`" in value or re.search(r"\$\{[^}]*[^\w:}-][^}]*\}", value):
            return UNKNOWN_WORD
        return result

    def _expand(self, word, offset: int, loop: dict | None = None) -> list[Word]:
        start, end = word.pos
        span = span_at(self.text, start + offset, end + offset)
        raw = self.text[start + offset:end + offset]
        quoted = raw[:1] in ("'", '"')
        if raw.startswith("'"):
            return [Word(word.word, span, True)]
        value = self._substitute(word.word, loop or {}) if "$" in word.word else word.word
        if value is UNKNOWN_WORD:
            return [Word(UNKNOWN_WORD, span, quoted)]
        if "$" in word.word and not quoted and re.fullmatch(r"\$\{?[A-Za-z_]\w*\}?", raw):
            # an unquoted variable alone is split into words by the shell
            return [Word(part, span, False) for part in value.split()] or []
        return [Word(value, span, quoted)]


def _blank_line(text: str, position: int) -> str:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    end = len(text) if end < 0 else end
    return text[:start] + " " * (end - start) + text[end:]


def _chunks(text: str):
    """Top-level commands of a file, continuation lines joined: (chunk, offset)."""
    offset, buffer, start = 0, [], 0
    for line in text.splitlines(keepends=True):
        if not buffer:
            start = offset
        buffer.append(line)
        offset += len(line)
        if not line.rstrip("\r\n").endswith("\\"):
            yield "".join(buffer), start
            buffer = []
    if buffer:
        yield "".join(buffer), start


# -- usage lines in a script's docstring ----------------------------------------------------------------------
_LAUNCHER_LINE = re.compile(r"^\s*(?:[A-Z_]+=\S+\s+)*(?:python3?|accelerate\s+launch|torchrun|deepspeed|trl\s+\w+|swift\s+\w+)\b")


def docstring_launches(path: Path, text: str, docstring_span: tuple[int, int]) -> list[Launch]:
    """Commands written in a module docstring, as a reader takes them: a launcher line and the option lines
    under it (with or without `\\`), read as one command."""
    import bisect

    start, end = docstring_span
    lines = text[start:end].splitlines(keepends=True)
    offsets, position = [], start
    for line in lines:
        offsets.append(position)
        position += len(line)
    out, index = [], 0
    while index < len(lines):
        if not _LAUNCHER_LINE.match(lines[index]):
            index += 1
            continue
        last = index
        while last + 1 < len(lines):
            following = lines[last + 1].strip()
            if not following or not (lines[last].rstrip().endswith("\\") or following.startswith("-")
                                     or following.split()[0].endswith(".py")):
                break
            last += 1
        command_start = offsets[index] + len(lines[index]) - len(lines[index].lstrip())
        command_end = offsets[last] + len(lines[last].rstrip("\r\n"))
        region = text[command_start:command_end]
        # one command: a `\` before every line break that lacks one; remember where each was inserted
        inserted, pieces, previous = [], [], 0
        for match in re.finditer(r"\r?\n", region):
            if region[:match.start()].endswith("\\"):
                continue
            pieces.append(region[previous:match.start()] + "\\")
            inserted.append(match.start())
            previous = match.start()
        joined = "".join(pieces) + region[previous:]

        def to_file(offset: int) -> int:
            # offsets in `joined` after k insertions sit k characters later than in the region
            k = bisect.bisect_right([p + n for n, p in enumerate(inserted)], offset - 1)
            return command_start + offset - k

        for launch in _Shell(path, joined).launches():
            launch.words = [Word(w.value, span_at(text, to_file(w.span.start), to_file(w.span.end)), w.quoted)
                            for w in launch.words]
            launch.span = span_at(text, command_start, command_end)
            launch.text, launch.syntax = text, "docstring"
            out.append(launch)
        index = last + 1
    return out
