"""The loop choice: uvloop when importable, the standard loop when told not to."""
from __future__ import annotations

import asyncio
import importlib.util

import pytest

from kraft.net import loop

HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None


async def loop_class_name():
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.skipif(not HAVE_UVLOOP, reason="uvloop not installed")
def test_uvloop_used_when_installed(monkeypatch):
    monkeypatch.delenv("KRAFT_NO_UVLOOP", raising=False)
    assert loop.loop_name() == "uvloop"
    assert loop.run(loop_class_name()).startswith("uvloop")


def test_standard_loop_when_disabled(monkeypatch):
    monkeypatch.setenv("KRAFT_NO_UVLOOP", "1")
    assert loop.loop_name() == "asyncio"
    assert loop.run(loop_class_name()).startswith("asyncio")
