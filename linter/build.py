"""The cold path: build a model on the meta device and record its module tree.

Only this module imports torch and transformers, and only inside functions.
"""

from __future__ import annotations

import logging
import warnings

from . import arch
from .inventory import (
    CONV1D,
    CONV1D_HF,
    CONV2D,
    CONV3D,
    EMBEDDING,
    LINEAR,
    MHA,
    OTHER,
    Inventory,
    Module,
    config_sha256,
)


class BuildError(Exception):
    """The model could not be built from its config (a clear, user-facing reason)."""


# Which sub-config names a sub-model boundary by (`vision_config` -> vision ...). A sub-model whose
# config is none of these (a Q-Former, an Omni talker) is not language, so it counts as projector.
def _component_of_subconfig(key: str) -> str | None:
    key = key.lower()
    if "vision" in key or "visual" in key:
        return "vision"
    # Omni models: the talker and token-to-wave sub-models produce speech.
    if any(word in key for word in ("audio", "speech", "talker", "wav")):
        return "audio"
    if key == "text_config":
        return "language"
    return None


def _module_kind(module, torch, conv1d_hf_cls) -> tuple[str, tuple[int, ...]]:
    # Order mirrors peft.tuners.lora.layer.dispatch_default.
    nn = torch.nn
    if isinstance(module, nn.Embedding):
        return EMBEDDING, (module.num_embeddings, module.embedding_dim)
    for cls, kind in ((nn.Conv2d, CONV2D), (nn.Conv3d, CONV3D), (nn.Conv1d, CONV1D)):
        if isinstance(module, cls):
            return kind, (module.in_channels, module.out_channels, *module.kernel_size, module.groups)
    if isinstance(module, nn.MultiheadAttention):
        return MHA, (module.embed_dim, module.out_proj.out_features)
    if isinstance(module, nn.Linear):
        return LINEAR, (module.in_features, module.out_features)
    if conv1d_hf_cls is not None and isinstance(module, conv1d_hf_cls):
        in_features, out_features = module.weight.shape
        return CONV1D_HF, (in_features, out_features)
    return OTHER, ()


def _import_stack():
    try:
        import torch
        import transformers
    except ImportError as exc:  # pragma: no cover - exercised in the no-torch subprocess test
        raise BuildError(
            f"building a new model inventory needs torch and transformers ({exc.name} is not installed); "
            "install `loralint[torch]`, or use a bundled model or an inventory file made by `loralint inventory`"
        ) from None
    return torch, transformers


def make_config(config_dict: dict):
    """A transformers config object from a plain dict, never trusting remote code."""
    _, transformers = _import_stack()
    from transformers import CONFIG_MAPPING

    model_type = config_dict.get("model_type")
    if model_type not in CONFIG_MAPPING:
        raise BuildError(
            f"model_type {model_type!r} is not known to transformers {transformers.__version__}"
        )
    return _config_from_dict(CONFIG_MAPPING[model_type], config_dict, "the config")


def _config_from_dict(config_cls, config_dict: dict, what: str):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return config_cls.from_dict(dict(config_dict))
    except Exception as exc:  # transformers raises many kinds on bad configs
        raise BuildError(f"transformers rejected {what}: {type(exc).__name__}: {exc}") from None


LEGACY_AUTO_CLASSES = {"AutoModelForVision2Seq": "AutoModelForImageTextToText"}


def resolve_model_class(config, class_request: str | None):
    """The class a script would get: a named class, an Auto class's mapping, or the config's default."""
    _, transformers = _import_stack()
    from transformers.models.auto.auto_factory import _get_model_class

    def from_auto(auto_name: str):
        auto_cls = getattr(transformers, auto_name, None)
        mapping = getattr(auto_cls, "_model_mapping", None)
        if mapping is None:
            raise BuildError(f"{auto_name} is not a transformers auto class")
        try:
            return _get_model_class(config, mapping)
        except (KeyError, ValueError):
            return None

    # transformers v5 renamed the Vision2Seq auto class; scripts still use the old name
    class_request = LEGACY_AUTO_CLASSES.get(class_request, class_request)
    if class_request:
        if class_request.startswith("AutoModel"):
            cls = from_auto(class_request)
            if cls is None:
                raise BuildError(f"{class_request} has no class for model_type {config.model_type!r}")
            return cls
        cls = getattr(transformers, class_request, None)
        if isinstance(cls, type) and hasattr(cls, "_from_config"):
            return cls
        # a class of the user's own (a subclass or wrapper): the checkpoint's own class decides
        return resolve_model_class(config, None)
    for name in config.architectures or []:
        cls = getattr(transformers, name, None)
        if isinstance(cls, type) and hasattr(cls, "_from_config"):
            return cls
    for auto_name in ("AutoModelForImageTextToText", "AutoModelForMultimodalLM", "AutoModelForCausalLM"):
        cls = from_auto(auto_name)
        if cls is not None:
            return cls
    raise BuildError(f"no transformers model class loads model_type {config.model_type!r}")


def _subconfig_labels(parent_config) -> list[tuple[object, str | None]]:
    """(sub-config object, component it names) for each sub-config the parent declares."""
    labels = []
    for key in getattr(parent_config, "sub_configs", {}) or {}:
        sub = getattr(parent_config, key, None)
        if sub is not None:
            labels.append((sub, _component_of_subconfig(key)))
    return labels


def _label_for(sub_config, parent_config, cache: dict) -> tuple[bool, str | None]:
    """(is a sub-model boundary, its component) for a sub-model's config under its parent's config."""
    if sub_config is parent_config:
        return False, None
    entries = cache.get(id(parent_config))
    if entries is None:
        entries = [(sub, sub.to_dict(), label) for sub, label in _subconfig_labels(parent_config)]
        cache[id(parent_config)] = entries
    for sub, _, label in entries:
        if sub is sub_config:
            return True, label
    # Some models deep-copy the sub-config when building the sub-model.
    sub_dict = sub_config.to_dict()
    for _, as_dict, label in entries:
        if as_dict == sub_dict:
            return True, label
    return False, None


def inventory_from_model(model, config_dict: dict) -> Inventory:
    """Walk `named_modules()` (PEFT's own order and de-duplication) and assign components."""
    torch, transformers = _import_stack()
    from transformers import PreTrainedModel

    try:
        from transformers.pytorch_utils import Conv1D as conv1d_hf_cls
    except ImportError:  # pragma: no cover
        conv1d_hf_cls = None

    named = list(model.named_modules())
    output_embedding = None
    out_emb = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if out_emb is not None:
        output_embedding = next((n for n, m in named if m is out_emb), None)

    multimodal = any(label in ("vision", "audio") for label in _walk_subconfig_labels(model.config))
    patch_projectors = arch.IMAGE_INPUT_PROJECTORS.get(model.config.model_type, ())
    multimodal = multimodal or bool(patch_projectors)

    # Sub-model boundaries: the nearest PreTrainedModel ancestor decides the component.
    label_of_prefix: dict[str, str | None] = {"": None}
    pretrained_config_of: dict[str, object] = {"": model.config}
    cache: dict = {}
    for name, module in named:
        if not name or not isinstance(module, PreTrainedModel):
            continue
        parent = _nearest_prefix(name, pretrained_config_of)
        is_boundary, label = _label_for(module.config, pretrained_config_of[parent], cache)
        pretrained_config_of[name] = module.config
        label_of_prefix[name] = label if is_boundary else label_of_prefix[parent]

    # Parameter counts, children before parents (named_modules is pre-order).
    own = {name: sum(p.numel() for p in m.parameters(recurse=False)) for name, m in named}
    total = dict(own)
    for name, _ in reversed(named):
        if name:
            parent = name.rpartition(".")[0]
            if parent in total:
                total[parent] += total[name]

    projector_roots = _projector_roots(model, named, label_of_prefix) if multimodal else None
    heads = {output_embedding} | _language_sub_model_heads(named, label_of_prefix)

    modules = []
    parameters = []
    for name, module in named:
        if not name:
            continue
        kind, dims = _module_kind(module, torch, conv1d_hf_cls)
        if kind == OTHER:
            parameters.extend(
                (name, param_name, tuple(param.shape))
                for param_name, param in module.named_parameters(recurse=False)
                if param.ndim in (2, 3)
            )
        if name in heads:
            component = "head"
        elif patch_projectors and any(part in patch_projectors for part in name.split(".")):
            component = "projector"
        else:
            component = label_of_prefix[_nearest_prefix(name, label_of_prefix, inclusive=True)]
            if component is None:
                if not multimodal:
                    component = "language"
                elif projector_roots is None:
                    component = "projector"
                else:
                    in_bridge = any(name == r or name.startswith(r + ".") for r in projector_roots)
                    component = "projector" if in_bridge else "language"
        modules.append(Module(name, type(module).__name__, kind, component, dims, total.get(name, 0)))

    inv = Inventory(
        model_type=model.config.model_type,
        model_class=type(model).__name__,
        transformers_version=transformers.__version__,
        config_sha256=config_sha256(config_dict),
        multimodal=multimodal,
        output_embedding=output_embedding,
        modules=modules,
        parameters=parameters,
    )
    names = [m.name for m in modules]
    inv.image_only = frozenset(
        arch.image_only_modules(inv.model_type, config_dict, inv.language_prefixes(), names)
    )
    return inv


def _language_sub_model_heads(named, label_of_prefix: dict) -> set[str]:
    """The output layers of sub-models that hold a language model (Qwen2.5-Omni's `thinker.lm_head`): they
    compute the logits the loss reads, whatever the data. The whole model's own head is found apart."""
    language = [prefix for prefix, label in label_of_prefix.items() if label == "language"]
    modules = dict(named)
    heads = set()
    for prefix in label_of_prefix:
        if not prefix or not any(lang == prefix or lang.startswith(prefix + ".") for lang in language):
            continue
        getter = getattr(modules.get(prefix), "get_output_embeddings", None)
        head = getter() if callable(getter) else None
        if head is not None:
            heads.update(name for name, module in named if module is head)
    return heads


def _projector_roots(model, named, label_of_prefix) -> list[str] | None:
    """Where the language model is the root itself (no `text_config` sub-model, e.g. Phi-4-multimodal),
    the projectors are what shares a branch with a tower below the language model's own level: the
    child of the module holding the input embeddings on the way to each tower. None when a language
    sub-model exists (then everything outside the sub-models is projector)."""
    if any(label == "language" for label in label_of_prefix.values()):
        return None
    get_input = getattr(model, "get_input_embeddings", None)
    try:
        input_embedding = get_input() if get_input else None
    except (NotImplementedError, AttributeError):
        input_embedding = None
    input_name = next((n for n, m in named if input_embedding is not None and m is input_embedding), None)
    if input_name is None:
        return None
    language_root = input_name.rpartition(".")[0]
    roots = []
    for tower, label in label_of_prefix.items():
        if label not in ("vision", "audio"):
            continue
        if language_root and not tower.startswith(language_root + "."):
            roots.append(tower)
            continue
        rest = tower[len(language_root) + 1:] if language_root else tower
        roots.append((language_root + "." if language_root else "") + rest.split(".")[0])
    return roots


def _walk_subconfig_labels(config, depth: int = 0):
    if depth > 4:
        return
    for sub, label in _subconfig_labels(config):
        yield label
        yield from _walk_subconfig_labels(sub, depth + 1)


def _nearest_prefix(name: str, prefixes: dict, inclusive: bool = False) -> str:
    candidate = name if inclusive else name.rpartition(".")[0]
    while candidate and candidate not in prefixes:
        candidate = candidate.rpartition(".")[0]
    return candidate if candidate in prefixes else ""


def build_meta_model(config_dict: dict, class_request: str | None):
    """The empty-weight model exactly as `cls._from_config(config)` makes it, on the meta device."""
    torch, _ = _import_stack()
    # transformers logs loudly about configs, meta devices and unused kwargs; none of it is the user's concern here.
    logging.getLogger("transformers").setLevel(logging.ERROR)
    config = make_config(config_dict)
    cls = resolve_model_class(config, class_request)
    config = _config_for_class(config, config_dict, cls)
    try:
        with warnings.catch_warnings(), torch.device("meta"):
            warnings.simplefilter("ignore")
            return cls._from_config(config)
    except BuildError:
        raise
    except Exception as exc:
        raise BuildError(f"{cls.__name__} could not be built from this config: {type(exc).__name__}: {exc}") from None


def _config_for_class(config, config_dict: dict, cls):
    """A sub-model's class loaded from a composite checkpoint reads its own part of the config: a named class
    (Qwen2.5-Omni's thinker from the whole model's config.json) as `PretrainedConfig.from_pretrained` does, the
    `base_config_key` entry, else the sub-config whose model_type is the class's; an Auto class that maps to
    a text-only class (AutoModelForCausalLM on Qwen3.5) as the auto factory does, with the text config."""
    config_class = getattr(cls, "config_class", None)
    own_type = getattr(config_class, "model_type", "")
    if not own_type or own_type == config.model_type:
        return config
    key = getattr(config_class, "base_config_key", "")
    sub = config_dict.get(key) if key else None
    if not isinstance(sub, dict):
        sub = next((v for v in config_dict.values() if isinstance(v, dict) and v.get("model_type") == own_type), None)
    if sub is None:
        return config
    return _config_from_dict(config_class, sub, f"the {own_type} part of the config")


def build_inventory(config_dict: dict, class_request: str | None) -> Inventory:
    model = build_meta_model(config_dict, class_request)
    return inventory_from_model(model, config_dict)
