"""`--fix` respects the file system: a read-only file is refused, a symlink is written through, hard links
stay linked, mode is kept, a failure costs one file, no temporary file is left; a CRLF notebook is fixed."""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from loralint.cli import main

pytestmark = pytest.mark.usefixtures("offline_env")
SCRIPT = ("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForImageTextToText\n"
          "model = AutoModelForImageTextToText.from_pretrained('google/gemma-3-4b-it')\n"
          "model = get_peft_model(model, LoraConfig(target_modules=['gate_proj', 'fc1']))  # loralint: modality=text\n")


def fix(*paths: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["check", "--offline", "--fix", *map(str, paths)])
    return code, err.getvalue()


def fixed(text: str) -> bool:
    return "model\\.language_model" in text


@pytest.mark.skipif(os.geteuid() == 0 and sys.platform != "linux", reason="root ignores modes")
def test_read_only_file_is_refused_and_the_run_goes_on(tmp_path):
    locked, open_ = tmp_path / "locked.py", tmp_path / "open.py"
    locked.write_text(SCRIPT)
    open_.write_text(SCRIPT)
    locked.chmod(0o444)
    code, err = fix(locked, open_)
    assert code == 1 and "locked.py: not fixed: the file is read-only" in err
    assert locked.read_text() == SCRIPT and fixed(open_.read_text())
    assert stat.S_IMODE(locked.stat().st_mode) == 0o444


def test_symlink_is_written_through_and_stays_a_link(tmp_path):
    real = tmp_path / "real.py"
    real.write_text(SCRIPT)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    fix(link)
    assert link.is_symlink() and fixed(real.read_text())


def test_hard_links_stay_one_file_and_mode_is_kept(tmp_path):
    first = tmp_path / "a.py"
    first.write_text(SCRIPT)
    first.chmod(0o750)
    second = tmp_path / "b.py"
    os.link(first, second)
    fix(first)
    assert os.path.samefile(first, second) and fixed(second.read_text())
    assert stat.S_IMODE(first.stat().st_mode) == 0o750


def test_an_unwritable_directory_costs_that_file_and_leaves_no_temporary_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only directories")
    folder = tmp_path / "ro"
    folder.mkdir()
    script = folder / "t.py"
    script.write_text(SCRIPT)
    folder.chmod(0o555)
    try:
        code, err = fix(script)
    finally:
        folder.chmod(0o755)
    assert "not fixed" in err and script.read_text() == SCRIPT and sorted(os.listdir(folder)) == ["t.py"]


def test_crlf_notebook_is_fixed_and_keeps_its_line_breaks(tmp_path):
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": SCRIPT.splitlines(True)}]
    text = json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"
    notebook = tmp_path / "train.ipynb"
    notebook.write_bytes(text.replace("\n", "\r\n").encode())
    fix(notebook)
    raw = notebook.read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert fixed("".join(json.loads(raw)["cells"][0]["source"])) and sorted(os.listdir(tmp_path)) == ["train.ipynb"]
