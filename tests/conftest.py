"""Shared test setup."""

import pytest


@pytest.fixture
def offline_env(monkeypatch, tmp_path):
    """No network, and a Hugging Face cache and loralint cache of the test's own (nothing from the machine)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("LORALINT_CACHE_DIR", str(tmp_path / "cache"))
