"""Model resolution: local paths, the bundled zoo, the Hugging Face cache layout, refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from loralint.resolve import Resolver, Unresolved, bundled_inventory, zoo_ids
from loralint.inventory import config_sha256

REPO = Path(__file__).resolve().parents[1]
ZOO = REPO / "linter" / "zoo"
QWEN_VL = ZOO / "Qwen--Qwen2.5-VL-7B-Instruct" / "config.json"


@pytest.fixture
def resolver(tmp_path, monkeypatch):
    # An empty HF cache and no network: nothing here may download.
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return Resolver(cache_dir=tmp_path / "loralint-cache")


def test_zoo_holds_the_shared_configs():
    ids = zoo_ids()
    assert len(ids) >= 22
    assert "Qwen/Qwen2.5-VL-7B-Instruct" in ids
    for hub_id in ids:
        folder = ZOO / hub_id.replace("/", "--")
        assert (folder / "SOURCE.txt").is_file(), f"{hub_id} has no provenance"


def test_every_zoo_model_has_a_bundled_default_inventory():
    for hub_id in zoo_ids():
        config = json.loads((ZOO / hub_id.replace("/", "--") / "config.json").read_text())
        inv = bundled_inventory(config_sha256(config), None)
        assert inv is not None, hub_id
        assert inv.model_class == config["architectures"][0]


def test_zoo_lookup_is_case_insensitive(resolver):
    model = resolver.resolve("qwen/qwen2.5-vl-7b-instruct")
    assert model.source == "zoo"
    assert model.config["model_type"] == "qwen2_5_vl"


def test_local_directory_relative_to_the_file_first(resolver, tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "models" / "qwen").mkdir(parents=True)
    shutil.copy(QWEN_VL, project / "models" / "qwen" / "config.json")
    monkeypatch.chdir(tmp_path)
    model = resolver.resolve("models/qwen", relative_to=project)
    assert model.source == "local"
    assert Path(model.location) == project / "models" / "qwen" / "config.json"
    # the same relative path from the working directory does not exist
    with pytest.raises(Unresolved, match="does not exist"):
        Resolver(cache_dir=tmp_path / "c").resolve("./models/qwen")


def test_local_directory_without_config(resolver, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(Unresolved, match="has no config.json"):
        resolver.resolve(str(tmp_path / "empty"))


def _hf_cache_layout(cache: Path, repo_id: str, config: dict) -> Path:
    """The on-disk layout huggingface_hub writes: refs/main -> snapshots/<commit>/config.json."""
    repo_dir = cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = repo_dir / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(commit)
    (snapshot / "config.json").write_text(json.dumps(config))
    return snapshot / "config.json"


def test_hf_cache_is_read_without_network(resolver, tmp_path):
    config = json.loads(QWEN_VL.read_text())
    path = _hf_cache_layout(tmp_path / "hf-cache", "someorg/private-vl", config)
    model = resolver.resolve("someorg/private-vl")
    assert model.source == "hf-cache"
    assert Path(model.location) == path
    # its inventory is the bundled one: same config content, so no torch needed
    _, inv = resolver.inventory("someorg/private-vl")
    assert inv.source in ("bundled", "cache")
    assert inv.model_class == "Qwen2_5_VLForConditionalGeneration"


def test_offline_and_uncached_is_unresolved(resolver):
    with pytest.raises(Unresolved, match="offline"):
        resolver.resolve("someorg/not-cached-anywhere")


def test_offline_flag_wins_over_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(Unresolved, match="offline"):
        Resolver(offline=True, cache_dir=tmp_path / "c").resolve("someorg/uncached")


@pytest.mark.parametrize(
    "config, reason",
    [
        ({"model_type": "llama", "auto_map": {"AutoModel": "modeling_x.X"}}, "trust_remote_code"),
        ({"architectures": ["LlamaForCausalLM"], "hidden_size": 8}, "no `model_type`"),
        ([1, 2, 3], "not a JSON object"),
    ],
)
def test_configs_that_are_refused(resolver, tmp_path, config, reason):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(Unresolved, match=reason):
        resolver.resolve(str(tmp_path / "m"))


def test_invalid_json_config(resolver, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text('{"model_type": "llama",')
    with pytest.raises(Unresolved, match="not valid JSON"):
        resolver.resolve(str(tmp_path / "m"))


def test_unknown_model_type_is_unresolved_not_guessed(resolver, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps({"model_type": "definitely_not_a_model"}))
    with pytest.raises(Unresolved, match="not known to transformers"):
        resolver.inventory(str(tmp_path / "m"))


def test_invalid_references(resolver):
    for ref in ["", "   ", "not a/valid id!", "../../etc/passwd"]:
        with pytest.raises(Unresolved):
            resolver.resolve(ref)


def test_aliases(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    resolver = Resolver(aliases={"/mnt/ckpt/qwen-vl": "Qwen/Qwen2.5-VL-7B-Instruct"}, cache_dir=tmp_path)
    assert resolver.resolve("/mnt/ckpt/qwen-vl").source == "zoo"


def test_each_reference_resolves_once(resolver, monkeypatch):
    calls = []
    original = Resolver._resolve

    def counting(self, ref, relative_to):
        calls.append(ref)
        return original(self, ref, relative_to)

    monkeypatch.setattr(Resolver, "_resolve", counting)
    for _ in range(5):
        resolver.inventory("Qwen/Qwen2.5-VL-7B-Instruct")
    assert calls == ["Qwen/Qwen2.5-VL-7B-Instruct"]
