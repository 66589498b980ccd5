"""Seeded simulations of whole quorums; invariants are checked after every event.

``KRAFT_SIM_SEEDS=N`` runs N seeds per scenario (default 200);
``KRAFT_SIM_SEED=S`` replays just seed S.  A failure names its seed and the
command that replays it.
"""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sim_cluster import Cluster, InvariantViolation, SimOptions  # noqa: E402

from kraft.core.config import QuorumConfig  # noqa: E402

DEFAULT_SEEDS = 200


def seeds(default=DEFAULT_SEEDS):
    if os.environ.get("KRAFT_SIM_SEED"):
        return [int(os.environ["KRAFT_SIM_SEED"])]
    return range(int(os.environ.get("KRAFT_SIM_SEEDS", default)))


SCENARIOS = {
    # name: (options for a seed, share of seeds that must commit something)
    "single_voter_crashes": (lambda s: SimOptions(voters=1, duration_ms=4000, crash_rate=0.5), 1.0),
    "three_voters_lossy_network": (lambda s: SimOptions(
        voters=3, duration_ms=5000, drop=0.1, duplicate=0.1, max_delay_ms=80), 1.0),
    "five_voters_crashes_and_partitions": (lambda s: SimOptions(
        voters=5, duration_ms=6000, drop=0.05, duplicate=0.05, max_delay_ms=40,
        crash_rate=0.2, partition_rate=0.5), 0.5),
    "one_to_seven_voters_everything": (lambda s: SimOptions(
        voters=1 + s % 7, duration_ms=5000, drop=0.05, duplicate=0.05, max_delay_ms=60,
        crash_rate=0.15, partition_rate=0.3, append_interval_ms=30), 0.5),
    "mixed_versions_and_reference_peers": (lambda s: SimOptions(
        voters=5, duration_ms=5000, drop=0.05, duplicate=0.05, max_delay_ms=40, crash_rate=0.1,
        partition_rate=0.2, reference_nodes=(1, 2), original_version_nodes=(2, 3),
        voter_directory_ids=False), 0.8),
    # Fast timers and a crash every half second per node (half of them in the
    # middle of applying an output): stresses durable votes and elections.
    "crash_storm_fast_timers": (lambda s: SimOptions(
        voters=3 + 2 * (s % 2), duration_ms=3000, crash_rate=2.0, down_ms=(5, 60), max_delay_ms=30,
        partition_rate=1.0, append_interval_ms=20,
        config=QuorumConfig(election_timeout_ms=100, fetch_timeout_ms=200, election_backoff_max_ms=100,
                            request_timeout_ms=80, append_linger_ms=5)), 0.0),
    # Nodes snapshot their committed log and delete what it covers: lagging or
    # restarted followers are redirected to the snapshot and download it.
    "snapshots_and_downloads": (lambda s: SimOptions(
        voters=3 + 2 * (s % 2), duration_ms=5000, drop=0.05, crash_rate=0.3, down_ms=(300, 2000),
        partition_rate=0.3, snapshot_rate=2.0), 0.8),
    # Two observers learn the leader from bootstrap fetches; leaders resign now and then.
    "observers_and_resignations": (lambda s: SimOptions(
        voters=3, observers=2, duration_ms=5000, drop=0.05, duplicate=0.05, crash_rate=0.1, partition_rate=0.2,
        resign_rate=0.02), 0.8),
    "reference_only_original_versions": (lambda s: SimOptions(
        voters=3, duration_ms=4000, drop=0.05, max_delay_ms=40, crash_rate=0.1,
        reference_nodes=(1, 2, 3), original_version_nodes=(1, 2, 3), directory_ids=False), 0.8),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_simulation(scenario):
    make_options, must_commit = SCENARIOS[scenario]
    runs = committing = 0
    for seed in seeds():
        replay = (f"replay: KRAFT_SIM_SEED={seed} pytest tests/simulation/test_simulation.py "
                  f"-k {scenario}")
        try:
            cluster = Cluster(seed, make_options(seed)).run()
        except InvariantViolation as e:
            pytest.fail(f"{scenario}: {e}\n{replay}", pytrace=False)
        except Exception as e:  # a crash of the core is a failure too, with its seed
            raise AssertionError(f"{scenario}: seed {seed} raised {type(e).__name__}: {e}\n{replay}") from e
        if must_commit == 1.0:
            assert cluster.max_committed() > 0, f"{scenario}: nothing committed\n{replay}"
        runs += 1
        committing += cluster.max_committed() > 0
    assert committing >= must_commit * runs, f"{scenario}: only {committing} of {runs} runs committed anything"


def test_same_seed_same_run():
    options = SimOptions(voters=5, duration_ms=3000, drop=0.1, duplicate=0.1, crash_rate=0.3, partition_rate=0.5)
    a, b = Cluster(7, options).run(), Cluster(7, options).run()
    assert a.events == b.events
    assert [n.log.read_all() for n in a.nodes.values()] == [n.log.read_all() for n in b.nodes.values()]
    c = Cluster(8, options).run()
    assert (c.events, c.max_committed()) != (a.events, a.max_committed())


@pytest.mark.slow
@pytest.mark.parametrize("voters", [3, 5, 7])
def test_long_soak(voters):
    """A minute of simulated time per seed with every fault on (KRAFT_SLOW=1)."""
    options = SimOptions(voters=voters, duration_ms=60_000, drop=0.05, duplicate=0.05, max_delay_ms=60,
                         crash_rate=0.1, partition_rate=0.2, reference_nodes=(1,), original_version_nodes=(2,),
                         voter_directory_ids=False)
    for seed in seeds(default=20):
        try:
            cluster = Cluster(seed, options).run()
        except InvariantViolation as e:
            pytest.fail(f"soak: {e}\nreplay: KRAFT_SLOW=1 KRAFT_SIM_SEED={seed} pytest "
                        f"tests/simulation/test_simulation.py -k 'long_soak and {voters}'", pytrace=False)
        assert cluster.max_committed() > 0
