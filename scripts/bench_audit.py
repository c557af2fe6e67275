"""Zero test on a large synthetic adapter, run by hand: time and peak memory of `loralint check`.

    python scripts/bench_audit.py [--gib 1]

Writes an adapter of the given size (half lora_A filled with ones, half lora_B zeros except the last
tensor), then runs `loralint check` on it under /usr/bin/time-like measurement (resource.getrusage of
the child), printing wall time and the child's peak RSS.
"""

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHUNK = 64 << 20


def write_adapter(directory: Path, total_bytes: int) -> Path:
    tensors, header, offset = 16, {}, 0
    per_tensor = total_bytes // tensors // 4 * 4
    rows = per_tensor // 4 // 1024
    for i in range(tensors // 2):
        for part in ("lora_A", "lora_B"):
            name = f"base_model.model.layers.{i}.proj.{part}.weight"
            header[name] = {"dtype": "F32", "shape": [rows, 1024], "data_offsets": [offset, offset + rows * 4096]}
            offset += rows * 4096
    raw = json.dumps(header).encode()
    path = directory / "adapter_model.safetensors"
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        for name, info in header.items():
            size = info["data_offsets"][1] - info["data_offsets"][0]
            fill = b"\x00" if "lora_B" in name and "layers.7." not in name else b"\x01"
            while size:
                step = min(size, CHUNK)
                fh.write(fill * step)
                size -= step
    (directory / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "target_modules": ["proj"]}))
    return path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_adapter(Path(tmp), int(args.gib * (1 << 30)))
        print(f"adapter: {path.stat().st_size / (1 << 30):.2f} GiB", flush=True)
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "loralint", "check", "--output-format", "concise", str(path)],
                              capture_output=True, text=True, env=env)
        elapsed = time.perf_counter() - start
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else proc.stderr)
        print(json.dumps({"seconds": round(elapsed, 2), "child_peak_rss_mib": round(peak_kib / 1024, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
