"""Run a simulation's seeds on every core.

Each seed is independent and deterministic, so the seeds of a scenario are
spread over forked worker processes (``os.sched_getaffinity``; at most
``KRAFT_SIM_WORKERS`` when set, 1 runs them in this process) and the results
come back in seed order.  A worker returns what the test needs to judge the
seed (see :class:`SeedResult`), never raises: a violated invariant or a crash
of the core comes back as text with its traceback.
"""
from __future__ import annotations

import multiprocessing
import os
import traceback
from dataclasses import dataclass
from typing import Callable, Iterable, Optional


@dataclass(frozen=True)
class SeedResult:
    seed: int
    #: the highest committed offset of the run (None when it failed)
    committed: Optional[int] = None
    #: "invariant" or "crash" when the run failed
    failure: Optional[str] = None
    message: str = ""


def workers() -> int:
    configured = int(os.environ.get("KRAFT_SIM_WORKERS", "0"))
    available = len(os.sched_getaffinity(0))
    return max(1, min(configured, available) if configured > 0 else available)


def run_seed(run: Callable[[int], int], invariant_error: type, seed: int) -> SeedResult:
    """``run(seed)`` returns the highest committed offset or raises."""
    try:
        return SeedResult(seed, committed=run(seed))
    except invariant_error as e:
        return SeedResult(seed, failure="invariant", message=str(e))
    except Exception as e:  # a crash of the core is a failure too, with its seed
        return SeedResult(seed, failure="crash",
                          message=f"raised {type(e).__name__}: {e}\n{traceback.format_exc()}")


def map_seeds(task: Callable[[int], SeedResult], seeds: Iterable[int]) -> list[SeedResult]:
    """``task(seed)`` for every seed, on forked workers when there are several seeds and cores.

    ``task`` must be picklable by reference (a module-level function or a ``functools.partial``
    of one): the forked workers find it in the modules they inherited.
    """
    seeds = list(seeds)
    count = min(workers(), len(seeds))
    if count <= 1:
        return [task(seed) for seed in seeds]
    with multiprocessing.get_context("fork").Pool(count) as pool:
        return pool.map(task, seeds, chunksize=1)
