"""Trainer command lines: `trl sft ...`, `swift sft ...`, `llamafactory-cli train CONFIG k=v`, `axolotl train CONFIG`.

- TRL 1.16 (`trl/scripts/sft.py` and its siblings): `TrlParser((ScriptArguments, <Trainer>Config,
  ModelConfig))`, `get_peft_config(model_args)` (no LoRA unless `--use_peft`; a one-entry
  `--lora_target_modules` list becomes a string, a regex for PEFT), the model passed by name (TRL picks
  the config's `architectures[0]`).
- ms-swift 4.6 (`swift/arguments/tuner_args.py`, `swift/pipelines/train/tuner.py: get_target_modules`,
  `swift/utils/transformers_utils.py: get_multimodal_target_regex`): `--tuner_type` (3.x: `--train_type`)
  defaults to lora; `--target_modules` defaults to `all-linear`, which on a multimodal model becomes a
  regex over the Linear layers of the parts not frozen (`--freeze_llm false`, `--freeze_vit true`,
  `--freeze_aligner true` by default); an explicit list goes to PEFT unchanged; `--target_regex`
  replaces both. ms-swift finds those parts in its own per-architecture table; loralint uses the
  model's component boundaries for them.
- LLaMA-Factory and Axolotl: the config file the command names, with the command's overrides
  (`key=value` after the config for `llamafactory-cli`, `--key value` for `axolotl`).
"""

from __future__ import annotations

import re
from dataclasses import replace

from pathlib import Path

from ..matching import LoraSpec
from ..pins import version_tuple
from ..problems import Kind, Problem
from ..site import Evidence, Site, Span
from .base import FrontEnd
from .cliargs import TRL_DATACLASSES, FlagSpec, Given, parse_flags
from .launch import UNKNOWN_WORD, Launch, Target

TRL_COMMANDS = {"sft", "dpo", "grpo", "kto", "reward", "rloo", "gkd", "orpo", "cpo", "online-dpo"}
SWIFT_COMMANDS = {"sft", "pt", "rlhf"}
SWIFT_FLAGS = {
    "model": FlagSpec("str"), "model_id_or_path": FlagSpec("str"), "tuner_type": FlagSpec("str", "lora"),
    "train_type": FlagSpec("str", "lora"), "target_modules": FlagSpec("list", ["all-linear"]),
    "target_regex": FlagSpec("str"), "freeze_llm": FlagSpec("bool", False), "freeze_vit": FlagSpec("bool", True),
    "freeze_aligner": FlagSpec("bool", True), "lora_rank": FlagSpec("int", 8), "modules_to_save": FlagSpec("list"),
    "dataset": FlagSpec("list"), "use_dora": FlagSpec("bool", False),
}
LORA_TUNERS = {"lora", "qlora", "longlora", "dora"}


def cli_sites(launch: Launch, target: Target) -> list[Site]:
    if target.name == "trl" and target.subcommand in TRL_COMMANDS:
        return _trl(launch, target)
    if target.name == "swift" and target.subcommand in SWIFT_COMMANDS:
        return _swift(launch, target)
    if target.name in ("llamafactory-cli", "lmf") and target.subcommand == "train":
        return _config_cli(launch, target, overrides=_key_values(target.args[1:]))
    if target.name == "axolotl" and target.subcommand == "train":
        return _config_cli(launch, target, overrides=_dashed(target.args[1:]))
    return []


def _span(given: Given | None) -> Span | None:
    if given is None or not given.words:
        return None
    first, last = given.words[0].span, given.words[-1].span
    return Span(first.start, last.end, first.line, first.column, last.end_line, last.end_column)


def _site(launch: Launch, framework: str, ref, spec: LoraSpec, given: dict, key_names: dict) -> Site:
    site = Site(file=str(launch.file), line=launch.span.line, column=launch.span.column, framework=framework,
                model_ref=ref if isinstance(ref, str) else None, lora=spec, relative_to=launch.file.parent,
                frontend="launch", syntax=launch.syntax, call_span=launch.span, key_names=key_names)
    for field, flag in key_names.items():
        span = _span(given.get(flag))
        if span is not None:
            site.spans[field] = span
            site.origins[field] = "docstring" if launch.syntax == "docstring" else f"launch:{flag}"
    site.anchor = launch.words[-1].span
    if launch.label:
        site.variant = f"when {launch.label}"
    if ref is UNKNOWN_WORD or ref is None:
        site.problem = Problem(Kind.MODEL_NOT_STATIC, "the command names no model it is statically known to train "
                               "(name it with --model)")
    return site


def _unknown(given: dict, flags) -> list[str]:
    return [f"--{flag}" for flag in flags if flag in given and given[flag].value is UNKNOWN_WORD]


# -- TRL ---------------------------------------------------------------------------------------------------
def _trl(launch: Launch, target: Target) -> list[Site]:
    from .trl import trl_targets

    specs = {**TRL_DATACLASSES["ModelConfig"], **TRL_DATACLASSES["ScriptArguments"], **TRL_DATACLASSES["SFTConfig"]}
    given = parse_flags(target.args, specs)

    def value(flag):
        found = given.get(flag)
        return specs[flag].default if found is None else found.value

    if value("use_peft") is not True:
        return []
    targets = value("lora_target_modules")
    spec = LoraSpec(target_modules=trl_targets(targets) if isinstance(targets, list) else targets,
                    r=value("lora_r") if isinstance(value("lora_r"), int) else 16,
                    modules_to_save=value("lora_modules_to_save"), use_dora=value("use_dora") is True,
                    target_parameters=value("lora_target_parameters"))
    site = _site(launch, "trl", value("model_name_or_path"), spec, given,
                 {"target_modules": "lora_target_modules", "r": "lora_r"})
    site.flags = {"one_entry_is_regex": True}
    unknown = _unknown(given, ("lora_target_modules", "lora_r", "lora_modules_to_save"))
    if unknown:
        site.problem = Problem(Kind.NOT_STATIC, f"not statically known: {', '.join(unknown)}")
    _evidence(site, [value("dataset_name")], given.get("dataset_name"))
    if given.get("dataset_text_field") is not None:
        site.evidence.append(Evidence("text", "sets --dataset_text_field", given["dataset_text_field"].flag.span.line))
    _decide(site)
    return [site]


# -- ms-swift ----------------------------------------------------------------------------------------------
def _swift(launch: Launch, target: Target) -> list[Site]:
    given = parse_flags(target.args, SWIFT_FLAGS)

    def value(flag):
        found = given.get(flag)
        return SWIFT_FLAGS[flag].default if found is None else found.value

    tuner = given.get("tuner_type") or given.get("train_type")
    if str(tuner.value if tuner else "lora").lower() not in LORA_TUNERS:
        return []
    pinned = trainer_pin(launch.file, "ms-swift")
    ref = value("model") if "model" in given else value("model_id_or_path")
    regex = value("target_regex")
    targets = regex if isinstance(regex, str) else value("target_modules")
    spec = LoraSpec(target_modules=targets, r=value("lora_rank") if isinstance(value("lora_rank"), int) else 8,
                    modules_to_save=value("modules_to_save"), use_dora=value("use_dora") is True)
    key = "target_regex" if isinstance(regex, str) else "target_modules"
    site = _site(launch, "swift", ref if "model" in given or "model_id_or_path" in given else None, spec, given,
                 {"target_modules": key})
    site.frontend = "swift"
    site.flags = {flag: value(flag) is True for flag in ("freeze_llm", "freeze_vit", "freeze_aligner")}
    if key == "target_modules" and "target_modules" in site.spans:
        # the fix writes --target_regex over the whole --target_modules option (flag and values)
        flag_span = given["target_modules"].flag.span
        values = site.spans["target_modules"]
        site.spans["target_modules"] = Span(flag_span.start, values.end, flag_span.line, flag_span.column,
                                            values.end_line, values.end_column)
        site.flags["rewrite_option"] = True
    site.key_names = {"target_modules": "target_regex"}
    unknown = _unknown(given, ("target_modules", "target_regex", "lora_rank", "model", "freeze_vit"))
    if unknown:
        site.problem = Problem(Kind.NOT_STATIC, f"not statically known: {', '.join(unknown)}")
    if pinned is not None and version_tuple(pinned.version)[:1] >= (4,) and "train_type" in given:
        # ms-swift 4 renamed --train_type to --tuner_type, and its parser rejects flags it does not know
        site.problem = Problem(Kind.WOULD_REFUSE, "ms-swift 4 rejects --train_type: it was renamed --tuner_type, and "
                               "ms-swift's parser refuses flags it does not know")
    if pinned is not None and pinned.version:
        site.notes.append(semantics_note("ms-swift", "4.6", pinned))
    datasets = value("dataset") or []
    _evidence(site, [d.split(":")[0].split("#")[0] for d in datasets if isinstance(d, str)], given.get("dataset"))
    _decide(site)
    return [site]


def trainer_pin(file: Path, package: str):
    from ..pins import project_pins
    from .shell import project_root

    return project_pins(project_root(file)).get(package)


def semantics_note(package: str, modelled: str, pinned) -> str:
    """Which version's behaviour was applied, and why."""
    same = version_tuple(pinned.version)[:2] == version_tuple(modelled)[:2]
    return (f"{package} {pinned.version} semantics (pinned in {pinned.source})" if same else
            f"{package} {modelled} semantics; the project pins {pinned.version} ({pinned.source})")


class Swift(FrontEnd):
    """ms-swift's target semantics on a site a `swift` command makes."""

    name = "swift"

    def spec_for(self, site: Site, inventory):
        targets = site.lora.target_modules
        if not isinstance(targets, list) or "all-linear" not in targets or not inventory.multimodal:
            if isinstance(targets, list) and "all-linear" in targets:
                return replace(site.lora, target_modules="all-linear")
            return site.lora
        parts = [name for name, frozen in (("language", site.flags.get("freeze_llm")),
                                          ("vision", site.flags.get("freeze_vit")),
                                          ("projector", site.flags.get("freeze_aligner"))) if not frozen]
        if not parts:
            raise ValueError("every part is frozen (freeze_llm, freeze_vit, freeze_aligner): nothing to train")
        return replace(site.lora, target_modules=_component_regex(inventory, parts))

    def spell(self, site: Site, value) -> str:
        from .shell import LaunchSemantics

        return LaunchSemantics().spell(site, value)

    def edit_for(self, site: Site, text: str, field: str, value):
        from .shell import LaunchSemantics

        edit, drops = LaunchSemantics().edit_for(site, text, field, value)
        if edit is not None and site.flags.get("rewrite_option") and field in site.spans:
            edit = replace(edit, content=f"--target_regex {edit.content}")
        return edit, drops

    def plan_fix(self, analysis, expected: dict, generic):
        return generic()


def _component_regex(inventory, parts: list[str]) -> str:
    r"""ms-swift's regex for all-linear over the unfrozen parts (`get_multimodal_target_regex`): per part,
    `prefix(?=\.).*\.(name|...)` with its Linear layers' names, each lengthened (`find_layers`) until no
    other module's name ends with it (`0` -> `mlp.0`)."""
    from ..fixes import covering_roots

    ignored = ("lm_head", "score", "v_head", "classifier")

    def is_linear(m) -> bool:
        return "linear" in m.cls.lower() and not any(word in m.name for word in ignored)

    def normal(name: str) -> str:
        return re.sub(r"\d+\.", "{}.", name)

    modules = inventory.modules
    inner = {normal(m.name) for m in modules if not is_linear(m)}
    pieces = []
    for part in parts:
        inside = {m.name for m in modules if m.component == part}
        roots = covering_roots(inside, {m.name for m in modules if m.component != part}) if inside else []
        for root in roots:
            names = set()
            for m in modules:
                if not (m.name.startswith(root + ".") and is_linear(m)):
                    continue
                rest = m.name.split(".")
                name = rest.pop()
                while rest and any(node.endswith(normal(name)) for node in inner):
                    name = f"{rest.pop()}.{name}"
                names.add(name)
            if names:
                pieces.append(rf"{re.escape(root)}(?=\.).*\.({'|'.join(sorted(names))})")
    return "^(" + "|".join(pieces) + ")$" if pieces else r"(?!)"


# -- config-file CLIs --------------------------------------------------------------------------------------
def _key_values(words) -> dict:
    out = {}
    for word in words:
        if isinstance(word.value, str) and "=" in word.value and not word.value.startswith("-"):
            key, _, value = word.value.partition("=")
            out[key] = Given(value, [word], word)
    return out


def _dashed(words) -> dict:
    out, index = {}, 0
    while index < len(words):
        value = words[index].value
        if isinstance(value, str) and value.startswith("--") and len(value) > 2:
            key, has_inline, inline = value[2:].partition("=")
            if has_inline:
                out[key.replace("-", "_")] = Given(inline, [words[index]], words[index])
            elif index + 1 < len(words) and isinstance(words[index + 1].value, str) and not words[index + 1].value.startswith("--"):
                out[key.replace("-", "_")] = Given(words[index + 1].value, [words[index + 1]], words[index])
                index += 1
            else:
                out[key.replace("-", "_")] = Given("true", [], words[index])
        index += 1
    return out


LORA_KEYS = re.compile(r"^(lora_\w+|adapter|finetuning_type|base_model|model_name_or_path|freeze_\w+|dataset|datasets|"
                       r"additional_target|peft_\w+)$")


def _config_cli(launch: Launch, target: Target, overrides: dict) -> list[Site]:
    """The config a trainer CLI is given, read with the command's overrides (only when they touch LoRA, the
    model or the data: otherwise the config file's own check says it all)."""
    import yaml

    from .. import safe_yaml
    from ..files import read_text
    from .errors import FrontEndError
    from .shell import script_of
    from .trainer_config import TrainerConfig

    relevant = {key: given for key, given in overrides.items() if LORA_KEYS.match(key)}
    if not target.args or not relevant or not isinstance(target.args[0].value, str):
        return []
    config = script_of(launch, target.args[0].value)
    if config is None:
        return []
    try:
        text = read_text(config, 8 * 1024 * 1024)
        _, data = safe_yaml.load(text)
    except (OSError, UnicodeDecodeError, FrontEndError):
        return []
    if not isinstance(data, dict):
        return []
    for key, given in relevant.items():
        try:
            data[key] = yaml.safe_load(given.value) if isinstance(given.value, str) else given.value
        except yaml.YAMLError:
            data[key] = given.value
    merged = yaml.safe_dump(data, sort_keys=False)
    sites = TrainerConfig().sites(config, merged)
    for site in sites:
        site.file, site.line, site.column, site.call_span = str(launch.file), launch.span.line, launch.span.column, launch.span
        site.spans, site.anchor, site.origins = {}, None, {}  # fixes belong in the config file or the command: none here
        site.evidence = [replace(e, where=f"{config.name}, line {e.line}" if e.line else e.where) for e in site.evidence]
        if launch.label:
            site.variant = f"when {launch.label}"
    return sites


# -- data ----------------------------------------------------------------------------------------------------
def _evidence(site: Site, names: list, given: Given | None) -> None:
    from .data_evidence import dataset_evidence

    line = given.flag.span.line if given is not None and given.flag is not None else None
    for name in names:
        found = dataset_evidence(name)
        if found is not None:
            site.evidence.append(Evidence(found[0], found[1], line))


def _decide(site: Site) -> None:
    from .. import modality

    site.modality = modality.verdict(site.evidence)
