"""A reference-revision survivor that is behind and a kraft survivor that is ahead elect a leader.

The quorum of issue 13: three static voters (no directory ids in the voter set), node 1 behaving
as Kafka at the reference revision (adee6f0cc11), nodes 2 and 3 kraft.  Node 1 is cut off and
falls behind while 2 and 3 commit; then node 3 dies and node 1 comes back.  Only node 2 can win
(node 1's log is behind), and only with node 1's vote.  A reference-revision voter accepts a
Vote that names no voter (-1) or its own exact key and refuses ``(its id, zero directory)``,
which is what Kafka 3.9 sends (and kraft sent): no leader until node 3 returned.  kraft now
names a receiver whose directory it does not know with -1 (``rpcs.common.addressed_voter_key``).
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sim_cluster import Cluster, SimOptions  # noqa: E402

from kraft.core.roles import Leader  # noqa: E402


def _leader(cluster):
    leaders = [n.node_id for n in cluster.nodes.values() if n.up and isinstance(n.client.node.role, Leader)]
    return leaders[0] if len(leaders) == 1 else None


@pytest.mark.parametrize("seed", range(5))
def test_behind_reference_survivor_and_ahead_kraft_survivor_elect_without_the_third(seed):
    cluster = Cluster(seed, SimOptions(voters=3, duration_ms=60_000, reference_nodes=(1,),
                                       voter_directory_ids=False))
    cluster.run_until(5_000, stop=lambda: cluster.max_committed() > 20)
    assert cluster.max_committed() > 20, "the quorum never committed"
    cluster.partition = {1}
    behind = cluster.max_committed()
    # a bounded wait for the condition: 2 and 3 may split a vote or two first (seed-dependent)
    cluster.run_until(cluster.now + 15_000, stop=lambda: cluster.max_committed() > behind + 10)
    assert cluster.max_committed() > behind + 10, "2 and 3 did not commit without node 1"
    ends = {i: cluster.nodes[i].client.node.end_offset for i in (1, 2)}
    assert (ends[2].epoch, ends[2].offset) > (ends[1].epoch, ends[1].offset), f"node 1 is not behind: {ends}"
    cluster.crash_node(3, down_ms=10**9)
    cluster.partition = None
    healed, committed = cluster.now, cluster.max_committed()
    cluster.run_until(healed + 20_000, stop=lambda: cluster.max_committed() > committed + 10)
    assert _leader(cluster) == 2 and cluster.max_committed() > committed + 10, (
        f"no leader commits with node 3 down ({(cluster.now - healed) / 1000:.1f} s after the heal): "
        f"node 1 {cluster.nodes[1].client.node.role!r}, node 2 {cluster.nodes[2].client.node.role!r}")
