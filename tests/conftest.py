"""Shared fixtures: where the golden vectors are, and which implementation runs.

The golden vectors are test data inside the repository, in ``tests/data/vectors``
(``KRAFT_VECTORS`` points elsewhere, for instance at a freshly regenerated set).
They are read only inside tests, never when a module is imported, and a missing
file is an error, never a skip: the data ships with the tests.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VECTORS = Path(os.environ.get("KRAFT_VECTORS", ROOT / "tests" / "data" / "vectors"))


def load_jsonl(relative: str) -> list[dict]:
    """Read one JSON Lines vector file (ints stay ints, however large)."""
    path = VECTORS / relative
    if not path.is_file():
        raise FileNotFoundError(f"golden vectors missing: {path} (see tests/data/vectors/SOURCE.md)")
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    if not VECTORS.is_dir():
        raise FileNotFoundError(f"golden vectors missing: {VECTORS} (see tests/data/vectors/SOURCE.md)")
    return VECTORS


@pytest.fixture(autouse=True)
def _loopback_ports():
    """Ports a test reserved (``loopback_ports.reserve``, through ``quorum_util.free_ports``) go back
    when it ends: after its other fixtures' teardown, which kills the processes that used them."""
    import loopback_ports

    position = loopback_ports.mark()
    yield
    loopback_ports.release_since(position)


def pytest_collection_modifyitems(config, items):
    """Long soaks and big simulations run only with KRAFT_SLOW=1 or ``-m slow``."""
    if os.environ.get("KRAFT_SLOW") == "1" or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow test: set KRAFT_SLOW=1 or pass -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", params=["3.9.2", "4.4.0"], ids=lambda v: f"kafka-{v}")
def kafka_version(request) -> str:
    """Each Kafka release the live tests run against, resolved from Maven Central.

    Where Java or the jars cannot be had the test skips with the reason, but
    never in CI (``CI`` set), where that is a failure.
    """
    from interop.kafka_jars import availability

    reason = availability(request.param)
    if reason is not None:
        if os.environ.get("CI"):
            raise RuntimeError(f"Kafka {request.param} is needed in CI: {reason}")
        pytest.skip(f"Kafka {request.param} unavailable: {reason}")
    return request.param
