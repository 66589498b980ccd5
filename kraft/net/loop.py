"""The node's event loop: uvloop when it is installed, the standard loop otherwise.

uvloop roughly halves the transport's cost per request on loopback (see
``benchmarks/test_bench_net.py``), so it is used when importable.  Set
``KRAFT_NO_UVLOOP=1`` to force the standard loop.
"""
from __future__ import annotations

import asyncio
import os
import sys
from typing import Callable, Optional


def loop_factory() -> Optional[Callable[[], asyncio.AbstractEventLoop]]:
    """uvloop's loop factory, or ``None`` for the standard loop."""
    if os.environ.get("KRAFT_NO_UVLOOP"):
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def loop_name() -> str:
    return "uvloop" if loop_factory() is not None else "asyncio"


def run(coro):
    """Run ``coro`` to completion on a new loop of the preferred kind (like ``asyncio.run``)."""
    factory = loop_factory()
    if factory is None:
        return asyncio.run(coro)
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(coro)
    import uvloop
    uvloop.install()
    return asyncio.run(coro)
