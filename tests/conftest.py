"""Shared fixtures: where the golden vectors are, and which implementation runs.

The vectors live in ``../shared/vectors`` beside the checkout (or wherever
``KRAFT_VECTORS`` points).  Outside CI a missing folder skips the conformance
tests with a reason; in CI (``CI`` set) it is an error, never a skip.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VECTORS = Path(os.environ.get("KRAFT_VECTORS", ROOT.parent / "shared" / "vectors"))


def load_jsonl(relative: str) -> list[dict]:
    """Read one JSON Lines vector file (ints stay ints, however large)."""
    path = VECTORS / relative
    if not path.is_file():
        if os.environ.get("CI"):
            raise FileNotFoundError(f"golden vectors missing in CI: {path}")
        pytest.skip(f"golden vectors not found at {path} (set KRAFT_VECTORS)")
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    if not VECTORS.is_dir():
        if os.environ.get("CI"):
            raise FileNotFoundError(f"golden vectors missing in CI: {VECTORS}")
        pytest.skip(f"golden vectors not found at {VECTORS} (set KRAFT_VECTORS)")
    return VECTORS


def pytest_collection_modifyitems(config, items):
    """Long soaks and big simulations run only with KRAFT_SLOW=1 or ``-m slow``."""
    if os.environ.get("KRAFT_SLOW") == "1" or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow test: set KRAFT_SLOW=1 or pass -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
