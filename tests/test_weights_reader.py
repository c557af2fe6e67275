"""Saved adapters without torch: the safetensors reader on hand-made files (broken, hostile, pickled),
and the zero test that tells trained from untrained adapters. Fast: no model is built or trained."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import struct
from pathlib import Path

import pytest

from loralint.cli import main


pytestmark = pytest.mark.usefixtures("offline_env")


# -- broken and hostile files -------------------------------------------------------------------
def _safetensors(header: dict, buffer: bytes = b"", header_len: int | None = None) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if header_len is None else header_len) + raw + buffer


GOOD_B = {"base_model.model.x.lora_A.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
          "base_model.model.x.lora_B.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [16, 32]}}

BROKEN = {
    "empty-file": (b"", "LL900", "too short"),
    "header-2-63": (struct.pack("<Q", 2 ** 63) + b"{}", "LL900", "exceeds"),
    "header-not-json": (struct.pack("<Q", 5) + b"{nope", "LL900", "not valid JSON"),
    "not-an-object": (struct.pack("<Q", 2) + b"[]", "LL900", "does not start with"),
    "overlapping": (_safetensors({**GOOD_B, "base_model.model.x.lora_B.weight": {"dtype": "F32", "shape": [2, 2],
                                  "data_offsets": [8, 24]}}, bytes(32)), "LL900", "overlaps"),
    "trailing-bytes": (_safetensors(GOOD_B, bytes(40)), "LL900", "trailing bytes"),
    "truncated": (_safetensors(GOOD_B, bytes(20)), "LL900", "truncated"),
    "wrong-size": (_safetensors({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)), "LL900", "needs 12"),
    "no-tensors": (_safetensors({"__metadata__": {"format": "pt"}}) + b"", "LL005", "no tensors"),
    "zero3-placeholders": (_safetensors({k: {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for k in GOOD_B}),
                           "LL005", "ZeRO-3"),
}


def _adapter_dir(tmp_path: Path, weights: bytes, name="adapter_model.safetensors", **config) -> Path:
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "target_modules": ["x"], **config}))
    (tmp_path / name).write_bytes(weights)
    return tmp_path


def _check_json(path: Path):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", "--offline", "--output-format", "json", str(path)])
    assert "Traceback" not in err.getvalue() and "internal error" not in out.getvalue(), err.getvalue()
    return code, json.loads(out.getvalue())


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_weights(tmp_path, case):
    data, code, text = BROKEN[case]
    adapter = _adapter_dir(tmp_path, data)
    exit_code, diagnostics = _check_json(adapter / "adapter_model.safetensors")
    assert exit_code == 1
    assert [(d["code"], text in d["message"]) for d in diagnostics] == [(code, True)], diagnostics


def test_a_40_byte_adapter_with_no_tensors(tmp_path):
    data = struct.pack("<Q", 32) + b'{"__metadata__":{"format":"pt"}}'
    assert len(data) == 40
    adapter = _adapter_dir(tmp_path, data)
    _, diagnostics = _check_json(adapter)
    assert [d["code"] for d in diagnostics if d["file"].endswith(".safetensors")] == ["LL005"]


def test_pickle_only_adapter_is_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    adapter = _adapter_dir(tmp_path, pickle.dumps(Payload()), name="adapter_model.bin")
    exit_code, diagnostics = _check_json(adapter / "adapter_model.bin")
    assert not marker.exists()
    assert exit_code == 1
    assert [d["code"] for d in diagnostics] == ["LL901"] and "never unpickles" in diagnostics[0]["message"]


@pytest.mark.parametrize("init", ["pissa", "olora", "loftq", "corda", "orthogonal", "lora_ga", False])
def test_init_methods_where_zero_means_nothing(tmp_path, init):
    adapter = _adapter_dir(tmp_path, _safetensors(GOOD_B, bytes(32)), init_lora_weights=init)
    _, diagnostics = _check_json(adapter / "adapter_model.safetensors")
    assert [d["code"] for d in diagnostics] == ["LL901"]
    assert "cannot tell trained from untrained" in diagnostics[0]["message"]


def test_zero_b_is_untrained_nonzero_b_is_trained(tmp_path):
    weights = _safetensors({**GOOD_B, "base_model.model.y.lora_A.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [32, 48]},
                            "base_model.model.y.lora_B.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [48, 64]}},
                           bytes(48) + struct.pack("<4f", 0, 0, 0, 1e-8))
    adapter = _adapter_dir(tmp_path, weights)
    _, diagnostics = _check_json(adapter / "adapter_model.safetensors")
    (diag,) = diagnostics
    assert diag["code"] == "LL005" and diag["message"].startswith("1 of 2 adapters never trained") and "`x`" in diag["message"]


def test_collapse_groups_layer_indices():
    from loralint.adapter_audit import collapse

    names = [f"model.visual.blocks.{i}.mlp.down_proj" for i in (0, 1, 2, 5, 7, 8)] + ["model.visual.merger.mlp.0"]
    assert collapse(names) == ["model.visual.blocks.{0-2,5,7-8}.mlp.down_proj", "model.visual.merger.mlp.0"]
