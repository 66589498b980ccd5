"""The seed pool: results in seed order from forked workers, failures returned with their kind."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from seed_pool import map_seeds, run_seed, workers  # noqa: E402


class Broken(Exception):
    pass


def _run(seed: int) -> int:
    if seed == 3:
        raise Broken("two leaders in epoch 4")
    if seed == 5:
        raise KeyError("missing")
    return seed * 10


def _task(seed: int):
    return run_seed(_run, Broken, seed)


def test_results_come_back_in_seed_order_with_failures_named(monkeypatch):
    monkeypatch.setenv("KRAFT_SIM_WORKERS", "2")
    results = map_seeds(_task, range(8))
    assert [r.seed for r in results] == list(range(8))
    assert [r.committed for r in results] == [0, 10, 20, None, 40, None, 60, 70]
    assert results[3].failure == "invariant" and results[3].message == "two leaders in epoch 4"
    assert results[5].failure == "crash" and results[5].message.startswith("raised KeyError: 'missing'")
    assert "Traceback" in results[5].message


def test_one_worker_runs_in_this_process(monkeypatch):
    monkeypatch.setenv("KRAFT_SIM_WORKERS", "1")
    assert workers() == 1
    pids = map_seeds(lambda seed: os.getpid(), range(3))  # a lambda cannot go to a worker
    assert pids == [os.getpid()] * 3
