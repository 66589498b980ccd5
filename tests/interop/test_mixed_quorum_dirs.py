"""The same log directory under the other implementation.

A Kafka node is stopped and kraft starts on its directory; a kraft node is stopped and Kafka
starts on its directory.  Each must recover what the other left (segments, offset and time
indexes, leader-epoch-checkpoint, quorum-state, snapshots; Kafka's partition.metadata and
producer-state files; kraft's meta.properties) and rejoin the quorum without an error.

Kafka's TestRaftServer neither reads nor writes meta.properties (its RaftManager opens only the
partition directory), so kraft writes one into a directory Kafka left without it, and Kafka
ignores the one kraft wrote.
"""
from __future__ import annotations

import re
import time

import pytest

from mixed_quorum import KAFKA, KRAFT, quorums, snapshot_files, tolerated  # noqa: F401

pytestmark = pytest.mark.integration

START_S = 120
WAIT_S = 60
TIMERS = {"controller.quorum.fetch.timeout.ms": 1500, "controller.quorum.election.timeout.ms": 750}
#: kraft snapshots every ~200 kB of committed batches and keeps them (default retention), so the
#: directory Kafka inherits holds kraft's snapshots.
KRAFT_SNAPSHOTS = {"metadata.log.max.record.bytes.between.snapshots": 200_000}
BAD = re.compile(r"Exception|ERROR|FATAL|Traceback|[Cc]orrupt|WARN.*(index|segment|snapshot|quorum)")
KAFKA_SNAPSHOTS_LOADED = re.compile(r"Initialized snapshots with IDs (.*) from ")


def progress(quorum, above):
    return quorum.wait_committed(above, WAIT_S)


def test_each_implementation_recovers_the_others_directory(quorums, kafka_version):
    quorum = quorums(kafka_version, {1: KAFKA, 2: KAFKA, 3: KRAFT},
                     extra={"*": TIMERS, KRAFT: KRAFT_SNAPSHOTS})
    quorum.start()
    leader, epoch = quorum.wait_leader(START_S)
    for node_id in quorum.nodes:
        quorum.wait_following(node_id, leader, epoch, START_S)
    mark = progress(quorum, 0)

    # Kafka -> kraft: node 2 stops gracefully and kraft opens its directory
    before = len(quorum.nodes[2].lines)
    assert quorum.nodes[2].stop() == 143  # the JVM's status after SIGTERM, its shutdown hook run
    assert quorum.nodes[2].count(re.compile(r"Graceful shutdown completed|Completed graceful shutdown")) > 0
    assert not (quorum.log_dir(2) / "meta.properties").exists()  # Kafka's test server writes none
    kafka_files = sorted(p.name for p in quorum.partition_dir(2).iterdir())
    node = quorum.replace(2, KRAFT, overrides=KRAFT_SNAPSHOTS)
    node.start()
    leader, epoch = quorum.wait_leader(WAIT_S)
    quorum.wait_following(2, leader, epoch, START_S)
    mark = progress(quorum, mark)
    assert (quorum.log_dir(2) / "meta.properties").exists()
    assert node.running

    # kraft -> Kafka: node 3 (kraft, with snapshots) stops gracefully and Kafka opens its directory
    quorum.wait_high_watermark(3, mark, WAIT_S) if quorum.nodes[3].claim[1] != 3 else None
    assert quorum.nodes[3].stop() == 0
    kraft_snapshots = [p.name for p in snapshot_files(quorum.partition_dir(3))]
    assert kraft_snapshots, "kraft wrote no snapshot to hand over"
    node3 = quorum.replace(3, KAFKA)
    start3 = len(node3.lines)
    node3.start()
    leader, epoch = quorum.wait_leader(WAIT_S)
    quorum.wait_following(3, leader, epoch, START_S)
    # its first successful fetch (the high watermark learnt) truncates any stale tail kraft left
    wait = time.monotonic() + WAIT_S
    while not any(e >= epoch for e in node3.fetched_epochs) and node3.claim != (epoch, 3):
        assert time.monotonic() < wait, "Kafka on kraft's directory never fetched\n" + quorum.diagnostics()
        time.sleep(0.2)
    mark = progress(quorum, mark)
    loaded = node3.wait_line(KAFKA_SNAPSHOTS_LOADED, 1, start=start3)
    assert loaded, "Kafka did not report the snapshots it found"
    for name in kraft_snapshots:
        offset, snap_epoch = (int(x) for x in name.split(".")[0].split("-"))
        assert re.search(rf"OffsetAndEpoch[(\[]offset={offset}, epoch={snap_epoch}[)\]]", loaded.group(1)), loaded.group(0)

    bad = [f"node {i}: {line}" for i, n in quorum.nodes.items() for line in n.lines[before if i == 2 else 0:]
           if BAD.search(line) and not tolerated(quorum, line)]
    assert not bad, "\n".join(bad[:20])
    quorum.kill_all()
    batches, nbytes = quorum.compare_logs(mark)
    print(f"Kafka's files taken over by kraft: {kafka_files}; kraft snapshots loaded by Kafka: {kraft_snapshots}; "
          f"{batches} batches / {nbytes} bytes identical below {mark}")
