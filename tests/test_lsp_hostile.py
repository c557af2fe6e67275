"""The editor server keeps answering malformed traffic (a real `loralint lsp` process): a huge, missing or
invalid Content-Length, LF-only separators, bodies that are not JSON-RPC, invalid params, requests after
shutdown; `exit` without `shutdown` exits 1; a codeAction for a file that is not open never reads it."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time

import pytest


def frame(obj, separator: bytes = b"\r\n\r\n") -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: " + str(len(body)).encode() + separator + body


def request(request_id: int, method: str, params) -> bytes:
    return frame({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})


INIT = request(1, "initialize", {"capabilities": {}})


def exchange(*chunks: bytes, until, timeout: float = 20.0):
    """Send the chunks to a fresh server; the replies (by id) once the reply to `until` has come, and the process."""
    proc = subprocess.Popen([sys.executable, "-m", "loralint", "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    for chunk in chunks:
        proc.stdin.write(chunk)
        proc.stdin.flush()
    replies, buffer, deadline = {}, b"", time.monotonic() + timeout
    while until not in replies and time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.2)[0]:
            data = os.read(proc.stdout.fileno(), 65536)
            if not data:
                break
            buffer += data
        while b"\r\n\r\n" in buffer:
            head, _, rest = buffer.partition(b"\r\n\r\n")
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
            if len(rest) < length:
                break
            message = json.loads(rest[:length])
            buffer = rest[length:]
            if "id" in message:
                replies[message["id"]] = message
    return replies, proc


def finish(proc) -> str:
    proc.kill()
    return proc.stderr.read().decode(errors="replace")


@pytest.mark.parametrize("junk", [
    b"Content-Length: 99999999999\r\n\r\n{}",
    b"Content-Type: application/json\r\n\r\n{}",
    b"Content-Length: abc\r\n\r\n{}",
    b"Content-Length: 40\r\n\r\n{\"jsonrpc\": \"2.0\"",  # shorter than announced: swallows what follows
    frame({"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": {"capabilities": {}}}, b"\n\n"),
], ids=["huge-length", "missing-length", "invalid-length", "short-body", "lf-only"])
def test_malformed_framing_is_skipped_and_the_server_answers_on(junk):
    replies, proc = exchange(junk, INIT, request(2, "shutdown", None), until=2)
    assert 2 in replies and replies[2].get("error") is None, replies  # still answering
    if junk.startswith(b"Content-Length: 40"):
        assert replies[None]["error"]["code"] == -32700  # the short body swallowed part of the next message
    else:
        assert 1 in replies
    assert "Traceback" not in finish(proc)


def test_bodies_that_are_not_json_rpc_and_invalid_params_get_error_replies():
    replies, proc = exchange(INIT, frame([1, 2]), request(3, "textDocument/codeAction", {"x": 1}),
                             request(4, "shutdown", None), until=4)
    assert replies[3]["error"]["code"] == -32602 and replies[4].get("error") is None
    assert "Traceback" not in finish(proc)


def test_a_request_after_shutdown_gets_its_error_reply():
    replies, proc = exchange(INIT, request(2, "shutdown", None), request(3, "textDocument/hover", {}), until=3)
    assert replies[3]["error"]["code"] == -32600
    finish(proc)


@pytest.mark.parametrize("shutdown, code", [(True, 0), (False, 1)])
def test_exit_code_follows_the_specification(shutdown, code):
    chunks = [INIT] + ([request(2, "shutdown", None)] if shutdown else [])
    chunks.append(frame({"jsonrpc": "2.0", "method": "exit"}))
    _, proc = exchange(*chunks, until=2 if shutdown else 1)
    assert proc.wait(timeout=20) == code


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_code_action_for_a_file_that_is_not_open_never_reads_it(tmp_path):
    fifo = tmp_path / "train.py"
    os.mkfifo(fifo)
    params = {"textDocument": {"uri": fifo.as_uri()}, "range": {"start": {"line": 0, "character": 0},
              "end": {"line": 0, "character": 0}}, "context": {"diagnostics": []}}
    replies, proc = exchange(INIT, request(5, "textDocument/codeAction", params), request(6, "shutdown", None), until=6)
    assert replies[5].get("result") in ([], None) and 6 in replies
    finish(proc)
