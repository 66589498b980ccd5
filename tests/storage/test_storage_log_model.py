"""Stateful property test: FileReplicatedLog against a plain in-memory model.

Random appends (leader and follower), truncations, epoch changes, high
watermark moves, snapshots with deletion, retention (maybe_clean), snapshot
installs and reopens; after
every step the log must agree with the model on offsets, epochs, epoch-cache
answers and the bytes of every batch.
"""
import bisect
import os
import shutil
import struct
import tempfile

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from batchgen import build_batch, snapshot_bytes
from kraft.core.log import OffsetAndEpoch, ValidationKind
from kraft.storage import FileReplicatedLog, InvalidAppendError, LogConfig

SLOW = os.environ.get("KRAFT_SLOW") == "1"


class Clock:
    now = 1_700_000_000_000

    def __call__(self):
        return self.now


class Model:
    """Batches as (base, last, epoch, payload-without-offsets), the log start and HW."""

    def __init__(self):
        self.batches = []
        self.start = 0
        self.hw = 0
        self.snapshots = set()
        self.initialized = None  # (epoch, offset) of the last initialize_leader_epoch

    @property
    def end(self):
        return self.batches[-1][1] + 1 if self.batches else self.start

    def visible(self):
        return [b for b in self.batches if b[1] >= self.start]

    def epoch_starts(self):
        starts = []
        for base, _, epoch, _ in self.batches:
            if not starts or epoch > starts[-1][0]:
                starts.append((epoch, base))
        if self.initialized is not None:
            epoch, offset = self.initialized
            # a new leader's epoch with no batch yet starts at the end
            if offset == self.end and (not starts or epoch > starts[-1][0]):
                starts.append((epoch, offset))
        # the start of the log re-bases the entry that covers it
        while len(starts) > 1 and starts[1][1] <= self.start:
            starts.pop(0)
        if starts and starts[0][1] < self.start:
            starts[0] = (starts[0][0], self.start)
        return starts

    def latest_epoch(self):
        """The epoch cache's latest epoch."""
        starts = self.epoch_starts()
        return starts[-1][0] if starts else None

    def epoch_floor(self):
        """The lowest epoch a new batch may have."""
        latest = self.latest_epoch()
        if latest is None and self.snapshots:
            return max(self.snapshots).epoch
        return latest or 0


class LogMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="kraft-model-", dir=os.environ.get("KRAFT_TEST_DIR"))
        self.clock = Clock()
        self.config = LogConfig(segment_bytes=400, index_interval_bytes=150, retention_ms=1000)
        self.log = FileReplicatedLog.open(self.dir, self.config, self.clock)
        self.model = Model()
        self.counter = 0

    def teardown(self):
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _values(self, n):
        self.counter += 1
        return [b"v%d-%d" % (self.counter, i) * (1 + i % 3) for i in range(n)]

    @rule(sizes=st.lists(st.integers(1, 4), min_size=1, max_size=3), bump=st.integers(0, 2))
    def append_as_leader(self, sizes, bump):
        latest = self.model.epoch_floor()
        epoch = latest + bump
        payloads = [self._values(n) for n in sizes]
        data = b"".join(build_batch(v, 999, 0, self.clock.now) for v in payloads)
        info = self.log.append_as_leader(data, epoch)
        base = self.model.end
        assert info.first_offset == base
        for v in payloads:
            self.model.batches.append((base, base + len(v) - 1, epoch, v))
            base += len(v)
        assert info.last_offset == base - 1

    @rule(n=st.integers(1, 3), bump=st.integers(0, 2), gap=st.sampled_from([0, 0, 0, 1]))
    def append_as_follower(self, n, bump, gap):
        latest = self.model.epoch_floor()
        epoch = latest + bump
        values = self._values(n)
        data = build_batch(values, self.model.end + gap, epoch, self.clock.now)
        if gap:
            try:
                self.log.append_as_follower(data, epoch)
            except InvalidAppendError:
                return
            raise AssertionError("a gap in offsets was accepted")
        self.log.append_as_follower(data, epoch)
        base = self.model.end
        self.model.batches.append((base, base + n - 1, epoch, values))

    @rule(back=st.integers(0, 6))
    def truncate(self, back):
        target = max(self.model.hw, self.model.end - back)
        self.log.truncate_to(target)
        if target < self.model.end:
            # whole batches: a batch holding the target goes entirely
            self.model.batches = [b for b in self.model.batches if b[1] < target]
            if self.model.initialized and self.model.initialized[1] >= self.model.end:
                self.model.initialized = None
        assert self.log.end_offset == self.model.end

    @rule(epoch_bump=st.integers(1, 2))
    def initialize_leader_epoch(self, epoch_bump):
        epoch = self.model.epoch_floor() + epoch_bump
        self.log.initialize_leader_epoch(epoch)
        self.model.initialized = (epoch, self.model.end)

    @rule(forward=st.integers(0, 8))
    def update_high_watermark(self, forward):
        target = min(self.model.end, self.model.hw + forward)
        self.log.update_high_watermark(target)
        self.model.hw = target

    @precondition(lambda self: self.model.hw > self.model.start)
    @rule(data=st.data())
    def snapshot_and_delete(self, data):
        # snapshot at a batch boundary at or below the high watermark
        # (snapshots only move forward: the state machine snapshots what it applied)
        floor = max(self.model.snapshots).offset if self.model.snapshots else 0
        ends = [b[1] + 1 for b in self.model.visible() if floor < b[1] + 1 <= self.model.hw]
        if not ends:
            return
        end = data.draw(st.sampled_from(ends))
        epoch = next(b[2] for b in self.model.batches if b[1] == end - 1)
        sid = OffsetAndEpoch(end, epoch)
        writer = self.log.create_new_snapshot_checked(sid)
        if writer is None:
            assert sid in self.model.snapshots or end < self.model.start
            return
        writer.append(snapshot_bytes([[b"s"]], epoch=epoch))
        writer.freeze()
        self.model.snapshots.add(sid)
        self.log.delete_before_snapshot(sid)
        # the start moves to the snapshot when it is beyond the start; older
        # snapshots go (whether whole segments could go depends on the layout)
        if end > self.model.start:
            self.model.start = end
            self.model.snapshots = {s for s in self.model.snapshots if s >= sid}

    @rule(data=st.data())
    def snapshot_only(self, data):
        # a snapshot kept beside the older ones, for maybe_clean to find
        floor = max(self.model.snapshots).offset if self.model.snapshots else 0
        ends = [b[1] + 1 for b in self.model.visible() if floor < b[1] + 1 <= self.model.hw]
        if not ends:
            return
        end = data.draw(st.sampled_from(ends))
        epoch = next(b[2] for b in self.model.batches if b[1] == end - 1)
        sid = OffsetAndEpoch(end, epoch)
        writer = self.log.create_new_snapshot_checked(sid)
        writer.append(snapshot_bytes([[b"k"]], epoch=epoch))
        writer.freeze()
        self.model.snapshots.add(sid)

    @rule()
    def maybe_clean(self):
        # every snapshot's LastContainedLogTimestamp (0) is beyond retention_ms:
        # everything before the latest snapshot goes, the latest stays
        cleaned = self.log.maybe_clean()
        if len(self.model.snapshots) >= 2:
            latest = max(self.model.snapshots)
            assert cleaned
            self.model.start = max(self.model.start, latest.offset)
            self.model.snapshots = {latest}
        else:
            assert not cleaned

    @rule(ahead=st.integers(1, 5), bump=st.integers(0, 2))
    def install_snapshot(self, ahead, bump):
        epoch = self.model.epoch_floor() + bump
        sid = OffsetAndEpoch(self.model.end + ahead, epoch)
        writer = self.log.create_new_snapshot(sid)
        writer.append(snapshot_bytes([[b"i"]], epoch=epoch))
        writer.freeze()
        assert self.log.truncate_to_latest_snapshot()
        self.model.batches = []
        self.model.initialized = None
        self.model.snapshots = {sid}
        self.model.start = self.model.hw = sid.offset

    @rule()
    def reopen(self):
        self.log.close()
        self.log = FileReplicatedLog.open(self.dir, self.config, self.clock)
        # the log start comes back as the first segment's base (as Kafka's metadata
        # log); it can only be earlier than before, never later
        assert self.log.start_offset <= self.model.start
        self.model.start = self.log.start_offset
        # what snapshots cover is known to be committed
        latest = max(self.model.snapshots).offset if self.model.snapshots else 0
        self.model.hw = max(self.model.start, min(latest, self.model.end))
        self.model.initialized = None

    @rule()
    def advance_clock(self):
        self.clock.now += 1000

    @invariant()
    def agrees_with_model(self):
        log, model = self.log, self.model
        assert log.end_offset == model.end
        assert log.start_offset == model.start
        assert log.high_watermark == model.hw
        latest = model.latest_epoch()
        if latest is not None:
            assert log.last_fetched_epoch() == latest
        elif model.snapshots:
            assert log.last_fetched_epoch() == max(model.snapshots).epoch
        else:
            assert log.last_fetched_epoch() == 0
        assert set(log.snapshot_ids()) == model.snapshots
        starts = model.epoch_starts()
        epochs = [e for e, _ in starts]
        for probe in set(epochs) | {e + 1 for e in epochs} | {0}:
            if starts and starts[-1][0] == probe:
                expected = (probe, model.end)
            else:
                i = bisect.bisect_right(epochs, probe)
                if i == len(epochs):
                    continue      # undefined in the cache: falls back to snapshot/end rules
                expected = (probe, starts[0][1]) if i == 0 else (epochs[i - 1], starts[i][1])
            got = log.end_offset_for_epoch(probe)
            earliest = min(model.snapshots) if model.snapshots else None
            if earliest is not None and expected == (probe, earliest.offset):
                expected = (earliest.offset, earliest.epoch)[::-1]
            assert (got.epoch, got.offset) == expected, (probe, starts)
        # every visible batch reads back with its offsets, epoch and records
        for base, last, epoch, values in model.visible():
            offset = max(base, model.start)
            view = bytes(log.read(offset, 1).records)
            b_base, length, b_epoch = struct.unpack_from(">qii", view, 0)
            assert len(view) == length + 12
            assert (b_base, b_epoch) == (base, epoch)
            assert view == _with_header(build_batch(values, base, epoch, 0), view)
        if model.end > model.start and not model.snapshots:
            v = log.validate_offset_and_epoch(model.end, latest)
            assert v.kind is ValidationKind.VALID


def _with_header(expected, actual):
    """``expected`` with the timestamp fields and CRC of ``actual`` (the clock is not modelled)."""
    out = bytearray(expected)
    out[17:21] = actual[17:21]
    out[27:43] = actual[27:43]
    return bytes(out)


LogMachine.TestCase.settings = settings(
    max_examples=200 if SLOW else 25, stateful_step_count=60 if SLOW else 30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_log_against_model = LogMachine.TestCase
