"""Every output on `examples/` (diagnostics in each format, fixes as a diff, report JSON and table) equals the
committed snapshot byte for byte: refactors must not change what loralint reports. A deliberate change of
output is recorded with `python scripts/snapshot_examples.py --write`, reviewed in the diff."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("snapshot_examples", REPO / "scripts" / "snapshot_examples.py")
snapshot_examples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(snapshot_examples)

EXPECTED = json.loads(snapshot_examples.SNAPSHOT.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def current(tmp_path_factory, monkeypatch_module=None):
    return snapshot_examples.snapshot()


def test_snapshot_covers_every_example():
    assert sorted(EXPECTED) == snapshot_examples.example_files()


@pytest.mark.parametrize("file", sorted(EXPECTED))
def test_outputs_unchanged(current, file):
    for command, expected in EXPECTED[file].items():
        assert current[file][command] == expected, f"{command} {file} changed"
