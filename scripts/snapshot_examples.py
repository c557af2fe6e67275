"""Every output loralint gives on `examples/`, as one JSON document: a refactor must leave it byte-identical.

    python scripts/snapshot_examples.py            # print the snapshot
    python scripts/snapshot_examples.py --write    # rewrite tests/data/examples_snapshot.json

tests/test_examples_snapshot.py compares a fresh run with the committed file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO / "tests" / "data" / "examples_snapshot.json"
CHECK_FORMATS = ["full", "concise", "json", "github", "sarif"]


def _run(argv: list[str]) -> dict:
    from loralint.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return {"exit": code, "stdout": _portable(out.getvalue()), "stderr": _portable(err.getvalue())}


def _portable(text: str) -> str:
    """The checkout's own location (SARIF's %SRCROOT%, absolute paths) as a placeholder: CI clones elsewhere."""
    return text.replace(REPO.as_uri(), "file:///REPO").replace(str(REPO), "/REPO")


def example_files() -> list[str]:
    return sorted(p.relative_to(REPO).as_posix() for p in (REPO / "examples").rglob("*")
                  if p.is_file() and p.suffix in (".py", ".yaml", ".yml", ".json", ".ipynb"))


def snapshot() -> dict:
    previous, saved_env = Path.cwd(), dict(os.environ)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.chdir(REPO)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["HF_HUB_CACHE"] = str(Path(tmp) / "hf")
            os.environ["LORALINT_CACHE_DIR"] = str(Path(tmp) / "cache")
            out = {}
            for file in example_files():
                runs = {f"check --output-format {fmt}": _run(["check", "--offline", "--output-format", fmt, file])
                        for fmt in CHECK_FORMATS}
                runs["check --diff --unsafe-fixes"] = _run(["check", "--offline", "--diff", "--unsafe-fixes", file])
                runs["report --format json"] = _run(["report", "--offline", "--format", "json", file])
                runs["report --format table"] = _run(["report", "--offline", file])
                out[file] = runs
            return out
    finally:
        os.chdir(previous)
        os.environ.clear()
        os.environ.update(saved_env)


if __name__ == "__main__":
    data = json.dumps(snapshot(), indent=1, sort_keys=True) + "\n"
    if "--write" in sys.argv:
        SNAPSHOT.write_text(data, encoding="utf-8")
        print(f"wrote {SNAPSHOT.relative_to(REPO)}", file=sys.stderr)
    else:
        sys.stdout.write(data)
