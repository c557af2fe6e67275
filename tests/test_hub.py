"""Model names people use, and the Hub: mirror rules on real mirror ids, every zoo entry offline, and the
download path against a local HTTP server that speaks the Hub's `resolve` protocol (HF_ENDPOINT):
success, missing, gated, a server that never answers, the negative cache. No real network."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from loralint import resolve
from loralint.cli import main
from loralint.mirrors import NotACopy, original_of
from loralint.resolve import ZOO_DIR, Resolver, Unresolved, zoo_ids

KNOWN = {hub_id.lower(): hub_id for hub_id in zoo_ids()}
QWEN_TEXT_CONFIG = (ZOO_DIR / "Qwen--Qwen2.5-7B-Instruct" / "config.json").read_bytes()


# -- mirror rules ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, original", [
    ("unsloth/gemma-3-4b-it", "google/gemma-3-4b-it"),
    ("unsloth/Qwen2.5-VL-7B-Instruct-bnb-4bit", "Qwen/Qwen2.5-VL-7B-Instruct"),
    ("unsloth/Qwen2.5-VL-7B-Instruct-unsloth-bnb-4bit", "Qwen/Qwen2.5-VL-7B-Instruct"),
    ("unsloth/Llama-3.2-11B-Vision-Instruct", "meta-llama/Llama-3.2-11B-Vision-Instruct"),
    ("alpindale/Llama-3.2-11B-Vision-Instruct", "meta-llama/Llama-3.2-11B-Vision-Instruct"),
    ("axolotl-quants/Llama-4-Scout-17B-16E-Linearized-bnb-nf4-bf16", "meta-llama/Llama-4-Scout-17B-16E-Instruct"),
    ("Qwen/Qwen2.5-VL-7B-Instruct-AWQ", "Qwen/Qwen2.5-VL-7B-Instruct"),
    ("Qwen/Qwen2.5-VL-3B-Instruct-GPTQ-Int4", "Qwen/Qwen2.5-VL-3B-Instruct"),
    ("Qwen/Qwen3-8B-FP8", "Qwen/Qwen3-8B"),
    ("unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit", "meta-llama/Llama-3.1-8B-Instruct"),
    ("NousResearch/Meta-Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"),
    ("mlx-community/Qwen2.5-VL-7B-Instruct-4bit", "Qwen/Qwen2.5-VL-7B-Instruct"),
    ("unsloth/Llama-4-Scout-17B-16E-Instruct-unsloth-bnb-4bit", "meta-llama/Llama-4-Scout-17B-16E-Instruct"),
])
def test_mirror_and_quantized_names_resolve_to_the_original(name, original):
    copy = original_of(name, KNOWN)
    assert copy is not None and copy.original == original and copy.reason


@pytest.mark.parametrize("name", [
    "someorg/gemma-3-4b-it",  # not a mirror organisation: maybe a fine-tune of another shape
    "llava-hf/llava-v1.6-mistral-7b-hf",  # a different model of the same family
    "liuhaotian/llava-v1.5-7b",  # the original LLaVA code's checkpoint: another architecture
    "unsloth/Qwen2.5-VL-72B-Instruct",  # a size loralint does not know
    "Qwen/Qwen2.5-VL-7B-Instruct-finetuned",  # not a quantization suffix
])
def test_names_that_are_not_known_copies_are_not_mapped(name):
    assert original_of(name, KNOWN) is None


@pytest.mark.parametrize("name, same_modules", [
    ("unsloth/Qwen2.5-VL-7B-Instruct-GGUF", True),  # llama.cpp files, not a transformers checkpoint
    ("unsloth/phi-4", False),  # converted to Llama's architecture: other module names
    ("unsloth/phi-4-unsloth-bnb-4bit", False),
])
def test_copies_loralint_must_not_stand_in_for(name, same_modules):
    with pytest.raises(NotACopy) as caught:
        original_of(name, KNOWN)
    assert caught.value.same_modules is same_modules


@pytest.mark.parametrize("hub_id", zoo_ids())
def test_every_zoo_entry_resolves_offline_with_its_bundled_inventory(hub_id, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    model, inventory = Resolver(cache_dir=tmp_path / "cache").inventory(hub_id)
    assert model.source == "zoo" and inventory.source == "bundled"
    assert inventory.model_class == model.config["architectures"][0]


def test_unsloth_phi4_is_unresolved_without_pointing_at_microsoft(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(Unresolved) as caught:
        Resolver(cache_dir=tmp_path / "cache").resolve("unsloth/phi-4")
    assert "Llama's architecture" in str(caught.value) and "microsoft/phi-4" not in (caught.value.help or "")


# -- the Hub, served locally ------------------------------------------------------------------------------
class FakeHub(BaseHTTPRequestHandler):
    """`GET /{repo}/resolve/main/config.json` as the Hub answers it."""

    requests: list[str] = []
    tokens: list[str | None] = []

    def do_GET(self):  # noqa: N802 - the http.server interface
        FakeHub.requests.append(self.path)
        FakeHub.tokens.append(self.headers.get("Authorization"))
        repo = self.path.removesuffix("/resolve/main/config.json").lstrip("/")
        if repo == "test-org/qwen-copy":
            self._answer(200, QWEN_TEXT_CONFIG)
        elif repo.startswith("gated/"):
            self._answer(403 if self.headers.get("Authorization") else 401, b"gated", {"X-Error-Code": "GatedRepo"})
        elif repo.startswith("silent/"):
            time.sleep(5)  # never answers within the budget
        else:
            self._answer(401, b"Repository Not Found", {"X-Error-Code": "RepoNotFound"})

    def _answer(self, status: int, body: bytes, headers: dict | None = None):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def hub(monkeypatch, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeHub.requests.clear()
    FakeHub.tokens.clear()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no saved token
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    yield tmp_path / "cache"
    server.shutdown()
    server.server_close()


def test_download_of_config_json_alone_then_cached(hub):
    model, inventory = Resolver(cache_dir=hub).inventory("test-org/qwen-copy")
    assert model.source == "hub" and FakeHub.requests == ["/test-org/qwen-copy/resolve/main/config.json"]
    assert inventory.model_class == "Qwen2ForCausalLM" and inventory.source == "bundled"  # same config as the zoo's
    again = Resolver(cache_dir=hub).resolve("test-org/qwen-copy")  # a later run: no request
    assert again.config == model.config and len(FakeHub.requests) == 1


def test_missing_repository_is_remembered_and_refresh_retries(hub):
    with pytest.raises(Unresolved) as first:
        Resolver(cache_dir=hub).resolve("nobody/nothing")
    assert first.value.kind == "not-found" and "not found on the Hugging Face Hub" in str(first.value)
    with pytest.raises(Unresolved) as second:
        Resolver(cache_dir=hub).resolve("nobody/nothing")  # the next run answers at once
    assert "remembered" in str(second.value) and len(FakeHub.requests) == 1
    with pytest.raises(Unresolved):
        Resolver(cache_dir=hub, refresh=True).resolve("nobody/nothing")
    assert len(FakeHub.requests) == 2


def test_gated_repository_says_to_set_a_token_and_a_new_token_retries(hub, monkeypatch):
    with pytest.raises(Unresolved) as anonymous:
        Resolver(cache_dir=hub).resolve("gated/llama")
    assert anonymous.value.kind == "gated" and "HF_TOKEN" in anonymous.value.help
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    with pytest.raises(Unresolved) as with_token:
        Resolver(cache_dir=hub).resolve("gated/llama")  # another token: not the remembered answer
    assert "not been granted access" in str(with_token.value)
    assert FakeHub.tokens == [None, "Bearer hf_test_token"]


def test_a_server_that_never_answers_costs_the_budget_once(hub, monkeypatch):
    monkeypatch.setattr(resolve, "DOWNLOAD_BUDGET_SECONDS", 1.0)
    resolver = Resolver(cache_dir=hub)
    start = time.monotonic()
    for name in ("silent/one", "silent/two", "nobody/else"):
        with pytest.raises(Unresolved) as caught:
            resolver.resolve(name)
        assert caught.value.kind == "no-network"
    assert time.monotonic() - start < 2.5
    assert len(FakeHub.requests) == 1  # after the first failure, the run does not try again


def test_mirror_resolves_from_the_table_when_the_hub_cannot_be_reached(hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    model = Resolver(cache_dir=hub).resolve("unsloth/gemma-3-4b-it")
    assert model.source == "zoo" and model.via.startswith("unsloth/gemma-3-4b-it -> google/gemma-3-4b-it")


def test_check_is_quiet_and_says_the_way_out(hub, tmp_path):
    script = tmp_path / "train.py"
    script.write_text("from peft import LoraConfig, get_peft_model\nfrom transformers import AutoModelForCausalLM\n"
                      "model = AutoModelForCausalLM.from_pretrained('nobody/gemma-3-4b-itt')\n"
                      "model = get_peft_model(model, LoraConfig(target_modules=['q_proj']))\n")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        main(["check", "--output-format", "json", str(script)])
    assert err.getvalue() == ""
    (diag,) = json.loads(out.getvalue())
    assert diag["code"] == "LL901"
    assert '`models = { "nobody/gemma-3-4b-itt" = "google/gemma-3-4b-it" }`' in diag["message"]
    assert "--model google/gemma-3-4b-it" in diag["message"] and "loralint inventory" in diag["message"]


def test_hf_cache_layout_is_read_without_the_hub(hub, tmp_path):
    snapshot = tmp_path / "hf" / "models--test-org--cached" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    shutil.copy(ZOO_DIR / "Qwen--Qwen2.5-7B-Instruct" / "config.json", snapshot / "config.json")
    (tmp_path / "hf" / "models--test-org--cached" / "refs").mkdir()
    (tmp_path / "hf" / "models--test-org--cached" / "refs" / "main").write_text("a" * 40)
    model = Resolver(cache_dir=hub).resolve("test-org/cached")
    assert model.source == "hf-cache" and FakeHub.requests == []
    assert Path(model.location) == snapshot / "config.json"
