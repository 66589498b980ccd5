"""Pre-vote in the simulator: a node cut off from a healthy quorum comes back without disrupting it.

The invariant (issue 13): while a leader is reachable by a majority, a node rejoining after a
partition never raises the epoch.  With Kafka 4.x's election (every peer speaks Vote v2) the
isolated follower only asks for pre-votes in its own epoch; the leader and the followers that
fetch from it refuse them, so no epoch ever rises.  The control run gives the same nodes Kafka
3.9's peers (Vote up to v1): the isolated follower stands in ever higher epochs and, healed,
deposes the leader — the disruption pre-vote exists to prevent — so the check can fail.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sim_cluster import Cluster, InvariantViolation, SimOptions  # noqa: E402
from test_simulation import seeds  # noqa: E402

from kraft.core.roles import Leader  # noqa: E402

#: seeds per version in the default run (KRAFT_SIM_SEEDS overrides)
DEFAULT_SEEDS = 20


def _options(seed: int, vote_max_version: int) -> SimOptions:
    return SimOptions(voters=3 + 2 * (seed % 2), duration_ms=10**9, duplicate=0.05, max_delay_ms=40,
                      vote_max_version=vote_max_version)


def _stable_leader(cluster: Cluster, until_ms: int):
    """Run until one leader has committed something in its epoch; returns it."""
    def settled():
        leaders = cluster.leaders()
        return len(leaders) == 1 and (leaders[0].client.node.high_watermark or 0) > 0
    cluster.run_until(until_ms, stop=settled)
    leaders = cluster.leaders()
    assert len(leaders) == 1, f"no single leader by {until_ms} ms"
    return leaders[0]


def isolate_and_heal(seed: int, vote_max_version: int) -> list[str]:
    """Isolate one or two followers (never the leader, so it keeps a majority) for 1-10 s, heal,
    and run 5 s more.  Returns every epoch raise seen after the leader was stable."""
    cluster = Cluster(seed, _options(seed, vote_max_version))
    leader = _stable_leader(cluster, 20_000)
    epoch = leader.client.node.epoch
    followers = sorted(i for i in cluster.nodes if i != leader.node_id)
    cut = cluster.rng.sample(followers, 1 + (len(followers) > 2 and cluster.rng.random() < 0.5))
    raises = []

    def watch():
        for sim in cluster.nodes.values():
            if sim.up and sim.client.node.epoch > epoch:
                raises.append(f"node {sim.node_id} in epoch {sim.client.node.epoch} > {epoch} at {cluster.now} ms "
                              f"({sim.client.node.role.name}; isolated: {sorted(cut)})")
                return True
        return False
    cluster.isolate(cut)
    cluster.run_until(cluster.now + 1000 + cluster.rng.randrange(9000), stop=watch)
    if not raises:
        cluster.isolate(None)
        cluster.run_until(cluster.now + 5000, stop=watch)
    if not raises:
        assert isinstance(leader.client.node.role, Leader) and leader.client.node.epoch == epoch
    return raises


def test_a_rejoining_node_never_raises_the_epoch_with_pre_vote():
    for seed in seeds(default=DEFAULT_SEEDS):
        try:
            raises = isolate_and_heal(seed, vote_max_version=2)
        except InvariantViolation as e:
            pytest.fail(f"seed {seed}: {e}", pytrace=False)
        assert not raises, (f"seed {seed}: {raises[0]}\nreplay: KRAFT_SIM_SEED={seed} pytest "
                            f"tests/simulation/test_prevote_sim.py")


def test_without_pre_vote_the_rejoining_node_raises_the_epoch():
    """The control: Kafka 3.9's election lets the isolated follower raise the epoch."""
    runs = list(seeds(default=DEFAULT_SEEDS))
    disrupted = sum(bool(isolate_and_heal(seed, vote_max_version=1)) for seed in runs)
    assert disrupted > 0 and disrupted >= len(runs) // 2, f"only {disrupted} of {len(runs)} runs disrupted"
