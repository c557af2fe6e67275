"""Analysis: one site resolved, matched and (for saved adapters) audited; the facts rules and reports read.

The pipeline runs one way: a front end made the site; this module resolves its model, asks the
site's front end for the LoRA settings as the trainer hands them to PEFT, matches them, and audits
saved weights. Whatever stops a stage is one `Problem` on the analysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from .inventory import Inventory
from .matching import MatchResult, catastrophic_pattern, match, patterns_of
from .problems import Kind, Problem
from .resolve import ResolvedModel, Resolver, Unresolved
from .site import Site

# problems that stop the checks before matching (LL901), and what PEFT or the run would refuse (LL004)
UNRESOLVED_KINDS = (Kind.MODEL_UNRESOLVED, Kind.NOT_STATIC, Kind.MODEL_NOT_STATIC)
REFUSED_KINDS = (Kind.WOULD_REFUSE, Kind.FORWARD_CRASH, Kind.UNREADABLE)


@dataclass(frozen=True)
class Overrides:
    """What the user says on the command line (or in settings) over what the files say."""

    modality: str | None = None
    model: str | None = None
    model_class: str | None = None
    transformers: str | None = None  # the version the project trains with, over what it pins
    transformers_from: str = "[tool.loralint] transformers"  # where that came from, for the output


@dataclass
class Analysis:
    site: Site
    modality: str = "unknown"  # the site's, unless overridden
    model: ResolvedModel | None = None
    inventory: Inventory | None = None
    spec: object = None  # the LoRA settings as matched (targets derived by the trainer, if any)
    result: MatchResult | None = None
    audit: object = None  # adapter_audit.Audit of the saved weights, when there are any
    problems: list[Problem] = field(default_factory=list)
    dead_modules: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the user should know about how the site was read
    discarded: frozenset = frozenset()  # module roots whose output the model discards even with media (LLaVA)
    discarded_why: str = ""
    era: object = None  # eras.Era: the transformers whose module names were used
    other_era_inventory: Inventory | None = None  # today's names, when the project's era differs (fixes valid in both)

    def problem(self, *kinds: Kind, weights: bool = False) -> Problem | None:
        """The first problem of these kinds, about the site itself (or, with weights=True, its saved weights)."""
        return next((p for p in self.problems if p.kind in kinds and (p.file is not None) == weights), None)

    @property
    def mix(self) -> frozenset | None:
        """The media the data holds (None when unknown)."""
        from .modality import mix_of

        return mix_of(self.modality)

    def dead(self, module, mix: frozenset | None = None) -> bool:
        """Does this module's adapter get no gradient from data of this mix (default: the site's; unknown: text)?"""
        mix = mix if mix is not None else (self.mix or frozenset({"text"}))
        if within(module.name, self.discarded | self.speech_output):
            return True
        component = module.component
        if component == "vision":
            medium = next((m for root, m in self.medium_towers.items() if within(module.name, (root,))), None)
            return medium not in mix if medium else not mix & {"image", "video"}
        if component == "audio":
            return "audio" not in mix
        if component == "projector":
            from .arch import projector_media

            # with both kinds of tower, a projector whose path names one medium is fed by that tower alone
            both_kinds = {"image", "audio"} <= self._projector_media
            named = projector_media(module.name) if both_kinds else frozenset()
            return not mix & (named or self._projector_media)
        if module.name in self.inventory.image_only:
            return "image" not in mix
        return False

    @cached_property
    def medium_towers(self) -> dict:
        """Towers that encode one medium only (Video-LLaVA's image and video towers): {root: medium}."""
        from .arch import medium_towers

        return medium_towers(self.inventory)

    @cached_property
    def speech_output(self) -> frozenset:
        """Sub-models that only run when the model generates speech (an Omni model's talker): dead for any data."""
        from .arch import speech_output_roots

        return speech_output_roots(self.inventory)

    @cached_property
    def _projector_media(self) -> frozenset:
        """What feeds the projector: the media of the model's towers (both, when it has both kinds)."""
        components = {m.component for m in self.inventory.modules}
        media = set()
        if "vision" in components or self.inventory.image_only:
            media |= {"image", "video"}
        if "audio" in components:
            media.add("audio")
        return frozenset(media or {"image", "video", "audio"})

    @property
    def unresolved(self) -> Problem | None:
        return self.problem(*UNRESOLVED_KINDS)

    @property
    def refused(self) -> Problem | None:
        return self.problem(*REFUSED_KINDS)

    @property
    def total_params(self) -> int:
        return self.result.total_params if self.result else 0

    @property
    def dead_params(self) -> int:
        return sum(a.params for a in self.dead_modules)


def within(name: str, roots) -> bool:
    """Is the module `name` one of these sub-trees' roots, or inside one?"""
    return any(name == root or name.startswith(root + ".") for root in roots)


def analyze(site: Site, resolver: Resolver, overrides: Overrides = Overrides()) -> Analysis:
    analysis = Analysis(site, modality=overrides.modality or site.modality, notes=list(site.notes))
    answered = site.problem is not None and site.problem.kind is Kind.MODEL_NOT_STATIC and overrides.model
    if site.problem is not None and not answered:
        analysis.problems.append(site.problem)
    elif site.lora is not None:
        _match_site(analysis, resolver, overrides)
    if site.weights is not None:
        audit_weights(analysis)
    return analysis


def _match_site(analysis: Analysis, resolver: Resolver, overrides: Overrides) -> None:
    from . import frontends

    site = analysis.site
    ref = overrides.model or site.model_ref
    if not ref:
        analysis.problems.append(Problem(Kind.MODEL_UNRESOLVED, "no base model reference found (pass --model)"))
        return
    try:
        analysis.model, analysis.inventory = resolver.inventory(ref, _model_class(site, overrides),
                                                                None if overrides.model else site.relative_to)
    except Unresolved as exc:
        analysis.problems.append(Problem(Kind.MODEL_UNRESOLVED, str(exc), help=exc.help))
        return
    if analysis.model is not None and analysis.model.via:
        analysis.notes.append(f"model {analysis.model.via}")
    _apply_era(analysis, overrides)
    part = frontends.for_site(site).submodule_for(site, analysis.model.config if analysis.model else None)
    if part and not _root_at_submodule(analysis, part):
        return
    built = analysis.inventory.model_class
    if overrides.model and not overrides.model_class and site.model_class and site.model_class != built:
        analysis.notes.append(f"--model {ref} was built as {built}, not as the script's {site.model_class}")
    try:
        spec = frontends.for_site(site).spec_for(site, analysis.inventory)
    except Exception as exc:  # the trainer itself would refuse (e.g. Unsloth's flag checks)
        analysis.problems.append(Problem(Kind.WOULD_REFUSE, f"{site.framework} would refuse this config: {exc}"))
        return
    analysis.spec = spec
    risky = next((p for p in patterns_of(spec) if catastrophic_pattern(p)), None)
    if risky is not None:
        analysis.problems.append(Problem(
            Kind.NOT_STATIC, f"the pattern {risky!r} nests unbounded repetition and can take exponential time "
            "on a module name; loralint does not run it (neither should PEFT)"))
        return
    analysis.result = result = match(analysis.inventory, spec)
    if result.error:
        analysis.problems.append(Problem(Kind.WOULD_REFUSE, result.error))
    elif result.forward_crash:
        analysis.problems.append(Problem(Kind.FORWARD_CRASH, result.forward_crash))
    from . import arch

    config = analysis.model.config if analysis.model is not None else None
    discarded, why = arch.discarded_vision_layers(analysis.inventory.model_type, config, analysis.inventory)
    analysis.discarded, analysis.discarded_why = frozenset(discarded), why
    # the site's mix; with unknown data, what text-only data would leave dead (LL002's question)
    analysis.dead_modules = [a for a in result.adapted if analysis.dead(a.module)]


def _apply_era(analysis: Analysis, overrides: Overrides) -> None:
    """Match with the module names of the transformers the project trains with (eras.py)."""
    from .eras import inventory_in_era

    analysis.era = era = project_era(analysis.site, overrides)
    if era.name == "older":
        analysis.notes.append(f"the project trains with {era.describe()}, which names multimodal models' modules "
                              "differently; loralint checked with the names of transformers 4.52 and later")
        return
    derived = inventory_in_era(analysis.inventory, era)
    if derived is not analysis.inventory:
        analysis.other_era_inventory = analysis.inventory
        analysis.inventory = derived
        analysis.notes.append(f"module names of {era.describe()}")


def project_era(site: Site, overrides: Overrides):
    from pathlib import Path

    from .eras import era_of

    if overrides.transformers:
        return era_of(overrides.transformers, overrides.transformers_from)
    if site.file:
        from .frontends.shell import project_root
        from .pins import project_pins

        pin = project_pins(project_root(Path(site.file))).get("transformers")
        if pin is not None and pin.version:
            return era_of(pin.version, f"pinned in {pin.source}")
    return era_of(None, "loralint's own")


def _root_at_submodule(analysis: Analysis, part: str) -> bool:
    """LoRA on a part of the model (`get_peft_model(model.thinker, ...)`): match on that part's names."""
    config = analysis.model.config if analysis.model is not None else None
    sub_config = config.get(f"{part}_config") if isinstance(config, dict) else None
    part_type = sub_config.get("model_type") if isinstance(sub_config, dict) else None
    rooted = analysis.inventory.rooted_at(part, part_type if isinstance(part_type, str) else None)
    if rooted is None:
        analysis.problems.append(Problem(
            Kind.MODEL_UNRESOLVED, f"LoRA is applied to `.{part}` of the model, and "
            f"{analysis.inventory.model_class} has no module `{part}`"))
        return False
    analysis.inventory = rooted
    if analysis.other_era_inventory is not None:
        analysis.other_era_inventory = analysis.other_era_inventory.rooted_at(part, rooted.model_type)
    return True


def _model_class(site: Site, overrides: Overrides) -> str | None:
    """The class to build: the user's, else the script's, except that a concrete class of the script's own
    model (Qwen2_5_VL...) does not fit another model named with --model: that one gets its default class."""
    if overrides.model_class:
        return overrides.model_class
    if overrides.model and site.model_class and not site.model_class.startswith("Auto"):
        return None
    return site.model_class


def audit_weights(analysis: Analysis) -> None:
    """The saved-adapter audit: which LoRA weights never trained (LL005), or why that cannot be told."""
    from .adapter_audit import AuditError, audit_saved

    weights = analysis.site.weights
    try:
        audit = audit_saved(weights, analysis.site.weights_init, analysis.inventory)
    except AuditError as exc:
        analysis.problems.append(Problem(Kind.UNREADABLE, f"{weights.name}: {exc}", file=str(weights)))
        return
    analysis.audit = audit
    if audit.not_applicable:
        analysis.problems.append(Problem(Kind.NOT_AUDITABLE, audit.not_applicable, file=str(weights)))
