"""Differential test: FileReplicatedLog against the core's in-memory twin (MemoryLog).

The raft core is tested on ``kraft.core.memory.MemoryLog`` and runs on
``FileReplicatedLog``; both implement ``kraft.core.log.ReplicatedLog``.  The
operations the core performs (leader and follower appends, truncation to a
diverging end offset, high watermark moves, new leader epochs, snapshot
downloads) must leave both answering the core's questions alike.
"""
import os
import shutil
import tempfile

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from batchgen import build_batch, snapshot_bytes
from kraft.core.log import OffsetAndEpoch
from kraft.core.memory import MemoryLog
from kraft.storage import FileReplicatedLog, LogConfig

SLOW = os.environ.get("KRAFT_SLOW") == "1"


class TwinMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="kraft-twin-")
        self.disk = FileReplicatedLog.open(self.dir, LogConfig(segment_bytes=300), lambda: 1_700_000_000_000)
        self.memory = MemoryLog()
        self.epoch = 0
        self.counter = 0
        self.bases = []          # batch base offsets, to pick batch boundaries
        self.pending_epoch = False

    def teardown(self):
        self.disk.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def both(self, method, *args):
        results = []
        for log in (self.disk, self.memory):
            try:
                results.append(("ok", getattr(log, method)(*args)))
            except ValueError as e:      # the twin's errors and ours are ValueErrors
                results.append(("error", type(e).__name__))
        assert results[0][0] == results[1][0], (method, args, results)
        return results[0][1] if results[0][0] == "ok" else None

    def _batch(self, n, base, epoch):
        self.counter += 1
        return build_batch([b"t%d-%d" % (self.counter, i) for i in range(n)], base, epoch)

    @rule(n=st.integers(1, 3), bump=st.integers(0, 1))
    def append_as_leader(self, n, bump):
        # (a new leader appends in the epoch it just started, as the core does)
        self.epoch += 0 if self.pending_epoch else bump
        # (the twin does not assign offsets: the batch comes with the right ones)
        data = self._batch(n, self.memory.end_offset, 0)
        info = self.both("append_as_leader", data, self.epoch)
        self.bases.append(info.first_offset)
        self.pending_epoch = False

    @rule(n=st.integers(1, 3), bump=st.integers(0, 1))
    def append_as_follower(self, n, bump):
        self.epoch += 0 if self.pending_epoch else bump
        data = self._batch(n, self.memory.end_offset, self.epoch)
        info = self.both("append_as_follower", data, self.epoch)
        self.bases.append(info.first_offset)
        self.pending_epoch = False

    @rule(data=st.data())
    def truncate_to_end_offset(self, data):
        boundaries = [b for b in self.bases if b >= self.memory.high_watermark] + [self.memory.end_offset]
        offset = data.draw(st.sampled_from(boundaries))
        entries = self.disk._epochs.entries()
        # (below the first known epoch Kafka and the twin answer differently)
        epoch = data.draw(st.integers(entries[0][0] if entries else 0, self.epoch + 1))
        before = self.memory.end_offset
        result = self.both("truncate_to_end_offset", OffsetAndEpoch(offset, epoch))
        if result is not None and result < before:
            # (a truncation at or past the end changes nothing, the new epoch included)
            self.bases = [b for b in self.bases if b < self.memory.end_offset]
            self.pending_epoch = False

    @rule(forward=st.integers(0, 5))
    def update_high_watermark(self, forward):
        target = min(self.memory.end_offset, max(self.memory.high_watermark, self.memory.start_offset) + forward)
        self.both("update_high_watermark", target)

    @precondition(lambda self: not self.pending_epoch)   # one new epoch at a time, as the core does
    @rule()
    def initialize_leader_epoch(self):
        self.epoch += 1
        self.both("initialize_leader_epoch", self.epoch)
        self.pending_epoch = True

    @rule(ahead=st.integers(1, 4))
    def download_snapshot(self, ahead):
        sid = OffsetAndEpoch(self.memory.end_offset + ahead, self.epoch)
        content = snapshot_bytes([[b"s"]], epoch=self.epoch)
        for log in (self.disk, self.memory):
            writer = log.create_new_snapshot(sid)
            writer.append(content)
            writer.freeze()
            writer.close()
        assert self.both("truncate_to_latest_snapshot") is True
        self.bases = []
        self.pending_epoch = False

    @invariant()
    def answers_agree(self):
        d, m = self.disk, self.memory
        assert (d.start_offset, d.end_offset, d.high_watermark) == (m.start_offset, m.end_offset, m.high_watermark)
        assert d.latest_snapshot_id() == m.latest_snapshot_id()
        assert d.earliest_snapshot_id() == m.earliest_snapshot_id()
        if not self.pending_epoch:
            assert d.last_fetched_epoch() == m.last_fetched_epoch()
        first_epoch = d._epochs.entries()[0][0] if d._epochs.entries() else None
        earliest = d.earliest_snapshot_id()
        # (a new leader epoch without batches yet: Kafka keeps it through a
        # truncation at the end offset, the twin drops it)
        for epoch in range(0, self.epoch + 2) if not self.pending_epoch else ():
            if first_epoch is not None and epoch < first_epoch:
                continue    # Kafka: (epoch, first start offset); the twin: (end offset, last epoch)
            mine = d.end_offset_for_epoch(epoch)
            if earliest is not None and mine == earliest and mine.epoch != epoch:
                continue    # Kafka answers with the earliest snapshot's id there; the twin does not
            assert mine == m.end_offset_for_epoch(epoch), epoch
            for offset in {d.start_offset, d.end_offset, *self.bases[-3:]}:
                mine, twin = d.validate_offset_and_epoch(offset, epoch), m.validate_offset_and_epoch(offset, epoch)
                if offset == 0 and d.start_offset == 0:
                    # Kafka answers VALID (0, 0) here whatever the epoch; the twin echoes the epoch
                    assert mine.kind == twin.kind and mine.offset_and_epoch == OffsetAndEpoch(0, 0)
                else:
                    assert mine == twin, (offset, epoch)
        for base in self.bases:
            assert bytes(d.read(base, 1).records) == bytes(m.read(base, 1).records)


TwinMachine.TestCase.settings = settings(
    max_examples=150 if SLOW else 20, stateful_step_count=50 if SLOW else 25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_disk_log_matches_the_memory_twin = TwinMachine.TestCase
