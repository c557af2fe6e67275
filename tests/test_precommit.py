"""The real pre-commit, running this repository's hooks on a temporary git repository.

pre-commit builds the hook's own virtualenv from this checkout (`pip install .`), so this needs the
package registry, as every pre-commit user's first run does; no model or dataset is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "scripts"

pytestmark = pytest.mark.slow


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory):
    """A committed snapshot of this checkout, as pre-commit clones a hook repository."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    snapshot = tmp_path_factory.mktemp("hook-repo")
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            target = snapshot / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git("init", "-q", cwd=snapshot)
    git("add", "-A", cwd=snapshot)
    git("commit", "-q", "-m", "snapshot", cwd=snapshot)
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=snapshot, capture_output=True, text=True, check=True).stdout.strip()
    return snapshot, rev


@pytest.fixture
def project(tmp_path, hook_repo):
    snapshot, rev = hook_repo
    git("init", "-q", cwd=tmp_path)
    (tmp_path / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {snapshot}\n  rev: {rev}\n  hooks:\n  - id: loralint\n  - id: loralint-fix\n    stages: [manual]\n")
    return tmp_path


def pre_commit(*args, cwd):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PRE_COMMIT_HOME": str(Path(cwd).parent / "pre-commit-home")}
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=1800)


def test_check_hook_fails_on_bad_and_passes_on_good(project):
    shutil.copy(EXAMPLES / "peft_trainer_text.py", project / "train.py")
    git("add", "-A", cwd=project)
    bad = pre_commit("run", "loralint", "--files", "train.py", cwd=project)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "LL001" in bad.stdout and "train.py:21:20" in bad.stdout

    shutil.copy(EXAMPLES / "text_model_clean.py", project / "train.py")
    git("add", "-A", cwd=project)
    good = pre_commit("run", "loralint", "--files", "train.py", cwd=project)
    assert good.returncode == 0, good.stdout + good.stderr


def test_fix_hook_rewrites_the_bad_script(project):
    shutil.copy(EXAMPLES / "peft_trainer_text.py", project / "train.py")
    git("add", "-A", cwd=project)
    fixed = pre_commit("run", "loralint-fix", "--hook-stage", "manual", "--files", "train.py", cwd=project)
    assert fixed.returncode == 1  # a hook that modifies files fails, as pre-commit expects
    text = (project / "train.py").read_text()
    assert 'target_modules=r"model\\.language_model\\..*\\.(q_proj|v_proj|down_proj)"' in text
    again = pre_commit("run", "loralint", "--files", "train.py", cwd=project)
    assert again.returncode == 0, again.stdout
