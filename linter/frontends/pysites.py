"""LoRA sites in a script: LoraConfig(...) calls, Unsloth's get_peft_model, TRL's ModelConfig, with the model
each is applied to and the spans a fix may rewrite."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import libcst as cst

from ..diagnostics import line_starts
from ..matching import LoraSpec
from ..problems import Kind, Problem
from ..site import Site, Span
from .. import modality
from . import unsloth
from .pyevidence import modality_evidence
from .pyvalues import UNKNOWN, PythonFile, _dotted, _kw, _positional, _string

LORA_FIELDS = ("target_modules", "exclude_modules", "layers_to_transform", "layers_pattern", "modules_to_save",
               "r", "rank_pattern", "use_dora", "lora_bias", "target_parameters", "task_type")
NON_MODEL_CLASSES = re.compile(r"Tokenizer|Processor|Config$|FeatureExtractor|ImageProcessor|Collator|Dataset")
UNSLOTH_VISION = ("FastVisionModel.get_peft_model", "FastModel.get_peft_model")
UNSLOTH_LANGUAGE = ("FastLanguageModel.get_peft_model",)
UNSLOTH_LOADERS = ("FastVisionModel", "FastLanguageModel", "FastModel")
TRL_MODEL_CONFIG_FIELDS = {"lora_target_modules": "target_modules", "lora_r": "r",
                           "lora_modules_to_save": "modules_to_save", "use_dora": "use_dora",
                           "lora_target_parameters": "target_parameters"}


class _SpanMaker:
    def __init__(self, pyfile: PythonFile):
        self.pyfile = pyfile
        self.starts = line_starts(pyfile.text)

    def value(self, node, origin: str) -> Span | None:
        """Where a fix may rewrite a setting: the launch's words when the launch gave it, the script's
        expression otherwise (none when the site is located in a launch and the value is the script's)."""
        launch = self.pyfile.launch
        if launch is None:
            return self(node) if node is not None else None
        if origin.startswith("launch:"):
            given = self.pyfile.given().get(origin[len("launch:"):])
            if given is not None and given.words:
                first, last = given.words[0].span, given.words[-1].span
                return Span(first.start, last.end, first.line, first.column, last.end_line, last.end_column)
        return None

    def __call__(self, node) -> Span:
        rng = self.pyfile.span(node)
        start = self.starts[rng.start.line - 1] + rng.start.column
        end = self.starts[rng.end.line - 1] + rng.end.column
        return Span(start, end, rng.start.line, rng.start.column + 1, rng.end.line, rng.end.column + 1)


@dataclass
class _ModelLoad:
    call: cst.Call
    var: str | None
    cls: str
    ref: object
    ref_reason: str
    submodule: str = ""  # the part of the loaded model that gets LoRA: get_peft_model(model.thinker, ...)


def extract_sites(pyfile: PythonFile) -> list[Site]:
    path = pyfile.path
    base_dir = path.parent
    c = pyfile.collector
    span_of = _SpanMaker(pyfile)
    loads = _model_loads(pyfile)
    declared, evidence = modality_evidence(pyfile, base_dir)
    sites = []
    for call, var in c.calls:
        name = _dotted(call.func) or ""
        if name in c.lora_names:
            kind = "peft"
        elif name.endswith(UNSLOTH_VISION):
            kind = "unsloth-vision"
        elif name.endswith(UNSLOTH_LANGUAGE):
            kind = "unsloth-language"
        elif name.endswith("ModelConfig") and _kw(call, "use_peft") is not None:
            kind = "trl-model-config"
        elif name.rpartition(".")[2] == "get_peft_config":
            kind = "trl-parsed"
        else:
            continue
        found = (_sites_for_parsed_config(pyfile, call, var, loads, span_of) if kind == "trl-parsed"
                 else _site_for_call(pyfile, call, var, kind, loads, span_of))
        for site in found:
            site.modality, site.evidence = modality.decide(declared, evidence)
            sites.append(site)
    return sites


def _model_loads(pyfile: PythonFile) -> list[_ModelLoad]:
    loads = []
    for call, var in pyfile.collector.calls:
        name = _dotted(call.func) or ""
        if not name.endswith(".from_pretrained"):
            continue
        cls = name.rsplit(".", 2)[-2]
        if NON_MODEL_CLASSES.search(cls):
            continue
        ref_node = _positional(call, 0) or _kw(call, "pretrained_model_name_or_path") or _kw(call, "model_name")
        ref, reason = pyfile.evaluate(ref_node, alternatives=True) if ref_node is not None else (UNKNOWN, "no model argument")
        loads.append(_ModelLoad(call, var, cls, ref, reason if ref is UNKNOWN else ""))
    return loads


def _string_models(pyfile: PythonFile) -> list[_ModelLoad]:
    """Models named as a string where a trainer takes them: SFTTrainer(model="org/name", ...)."""
    out = []
    for call, _ in pyfile.collector.calls:
        model = _kw(call, "model")
        if isinstance(model, (cst.SimpleString, cst.Name)) and _kw(call, "peft_config") is not None:
            value, _ = pyfile.evaluate(model)
            if isinstance(value, str):
                out.append(_ModelLoad(call, None, "", value, ""))
    return out


def _consumers(pyfile: PythonFile, call: cst.Call, var: str | None):
    """Calls that take this LoRA config: get_peft_model(model, cfg), SFTTrainer(peft_config=cfg) ..."""
    for other, _ in pyfile.collector.calls:
        for index, arg in enumerate(other.args):
            is_ours = arg.value is call or (var and isinstance(arg.value, cst.Name) and arg.value.value == var)
            if is_ours:
                yield other


def _model_for(pyfile: PythonFile, call: cst.Call, var: str | None, loads, kind: str):
    """(reference, class, reason when unknown) of the model a LoRA config is applied to."""
    model_arg, applied_at = None, call
    if kind.startswith("unsloth"):
        model_arg = _positional(call, 0) or _kw(call, "model")
    else:
        for consumer in _consumers(pyfile, call, var):
            model_arg = _kw(consumer, "model") or _positional(consumer, 0)
            if model_arg is not None and model_arg is not call:
                applied_at = consumer
                break
            model_arg = None
    model_arg, submodule = _submodule_of(pyfile, model_arg, loads, applied_at)
    if isinstance(model_arg, cst.Name):
        # the load that assigned this name last before the LoRA call (a later cell may load another model)
        named = [load for load in loads if load.var == model_arg.value]
        earlier = [load for load in named if _before(pyfile, load.call, call)]
        if earlier or named:
            return replace((earlier or named)[-1], submodule=submodule)
    elif model_arg is not None:
        value, reason = pyfile.evaluate(model_arg)
        if isinstance(value, str):
            return _ModelLoad(call, None, "", value, "")
    candidates = loads + _string_models(pyfile)
    refs = {repr(load.ref) for load in candidates}
    if len(candidates) >= 1 and len(refs) == 1:
        return candidates[0]
    earlier = [load for load in loads if _before(pyfile, load.call, call)]
    if len({repr(load.ref) for load in earlier}) == 1:
        return earlier[-1]  # one model loaded before the LoRA call; later loads are for inference
    if len(refs) > 1:
        return _ModelLoad(call, None, "", UNKNOWN, "several models are loaded in this file; cannot tell which one gets LoRA")
    return _ModelLoad(call, None, "", UNKNOWN, "no from_pretrained(...) call names the base model")


def _submodule_of(pyfile: PythonFile, node, loads, applied_at) -> tuple[object, str]:
    """`model.thinker` (or a name assigned it once) -> (the `model` node, "thinker"): LoRA goes on a part of a
    loaded model, whose module names are relative to that part."""
    loaded = {load.var for load in loads if load.var}
    given, seen = node, 0
    while isinstance(node, cst.Name) and node.value not in loaded and seen < 8:
        # `thinker = model.thinker` (a later `thinker = get_peft_model(thinker, ...)` wraps the same part)
        parts_of = [v for v in pyfile.collector.assignments.get(node.value, []) if isinstance(v, cst.Attribute)]
        if len(parts_of) != 1:
            break
        node, seen = parts_of[0], seen + 1
    root, part = _attribute_chain(node)
    if part and isinstance(root, cst.Name) and root.value in loaded:
        return root, part
    if isinstance(given, cst.Name) and given.value in loaded:
        # `model = model.thinker` after the load, before LoRA is applied
        for value in pyfile.collector.assignments.get(given.value, []):
            root, part = _attribute_chain(value)
            if part and isinstance(root, cst.Name) and root.value == given.value and _before(pyfile, value, applied_at):
                return given, part
    return given, ""


def _attribute_chain(node) -> tuple[object, str]:
    """`model.thinker.model` -> (the `model` node, "thinker.model"); anything else -> (node, "")."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    return node, ".".join(reversed(parts))


def _before(pyfile: PythonFile, first, second) -> bool:
    a, b = pyfile.span(first).start, pyfile.span(second).start
    return (a.line, a.column) < (b.line, b.column)


def _site_for_call(pyfile, call, var, kind, loads, span_of) -> list[Site]:
    fields: dict[str, tuple] = {}  # field -> (value node at the site, container)
    dict_node = None
    names = dict(TRL_MODEL_CONFIG_FIELDS) if kind == "trl-model-config" else {f: f for f in LORA_FIELDS}
    if kind.startswith("unsloth"):
        names.update({flag: flag for flag in unsloth.FLAGS})
    unknown = []
    for arg in call.args:
        if arg.star == "**":
            target = arg.value
            if isinstance(arg.value, cst.Name):
                assigned = pyfile.collector.assignments.get(arg.value.value, [])
                target = assigned[0] if len(assigned) == 1 else None
            if isinstance(target, cst.Dict):
                dict_node = target
                for element in target.elements:
                    if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
                        key = _string(element.key)
                        if key in names:
                            fields[names[key]] = element.value
            elif isinstance(target, cst.Call) and _dotted(target.func) == "dict":
                for inner in target.args:
                    if inner.keyword and inner.keyword.value in names:
                        fields[names[inner.keyword.value]] = inner.value
            else:
                unknown.append("**kwargs")
        elif arg.keyword is not None and arg.keyword.value in names:
            fields[names[arg.keyword.value]] = arg.value
    if kind == "trl-model-config":
        use_peft, _ = pyfile.evaluate(_kw(call, "use_peft"))
        if use_peft is not True:
            return []

    evaluated = {}
    for field_name, node in fields.items():
        value, origin = pyfile.evaluate(node, alternatives=True)
        evaluated[field_name] = (value, origin, span_of.value(node, origin))
    return _sites_from_values(pyfile, call, var, kind, loads, span_of, evaluated, unknown, dict_node)


def _sites_for_parsed_config(pyfile, call, var, loads, span_of) -> list[Site]:
    """TRL's `get_peft_config(model_args)`: LoRA only with `use_peft`, its fields from ModelConfig as the
    parser fills it (the launch's flags, else TRL's defaults)."""
    from .pyvalues import Namespace

    argument = _positional(call, 0) or _kw(call, "model_args") or _kw(call, "model_config")
    namespace, reason = pyfile.evaluate(argument) if argument is not None else (UNKNOWN, "no argument")
    if not isinstance(namespace, Namespace):
        return []
    use_peft, _ = namespace.get("use_peft", "argparse")
    if use_peft is not True:
        return []
    evaluated = {}
    for flag, field_name in TRL_MODEL_CONFIG_FIELDS.items():
        value, origin = namespace.get(flag, "argparse")
        if value is None and origin == "argparse":
            continue  # TRL passes None: PEFT's own default
        evaluated[field_name] = (value, origin, span_of.value(None, origin))
    return _sites_from_values(pyfile, call, var, "trl-parsed", loads, span_of, evaluated, [], None)


def _sites_from_values(pyfile, call, var, kind, loads, span_of, evaluated, unknown, dict_node) -> list[Site]:
    values, origins, spans = {}, {}, {}
    for field_name, (value, origin, span) in evaluated.items():
        if value is UNKNOWN:
            unknown.append(f"`{field_name}` ({origin})")
            continue
        values[field_name] = value
        origins[field_name] = origin
        if span is not None:
            spans[field_name] = span
    if kind == "trl-model-config":
        ref, reason = pyfile.evaluate(_kw(call, "model_name_or_path"), alternatives=True)
        load = _ModelLoad(call, None, "", ref, "" if ref is not UNKNOWN else "model_name_or_path is not a constant")
    else:
        load = _model_for(pyfile, call, var, loads, kind)
    sites = []
    for variant, chosen, ref in _readings(values, load.ref):
        reading = replace(load, ref=ref)
        site = _build_site(pyfile, call, kind, chosen, origins, spans, unknown, dict_node, reading, span_of)
        site.variant = variant
        sites.append(site)
    return sites


MAX_READINGS = 8


def _readings(values: dict, ref):
    """(label, values, model ref) for each combination of branch values (one reading when nothing disagrees)."""
    from itertools import product

    from .pyvalues import Alternatives

    varying = {field: value for field, value in values.items() if isinstance(value, Alternatives)}
    if isinstance(ref, Alternatives):
        varying["<model>"] = ref
    if not varying:
        return [(None, values, ref)]
    out = []
    for combination in list(product(*(alt.options for alt in varying.values())))[:MAX_READINGS]:
        chosen, model, labels = dict(values), ref, []
        for (field, alt), (value, line) in zip(varying.items(), combination):
            labels.append(f"`{alt.name}` as assigned on line {line}")
            if field == "<model>":
                model = value
            else:
                chosen[field] = value
        out.append(("with " + " and ".join(labels), chosen, model))
    return out


def _build_site(pyfile, call, kind, values, origins, spans, unknown, dict_node, load, span_of) -> Site:
    from .types import first_wrong, refusal

    wrong = first_wrong(values)
    if wrong is not None:  # PEFT would refuse it: keep the site, without the value
        field, accepted = wrong
        refused = Problem(Kind.WOULD_REFUSE, refusal(field, accepted, values[field]), spans.get(field))
        values = {k: v for k, v in values.items() if k != field}
    else:
        refused = None
    spec = LoraSpec(
        target_modules=values.get("target_modules"),
        exclude_modules=values.get("exclude_modules"),
        layers_to_transform=values.get("layers_to_transform"),
        layers_pattern=values.get("layers_pattern"),
        modules_to_save=values.get("modules_to_save"),
        r=values.get("r", 16 if kind.startswith("unsloth") else 8),
        rank_pattern=values.get("rank_pattern") or {},
        use_dora=bool(values.get("use_dora", False)),
        lora_bias=bool(values.get("lora_bias", False)),
        target_parameters=values.get("target_parameters"),
        task_type=values.get("task_type") if isinstance(values.get("task_type"), str) else None,
    )
    if kind in ("trl-model-config", "trl-parsed"):
        from .trl import trl_targets

        spec.target_modules = trl_targets(spec.target_modules)
        spec.r = values.get("r", 16)  # ModelConfig.lora_r defaults to 16
    call_span = span_of(call)
    anchor_field = "target_modules" if "target_modules" in spans else next(iter(spans), None)
    site = Site(
        file=str(pyfile.path),
        line=call_span.line,
        column=call_span.column,
        framework={"peft": "peft", "trl-model-config": "trl", "trl-parsed": "trl"}.get(kind, "unsloth"),
        model_ref=load.ref if isinstance(load.ref, str) else None,
        model_class=load.cls if load.cls and not load.cls.startswith(UNSLOTH_LOADERS) and load.cls[0].isupper() else None,
        lora=spec,
        relative_to=pyfile.path.parent,
        spans=spans,
        origins=dict(origins),
        syntax="python-dict" if dict_node is not None else "python-call",
        anchor=spans.get(anchor_field) if anchor_field else _last_arg_span(call, span_of),
    )
    site.call_span = call_span
    site.submodule = load.submodule
    if load.ref is UNKNOWN:
        site.problem = Problem(Kind.MODEL_NOT_STATIC, f"the base model is not statically known: {load.ref_reason} "
                               "(name it with --model)")
    if unknown and any(u.startswith(("`target_modules`", "`exclude_modules`", "`layers", "**", "`modules_to_save`")) for u in unknown):
        site.problem = Problem(Kind.NOT_STATIC, "not statically known: " + ", ".join(unknown))
    if kind.startswith("unsloth"):
        _apply_unsloth(site, kind, values)
    if refused is not None:
        site.problem = refused
    if any(u.startswith("`r` ") for u in unknown):
        default = spec.r
        site.notes.append(f"`r` is not statically known; the parameter counts assume r={default}")
    if pyfile.launch is not None:
        _locate_at_launch(site, pyfile, kind)
    return site


def _locate_at_launch(site: Site, pyfile: PythonFile, kind: str) -> None:
    """A site whose values a launch gives is reported where the launch is written, at its flags."""
    launch = pyfile.launch
    site.file = str(launch.file)
    site.line, site.column = launch.span.line, launch.span.column
    site.call_span = launch.span
    site.frontend, site.syntax = "launch", launch.syntax
    flags = {field: flag for flag, field in TRL_MODEL_CONFIG_FIELDS.items()} if kind == "trl-parsed" else {}
    for field, origin in list(site.origins.items()):
        if origin.startswith("launch:"):
            flags[field] = origin[len("launch:"):]
            if launch.syntax == "docstring":
                site.origins[field] = "docstring"  # usage in documentation: rewritten only when asked
    site.key_names = flags
    site.anchor = launch.words[-1].span if launch.words else None
    # a flag taking a list: a one-entry list is a regex only where TRL turns it into a string
    site.flags = {"one_entry_is_regex": kind == "trl-parsed"}
    if launch.label:  # one of a loop's launches: findings shared by all are reported once
        site.variant = f"when {launch.label}" + (f", {site.variant}" if site.variant else "")


def _last_arg_span(call: cst.Call, span_of) -> Span | None:
    return span_of(call.args[-1].value) if call.args else None


def _apply_unsloth(site: Site, kind: str, values: dict) -> None:
    site.frontend = "unsloth"
    targets = values.get("target_modules")
    if kind == "unsloth-language":
        if targets is None:
            site.lora.target_modules = list(unsloth.FAST_LANGUAGE_DEFAULT_TARGETS)
        return
    flags = {flag: bool(values.get(flag, True)) for flag in unsloth.FLAGS}
    if isinstance(targets, str) and targets == "all-linear":
        if values.get("finetune_vision_layers") is False:
            site.dead_note = ('target_modules="all-linear" makes Unsloth turn finetune_vision_layers (and every other '
                              "finetune_* flag) back on, so finetune_vision_layers=False has no effect")
            site.flags = {f"asked_{flag}": flags[flag] for flag in unsloth.FLAGS}
        flags = {flag: True for flag in unsloth.FLAGS}
    site.flags = {**site.flags, **flags}
