"""SARIF output validated against the official schema; notebooks linted and fixed in place."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "tests" / "data" / "sarif" / "sarif-schema-2.1.0.json"  # the official schema (SOURCE.txt beside it)
NOTEBOOK = REPO / "examples" / "notebooks" / "unsloth_text.ipynb"


def run(*args, cwd=REPO):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "loralint", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


@pytest.fixture(scope="module")
def sarif_log():
    proc = run("check", "--output-format", "sarif", "examples")
    assert proc.returncode == 1, proc.stderr
    return json.loads(proc.stdout)


def test_sarif_validates_against_the_official_schema(sarif_log):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(sarif_log, json.loads(SCHEMA.read_text()))


def test_sarif_content(sarif_log):
    (run_,) = sarif_log["runs"]
    rules = run_["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules][:5] == ["LL001", "LL002", "LL003", "LL004", "LL005"]
    assert all(r["help"]["markdown"].startswith(f"# {r['id']} ") for r in rules)
    results = run_["results"]
    assert {r["ruleId"] for r in results} >= {"LL001", "LL002", "LL004"}
    for result in results:
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert not location["artifactLocation"]["uri"].startswith("/")
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert len(result["partialFingerprints"]["loralint/v1"]) == 64
    fixed = [r for r in results if "fixes" in r]
    assert fixed
    replacement = fixed[0]["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert {"deletedRegion", "insertedContent"} <= set(replacement)


def test_sarif_fingerprints_survive_moving_lines(tmp_path):
    shutil.copy(REPO / "examples" / "scripts" / "peft_trainer_text.py", tmp_path / "t.py")
    first = json.loads(run("check", "--output-format", "sarif", "t.py", cwd=tmp_path).stdout)
    (tmp_path / "t.py").write_text("# a new first line\n" + (tmp_path / "t.py").read_text())
    second = json.loads(run("check", "--output-format", "sarif", "t.py", cwd=tmp_path).stdout)
    a, b = first["runs"][0]["results"][0], second["runs"][0]["results"][0]
    assert a["partialFingerprints"] == b["partialFingerprints"]
    assert b["locations"][0]["physicalLocation"]["region"]["startLine"] == a["locations"][0]["physicalLocation"]["region"]["startLine"] + 1


def test_notebook_is_flagged_with_cell_locations():
    proc = run("check", "--output-format", "json", str(NOTEBOOK))
    (diag,) = json.loads(proc.stdout)
    assert diag["code"] == "LL001" and diag["cell"] == 4
    cell = json.loads(NOTEBOOK.read_text())["cells"][3]
    line = "".join(cell["source"]).splitlines()[diag["line"] - 1]
    assert line[diag["column"] - 1: diag["end_column"] - 1] == "True"
    assert "cell 5, line 1" in diag["message"]  # the evidence is located in its own cell
    assert "unsloth_text.ipynb:cell 4:4:28: LL001" in run("check", "--output-format", "concise", str(NOTEBOOK)).stdout


def test_notebook_fix_touches_only_the_cell(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    path = tmp_path / "nb.ipynb"
    shutil.copy(NOTEBOOK, path)
    before = json.loads(path.read_text())
    proc = run("check", "--fix", "nb.ipynb", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    after = json.loads(path.read_text())
    nbformat.validate(nbformat.reads(path.read_text(), as_version=4))
    assert after["metadata"] == before["metadata"]
    for old, new in zip(before["cells"], after["cells"]):
        assert new.get("outputs") == old.get("outputs") and new["metadata"] == old["metadata"]
    changed = [i for i, (o, n) in enumerate(zip(before["cells"], after["cells"])) if o["source"] != n["source"]]
    assert changed == [3]
    assert "    finetune_vision_layers=False,\n" in after["cells"][3]["source"]
    assert run("check", "nb.ipynb", cwd=tmp_path).returncode == 0
    again = path.read_bytes()
    run("check", "--fix", "nb.ipynb", cwd=tmp_path)
    assert path.read_bytes() == again


def test_notebook_with_unreproducible_layout_is_not_rewritten(tmp_path):
    path = tmp_path / "nb.ipynb"
    data = json.loads(NOTEBOOK.read_text())
    path.write_text(json.dumps(data, indent=3).replace('"cells": [', '"cells":  ['))  # a layout json cannot reproduce
    original = path.read_bytes()
    run("check", "--fix", "nb.ipynb", cwd=tmp_path)
    assert path.read_bytes() == original


def test_broken_notebook_is_ll900(tmp_path):
    (tmp_path / "nb.ipynb").write_text('{"cells": [')
    (diag,) = json.loads(run("check", "--output-format", "json", "nb.ipynb", cwd=tmp_path).stdout)
    assert diag["code"] == "LL900"
