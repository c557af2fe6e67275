"""Names people train with that copy a model loralint knows: mirrors and quantized re-uploads.

A copy counts only when its module names are the original's: re-uploads under another organisation
(Unsloth, Axolotl, NousResearch, MLX community ...) and quantized uploads (bitsandbytes, AWQ, GPTQ,
FP8) build the same module tree from the same config fields. A fine-tune that changes the
architecture keeps its own name and is never taken for its base. The hub's own config of a copy,
when it can be fetched, wins over these rules (`resolve.Resolver`).

Rules, in order:
1. the curated table `RENAMED` (copies whose names differ from the original's), each with its reason;
2. a quantization suffix (`QUANT_SUFFIX`) dropped from the name, in the same organisation or a mirror one;
3. a mirror organisation (`MIRROR_ORGS`) whose repository name is the original's, matched against the
   known models' names (case-insensitively), when exactly one known model has that name.
`-GGUF` repositories are llama.cpp files, not transformers checkpoints: said so, never mapped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# organisations that re-upload other organisations' models under the original repository name
MIRROR_ORGS = {
    "unsloth": "Unsloth re-uploads models (often quantized) under their original names",
    "unsloth-community": "Unsloth's community re-uploads keep the original names",
    "alpindale": "a re-upload of the gated original",
    "nousresearch": "NousResearch re-uploads Llama checkpoints without the gate",
    "axolotl-quants": "Axolotl's quantized re-uploads",
    "mlx-community": "MLX conversions keep the original config",
    "hf-internal-testing": "transformers' test copies",
}
# quantized or re-packed uploads: same config fields, same module names
QUANT_SUFFIX = re.compile(
    r"(?:-unsloth)?-bnb-(?:4|8)bit$|-bnb-nf4(?:-bf16)?$|-AWQ$|-GPTQ(?:-Int[48])?$|-FP8(?:-Dynamic)?$|"
    r"-(?:4|8)bit$|-MLX(?:-(?:4|8)bit)?$",
    re.I,
)
GGUF = re.compile(r"-GGUF$|\.gguf$", re.I)

# copies whose names differ from the original's: name (lower case) -> (original, reason)
RENAMED = {
    "unsloth/meta-llama-3.1-8b-instruct": ("meta-llama/Llama-3.1-8B-Instruct",
                                           "Unsloth keeps Meta's earlier name for Llama 3.1 8B Instruct"),
    "unsloth/meta-llama-3.1-8b": ("meta-llama/Llama-3.1-8B", "Unsloth keeps Meta's earlier name for Llama 3.1 8B"),
    "nousresearch/meta-llama-3.1-8b-instruct": ("meta-llama/Llama-3.1-8B-Instruct",
                                                "NousResearch keeps Meta's earlier name for Llama 3.1 8B Instruct"),
    "unsloth/llama-3-8b-instruct": ("meta-llama/Meta-Llama-3-8B-Instruct", "Unsloth's short name for Llama 3 8B Instruct"),
    "axolotl-quants/llama-4-scout-17b-16e-linearized-bnb-nf4-bf16": (
        "meta-llama/Llama-4-Scout-17B-16E-Instruct",
        "Axolotl's NF4 upload of Llama 4 Scout with its experts stored per expert; transformers builds the "
        "same module tree from the same config fields"),
}


# names under a mirror organisation that are NOT copies: another architecture, so other module names
NOT_COPIES = {
    re.compile(r"unsloth/phi-4(?:-unsloth)?(?:-bnb-4bit)?$", re.I): (
        "Unsloth converted Phi-4 to Llama's architecture (separate q/k/v and gate/up projections), so "
        "microsoft/phi-4's module names (qkv_proj, gate_up_proj) do not apply"),
}


@dataclass(frozen=True)
class Copy:
    original: str
    reason: str


class NotACopy(Exception):
    """The name is not a copy loralint may stand in for (GGUF files, another architecture): the reason.
    `same_modules`: whether the original's module names still apply (a GGUF of it: yes)."""

    def __init__(self, message: str, same_modules: bool):
        super().__init__(message)
        self.same_modules = same_modules


def original_of(ref: str, known: dict[str, str]) -> Copy | None:
    """The model `ref` copies, among `known` (lower-case id -> id as written), or None.

    Raises NotACopy for a GGUF repository or a known re-architected upload."""
    ref = ref.strip()
    if GGUF.search(ref):
        raise NotACopy(f"{ref} holds GGUF files for llama.cpp, not a transformers checkpoint; "
                       "name the model it was converted from", same_modules=True)
    for pattern, reason in NOT_COPIES.items():
        if pattern.match(ref):
            raise NotACopy(f"{ref} is not a copy: {reason}", same_modules=False)
    lowered = ref.lower()
    if lowered in RENAMED:
        original, reason = RENAMED[lowered]
        if original.lower() in known:
            return Copy(known[original.lower()], reason)
    org, _, name = ref.rpartition("/")
    stripped = QUANT_SUFFIX.sub("", name)
    if stripped != name:
        same_org = f"{org}/{stripped}".lower() if org else stripped.lower()
        if same_org in known:
            return Copy(known[same_org], f"a quantized upload ({name[len(stripped):].lstrip('-')}) keeps the module names")
        renamed = RENAMED.get(same_org)
        if renamed and renamed[0].lower() in known:
            return Copy(known[renamed[0].lower()], renamed[1] + "; quantized, same module names")
    if org.lower() in MIRROR_ORGS:
        by_name = [full for lower, full in known.items() if lower.rpartition("/")[2] == stripped.lower()]
        if len(by_name) == 1 and by_name[0].lower() != lowered:
            why = MIRROR_ORGS[org.lower()]
            if stripped != name:
                why += f"; the {name[len(stripped):].lstrip('-')} quantization keeps the module names"
            return Copy(by_name[0], why)
    return None
