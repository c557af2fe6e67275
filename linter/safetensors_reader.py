"""A safetensors reader that never loads a tensor: header validation and an all-zero byte scan.

Format (huggingface/safetensors): 8-byte little-endian header length N, N bytes of JSON header
`{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`, then the byte
buffer. Offsets are relative to the buffer, which the tensors must cover exactly.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from dataclasses import dataclass
from math import prod
from pathlib import Path

MAX_HEADER_BYTES = 100 * 1024 * 1024
SCAN_CHUNK = 1 << 20  # bytes per read: memory stays bounded whatever the tensor size

DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I16": 2, "U16": 2, "F16": 2,
    "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8, "C64": 8,
}


class SafetensorsError(Exception):
    """The file is not a valid safetensors file; the message says why."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int  # absolute file offsets
    end: int

    @property
    def numel(self) -> int:
        return prod(self.shape)


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise SafetensorsError(f"the header names tensor {key!r} twice")
        seen[key] = value
    return seen


def read_header(path: Path) -> tuple[list[TensorInfo], dict]:
    """Validated tensor table and metadata, reading only the header."""
    size = os.path.getsize(path)
    if size < 8:
        raise SafetensorsError(f"{size} bytes: too short for a safetensors header (truncated or empty file)")
    with open(path, "rb") as fh:
        (header_len,) = struct.unpack("<Q", fh.read(8))
        if header_len > MAX_HEADER_BYTES:
            raise SafetensorsError(f"header length {header_len} exceeds the {MAX_HEADER_BYTES} byte limit")
        if 8 + header_len > size:
            raise SafetensorsError(f"header of {header_len} bytes runs past the end of the {size}-byte file (truncated?)")
        raw = fh.read(header_len)
    if not raw.startswith(b"{"):
        raise SafetensorsError("the header does not start with '{'")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except SafetensorsError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SafetensorsError(f"the header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise SafetensorsError("the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise SafetensorsError("__metadata__ is not an object")
    base = 8 + header_len
    tensors = []
    for name, info in header.items():
        if not isinstance(info, dict):
            raise SafetensorsError(f"tensor {name!r}: entry is not an object")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in DTYPE_SIZES:
            raise SafetensorsError(f"tensor {name!r}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise SafetensorsError(f"tensor {name!r}: invalid shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
                or offsets[0] > offsets[1]):
            raise SafetensorsError(f"tensor {name!r}: invalid data_offsets {offsets!r}")
        expected = prod(shape) * DTYPE_SIZES[dtype]
        if offsets[1] - offsets[0] != expected:
            raise SafetensorsError(
                f"tensor {name!r}: {offsets[1] - offsets[0]} bytes stored, shape {shape} x {dtype} needs {expected}")
        tensors.append(TensorInfo(name, dtype, tuple(shape), base + offsets[0], base + offsets[1]))
    position = base
    for tensor in sorted(tensors, key=lambda t: (t.begin, t.end)):
        if tensor.begin != position:
            kind = "overlaps the previous tensor" if tensor.begin < position else "leaves a hole before it"
            raise SafetensorsError(f"tensor {tensor.name!r} {kind} (offset {tensor.begin - base}, expected {position - base})")
        position = tensor.end
    if position > size:
        raise SafetensorsError(f"the tensors need {position} bytes but the file has {size} (truncated?)")
    if position < size:
        raise SafetensorsError(f"{size - position} trailing bytes after the last tensor")
    return tensors, metadata


def all_zero(path: Path, tensors: list[TensorInfo]) -> dict[str, bool]:
    """{name: every byte is zero}, scanning each byte range in chunks and stopping at the first non-zero."""
    out = {}
    if not tensors:
        return out
    with open(path, "rb") as fh:
        if os.path.getsize(path) == 0:
            return {t.name: True for t in tensors}
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            for tensor in tensors:
                zero = True
                for start in range(tensor.begin, tensor.end, SCAN_CHUNK):
                    stop = min(start + SCAN_CHUNK, tensor.end)
                    chunk = mapped[start:stop]
                    _release(mapped, start, stop)
                    if chunk.count(0) != len(chunk):
                        zero = False
                        break
                out[tensor.name] = zero
    return out


def _release(mapped: mmap.mmap, start: int, stop: int) -> None:
    """Drop the scanned pages from this process (they stay in the page cache): RSS stays bounded."""
    if not hasattr(mapped, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
        return
    aligned = start - start % mmap.PAGESIZE
    try:
        mapped.madvise(mmap.MADV_DONTNEED, aligned, stop - aligned)
    except (OSError, ValueError):
        pass
