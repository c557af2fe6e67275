"""`loralint lsp` as a real subprocess, driven by a minimal LSP client over stdio."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("pygls")

REPO = Path(__file__).resolve().parents[1]

# A non-ASCII line (2 astral-plane emoji = 4 UTF-16 code units, 2 code points) before the target,
# and on the target's own line, so UTF-16 columns differ from code point columns.
SCRIPT = (
    "# 🚀🚀 fine-tune on text only — ünïcode\n"
    "from peft import LoraConfig\n"
    "from transformers import Qwen2_5_VLForConditionalGeneration\n"
    "model = Qwen2_5_VLForConditionalGeneration.from_pretrained(\"Qwen/Qwen2.5-VL-7B-Instruct\")\n"
    "cfg = LoraConfig(r=8, note=\"🚀\", target_modules=[\"q_proj\", \"v_proj\", \"down_proj\"])  # loralint: modality=text\n"
)


class Client:
    def __init__(self, cwd: Path):
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "loralint", "lsp"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env)
        self.messages: queue.Queue = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        stream = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = stream.readline()
                if not line:
                    return
                line = line.decode().strip()
                if not line:
                    break
                key, _, value = line.partition(":")
                headers[key.lower()] = value.strip()
            body = stream.read(int(headers["content-length"]))
            message = json.loads(body)
            if "method" in message and "id" in message:  # a request from the server: accept it
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            self.messages.put(message)

    def _send(self, payload: dict):
        body = json.dumps(payload).encode()
        self.proc.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict):
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: dict, timeout: float = 60):
        self.next_id += 1
        self._send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == self.next_id and "method" not in m, timeout)["result"]

    def wait(self, predicate, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if predicate(message):
                return message
        raise AssertionError("timed out waiting for the server")

    def diagnostics(self, uri: str, version: int, timeout: float = 60):
        message = self.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                            and m["params"]["uri"] == uri and m["params"].get("version") == version, timeout)
        return message["params"]["diagnostics"]

    def close(self):
        try:
            self.request("shutdown", {}, timeout=10)
            self.notify("exit", {})
            self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def apply_text_edits(text: str, edits: list[dict]) -> str:
    lines = text.split("\n")

    def offset(position):
        line = lines[position["line"]] if position["line"] < len(lines) else ""
        before = sum(len(l) + 1 for l in lines[: position["line"]])
        units, chars = 0, 0
        for ch in line:
            if units >= position["character"]:
                break
            units += len(ch.encode("utf-16-le")) // 2
            chars += 1
        return before + chars

    for edit in sorted(edits, key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]), reverse=True):
        start, end = offset(edit["range"]["start"]), offset(edit["range"]["end"])
        text = text[:start] + edit["newText"] + text[end:]
    return text


@pytest.fixture
def client(tmp_path):
    c = Client(tmp_path)
    c.request("initialize", {"processId": os.getpid(), "rootUri": tmp_path.as_uri(),
                             "capabilities": {"window": {"workDoneProgress": True}}})
    c.notify("initialized", {})
    yield c
    c.close()


def test_diagnostics_quick_fix_and_clear(client, tmp_path):
    path = tmp_path / "train.py"
    path.write_text(SCRIPT)
    uri = path.as_uri()
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": SCRIPT}})
    (diag,) = client.diagnostics(uri, 1)
    assert diag["code"] == "LL001" and diag["source"] == "loralint"
    page = diag["codeDescription"]["href"]
    assert page.startswith("file://") and page.endswith("/LL001.md")  # the rule's page, installed
    line = SCRIPT.splitlines()[4]
    value = '["q_proj", "v_proj", "down_proj"]'
    codepoint_col = line.index(value)
    utf16_col = len(line[:codepoint_col].encode("utf-16-le")) // 2
    assert utf16_col == codepoint_col + 1  # one emoji before it on the line
    assert diag["range"] == {"start": {"line": 4, "character": utf16_col},
                             "end": {"line": 4, "character": utf16_col + len(value)}}

    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": diag["range"], "context": {"diagnostics": [diag]}})
    titles = [a["title"] for a in actions]
    fix = next(a for a in actions if a.get("isPreferred"))
    assert "Ignore LL001 on this line" in titles
    assert any(a["kind"] == "source.fixAll.loralint" for a in actions)
    new_text = apply_text_edits(SCRIPT, fix["edit"]["changes"][uri])
    assert 'target_modules=r"model\\.language_model\\..*\\.(q_proj|v_proj|down_proj)"' in new_text
    assert new_text.splitlines()[0] == SCRIPT.splitlines()[0]

    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                             "contentChanges": [{"text": new_text}]})
    assert client.diagnostics(uri, 2) == []


def test_ignore_action_and_fix_all(client, tmp_path):
    path = tmp_path / "train.py"
    path.write_text(SCRIPT)
    uri = path.as_uri()
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": SCRIPT}})
    (diag,) = client.diagnostics(uri, 1)
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": diag["range"], "context": {"diagnostics": [diag]}})
    ignore = next(a for a in actions if a["title"] == "Ignore LL001 on this line")
    ignored = apply_text_edits(SCRIPT, ignore["edit"]["changes"][uri])
    assert ignored.splitlines()[4].endswith("# noqa: LL001")
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": ignored}]})
    assert client.diagnostics(uri, 2) == []

    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": SCRIPT}]})
    assert len(client.diagnostics(uri, 3)) == 1
    fix_all = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
        "context": {"diagnostics": [], "only": ["source.fixAll.loralint"]}})
    (action,) = fix_all
    fixed = apply_text_edits(SCRIPT, action["edit"]["changes"][uri])
    assert "model\\.language_model" in fixed


def test_pyproject_changes_apply_without_restart(client, tmp_path):
    path = tmp_path / "train.py"
    path.write_text(SCRIPT)
    uri = path.as_uri()
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": SCRIPT}})
    assert len(client.diagnostics(uri, 1)) == 1
    (tmp_path / "pyproject.toml").write_text('[tool.loralint]\nignore = ["LL001"]\n')
    client.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": (tmp_path / "pyproject.toml").as_uri(), "type": 1}]})
    assert client.diagnostics(uri, 1) == []


def test_unresolved_model_is_a_diagnostic_not_a_log_line(tmp_path):
    client = Client(tmp_path)
    try:
        client.request("initialize", {"processId": os.getpid(), "rootUri": tmp_path.as_uri(), "capabilities": {}})
        client.notify("initialized", {})
        uri = (tmp_path / "train.py").as_uri()
        text = ('from peft import LoraConfig\nfrom transformers import AutoModel\n'
                'model = AutoModel.from_pretrained("nobody/nothing-7b")\nLoraConfig(target_modules=["q_proj"])\n')
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
        (diagnostic,) = client.diagnostics(uri, 1)
        assert diagnostic["code"] == "LL901" and "nobody/nothing-7b" in diagnostic["message"]
    finally:
        client.close()
    # editors show a server's stderr as noise or errors: the reason belongs in the diagnostic only
    assert client.proc.stderr.read() == b""
