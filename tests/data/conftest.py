"""Fixtures for the data tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_helpers import FakeFashion


@pytest.fixture
def fake_fashion() -> FakeFashion:
    return FakeFashion()


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No $MAXL_DATA, and a cache under tmp_path, so nothing outside the test is found."""
    monkeypatch.delenv("MAXL_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path / "xdg-cache" / "maxl"
