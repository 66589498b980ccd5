"""Changing a kraft quorum's voters while its leader writes (issue 14), with real processes.

``test-kraft-server-start`` processes: node 1 formatted ``--standalone`` (the only initial voter),
the others ``--no-initial-controllers`` (observers).  The leader writes the test server's workload
throughout.  By default one short test: ``kraft-metadata-quorum`` adds an observer, is refused a
duplicate and the last voter, and removes it again.  Behind ``slow`` (KRAFT_SLOW=1): the quorum
grows 1 -> 3 and shrinks, Kafka 4.4.0's own ``kafka-metadata-quorum`` adds and removes a voter,
the leader removes itself; it grows 1 -> 5 and back to 1 with every log compared byte for byte
afterwards; two observers auto-join, a moved voter updates its entry and a replaced disk rejoins.
The high watermark must keep moving across every change.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dynamic_quorum import (add, directory_id, format_controller, kafka_tool, kraft_quorum, kraft_tool,  # noqa: E402
                            no_tracebacks, remove, require_kafka, state, wait_for, wait_for_progress, wait_until)
from quorum_util import NodeProcess  # noqa: E402


def test_an_observer_is_added_and_removed(tmp_path):
    with kraft_quorum(tmp_path, 2, args=("--throughput", "500")) as (bootstrap, configs, nodes):
        hw = wait_for(bootstrap, nodes.values(), 1, [1], [2])
        add(bootstrap, configs[2])
        hw = wait_for_progress(bootstrap, max(hw, wait_for(bootstrap, nodes.values(), 1, [1, 2], [])))
        add(bootstrap, configs[2], refused="DuplicateVoterException")
        remove(bootstrap, 2, configs[2])
        wait_for_progress(bootstrap, max(hw, wait_for(bootstrap, nodes.values(), 1, [1], [2])))
        remove(bootstrap, 1, configs[1], refused="VoterNotFoundException")
        no_tracebacks(nodes)


@pytest.fixture(scope="module")
def quorum(tmp_path_factory):
    with kraft_quorum(tmp_path_factory.mktemp("kraft-dynamic"), 3) as running:
        yield running


@pytest.mark.slow
def test_grow_shrink_and_the_leader_removes_itself_while_writing(quorum):
    bootstrap, configs, nodes = quorum
    hw = wait_for(bootstrap, nodes.values(), 1, [1], [2, 3])
    for node_id, voters in ((2, [1, 2]), (3, [1, 2, 3])):
        add(bootstrap, configs[node_id])
        hw = wait_for_progress(bootstrap, wait_for(bootstrap, nodes.values(), 1, voters))
    add(bootstrap, configs[2], refused="DuplicateVoterException")
    remove(bootstrap, 3, configs[3])
    hw = wait_for_progress(bootstrap, max(hw, wait_for(bootstrap, nodes.values(), 1, [1, 2], [3])))

    # the leader removes itself: it resigns once the change commits and node 2 leads alone
    remove(bootstrap, 1, configs[1])
    wait_for_progress(bootstrap, max(hw, wait_for(bootstrap, nodes.values(), 2, [2])))
    remove(bootstrap, 2, configs[2], refused="VoterNotFoundException")
    no_tracebacks(nodes)


@pytest.mark.slow
def test_kafkas_tool_adds_and_removes_a_voter_of_a_kraft_leader(quorum):
    """Kafka 4.4.0's MetadataQuorumCommand against the kraft leader left by the test above (node 2)."""
    require_kafka("4.4.0")
    bootstrap, configs, nodes = quorum
    leader, voters = state(bootstrap)[:2]
    joining = 3
    assert joining not in voters
    added = kafka_tool("4.4.0", bootstrap, "--command-config", str(configs[joining]), "add-controller")
    assert added.returncode == 0, added.stderr[-3000:]
    assert f"Added controller {joining} with directory id {directory_id(configs[joining])}" in added.stdout
    hw = wait_for(bootstrap, nodes.values(), leader, sorted(voters + [joining]))
    removed = kafka_tool("4.4.0", bootstrap, "remove-controller", "--controller-id", str(joining),
                         "--controller-directory-id", directory_id(configs[joining]))
    assert removed.returncode == 0, removed.stderr[-3000:]
    assert removed.stdout.strip() == f"Removed KRaft controller {joining} with directory id " \
                                     f"{directory_id(configs[joining])}"
    wait_for_progress(bootstrap, max(hw, wait_for(bootstrap, nodes.values(), leader, voters)))


@pytest.mark.slow
def test_two_observers_auto_join_and_a_moved_voter_updates_its_entry(tmp_path):
    """``controller.quorum.auto.join.enable``: two observers add themselves (one change at a time: the
    second is refused until the first commits, and tries again a fetch timeout later).  Then node 3
    restarts on another port: it sends UpdateRaftVoter and the Voters record takes its new listener.
    Then node 2's disk is replaced (a new directory id): it removes its old key and adds the new one."""
    from interop.kafka_tool_util import parse_replication
    from quorum_util import free_ports

    auto_join = "controller.quorum.auto.join.enable=true\n"
    with kraft_quorum(tmp_path, 3, extra={2: auto_join, 3: auto_join}) as (bootstrap, configs, nodes):
        wait_for_progress(bootstrap, wait_for(bootstrap, nodes.values(), 1, [1, 2, 3], []))

        nodes[3].stop()
        old_listener = configs[3].read_text().split("listeners=")[1].splitlines()[0]
        moved = f"CONTROLLER://127.0.0.1:{free_ports(1)[0]}"
        configs[3].write_text(configs[3].read_text().replace(f"listeners={old_listener}", f"listeners={moved}"))
        nodes[3] = NodeProcess(3, configs[3]).start()
        wait_until(bootstrap, nodes.values(), lambda _: moved in kraft_tool(bootstrap, "describe", "--status").stdout,
                   f"node 3's new listener {moved} in the voter set")
        wait_for_progress(bootstrap, wait_for(bootstrap, nodes.values(), 1, [1, 2, 3], []))

        # node 2's disk is replaced: a new directory id.  Auto-join removes the old key, then adds the new.
        old_id = directory_id(configs[2])
        nodes[2].stop()
        shutil.rmtree(tmp_path / "logs2")
        format_controller(configs[2], "--no-initial-controllers")
        new_id = directory_id(configs[2])
        assert new_id != old_id
        nodes[2] = NodeProcess(2, configs[2]).start()

        def rejoined(_):
            rows = parse_replication(kraft_tool(bootstrap, "describe", "--replication").stdout)
            return any(r.get("NodeId") == "2" and r.get("DirectoryId") == new_id and r.get("Status") == "Follower"
                       for r in rows)
        wait_until(bootstrap, nodes.values(), rejoined, f"node 2 a voter again with its new directory id {new_id}")
        # the old key is no voter: at most an observer row, kept (as Kafka keeps it) until 5 minutes idle
        rows = parse_replication(kraft_tool(bootstrap, "describe", "--replication").stdout)
        assert all(r.get("Status") == "Observer" for r in rows if r.get("DirectoryId") == old_id), rows
        wait_for_progress(bootstrap, wait_for(bootstrap, nodes.values(), 1, [1, 2, 3]))
        no_tracebacks(nodes)


@pytest.mark.slow
def test_grow_to_five_voters_and_shrink_back_to_one_losing_no_acknowledged_write(tmp_path):
    """Node 1 leads alone, then takes in nodes 2 to 5 one at a time, loses a follower for a while at
    five voters (three of five still commit), then removes them again one at a time.  The high
    watermark moves after every step and never goes back; afterwards every log holds the same
    batches, byte for byte, up to the highest high watermark seen, all written in node 1's epoch
    (an acknowledged batch rewritten would carry a later epoch)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))  # mixed_quorum's own imports
    from mixed_quorum import TOPIC_DIR, compare_logs, read_batches
    from dynamic_quorum import log_dir
    from kraft.records import decode_batches

    seen: list[int] = []

    def progress(beyond, down=()):
        hw = wait_for_progress(bootstrap, beyond, [n for i, n in nodes.items() if i not in down])
        seen.append(hw)
        assert seen == sorted(seen), f"the high watermark went back: {seen}"
        return hw

    with kraft_quorum(tmp_path, 5, args=("--throughput", "300")) as (bootstrap, configs, nodes):
        hw = progress(wait_for(bootstrap, nodes.values(), 1, [1], [2, 3, 4, 5]))
        for node_id in (2, 3, 4, 5):
            add(bootstrap, configs[node_id])
            hw = progress(max(hw, wait_for(bootstrap, nodes.values(), 1, list(range(1, node_id + 1)))))
        nodes[3].kill()
        hw = progress(hw, down=(3,))
        nodes[3] = NodeProcess(3, configs[3], ("--throughput", "300")).start()
        hw = progress(hw)
        for node_id in (5, 4, 3, 2):
            remove(bootstrap, node_id, configs[node_id])
            hw = progress(max(hw, wait_for(bootstrap, nodes.values(), 1, list(range(1, node_id)))))
        # the removed nodes fetch on as observers: each reaches the last acknowledged offset
        wait_until(bootstrap, nodes.values(), lambda s: len(s.log_ends) == 5 and min(s.log_ends.values()) >= hw,
                   f"every log end at {hw} or beyond")
        no_tracebacks(nodes)
        for node in nodes.values():
            assert node.stop() == 0
        partitions = {i: log_dir(config) / TOPIC_DIR for i, config in configs.items()}
        compare_logs(partitions, hw)
        _, _, batches = read_batches(partitions[1])
        epochs = {next(iter(decode_batches(raw))).partition_leader_epoch
                  for offset, raw in batches.items() if offset < hw}
        assert epochs == {1}, epochs
