"""TestRaftServer's workload: while leader, append fixed-size records at a fixed rate and time their commit.

As Kafka's ``RaftWorkloadGenerator``: on becoming leader of an epoch the
generator claims it and starts counting; record number *n* since the claim is
appended once ``n / throughput`` seconds have passed (as fast as possible when
behind).  Kafka appends each record on its own; here every record due at one
turn of the event loop goes in one append with one timestamp (the same
records at the same offsets, far less Python per record).  Every committed
record of the claimed epoch yields a latency sample (commit time of its batch
minus the time it was appended), and every 5 s the summary line is printed.  Unlike
Kafka's (which hard-codes 20000 records/s of 256 bytes), ``--throughput`` and
``--record-size`` are honoured.  Nodes that do not lead log their view of the
quorum (leader, epoch, high watermark) when it changes and every 5 s.  Every
node hands its commits to the test server's state machine
(:mod:`kraft.tools.snapshots`), which snapshots it.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import sys
from typing import Callable, Optional, TextIO

from kraft.client import RaftClient
from kraft.records.constants import KRAFT_MAX_BATCH_SIZE, RECORD_BATCH_OVERHEAD
from kraft.records.sizes import record_size
from kraft.core.errors import NotLeaderError, RaftError
from kraft.core.types import LeaderAndEpoch
from kraft.tools.perf_stats import REPORT_INTERVAL_MS, CommitStats, Throttle
from kraft.tools.snapshots import TestServerState

log = logging.getLogger("kraft.workload")

# Records, and bytes, appended per turn of the event loop at most, so the network (and signals) keep being
# served when far behind; at least one record per turn whatever its size.
_MAX_BURST = 1000
_MAX_BURST_BYTES = 1 << 20
# Appended but not yet committed, at most: beyond it the generator waits for commits (back-pressure), so an
# offered load above what the quorum commits does not fill the disk with uncommitted batches.
_MAX_IN_FLIGHT_BYTES = 64 << 20


def max_record_size(max_batch_size: int = KRAFT_MAX_BATCH_SIZE) -> int:
    """The largest value a single record may hold in a batch of ``max_batch_size`` bytes."""
    size = max_batch_size - RECORD_BATCH_OVERHEAD
    while size > 0 and RECORD_BATCH_OVERHEAD + record_size(0, size) > max_batch_size:
        size -= 1
    return size


class Workload:
    """The leader's synthetic workload and the commit statistics (a Raft listener)."""

    def __init__(self, client: RaftClient, node_id: int, *, throughput: int, record_size: int,
                 clock: Callable[[], int], on_append: Callable[[], None], out: TextIO = sys.stdout,
                 state: Optional[TestServerState] = None):
        self.client = client
        self.node_id = node_id
        self.throughput = throughput
        self.payload = bytes(record_size)
        self._record_size = record_size
        self._burst = max(1, min(_MAX_BURST, _MAX_BURST_BYTES // max(record_size, 1)))
        self._records = [self.payload] * self._burst
        self._in_flight = 0  # records appended in the claimed epoch and not yet committed
        self._max_in_flight = max(self._burst, _MAX_IN_FLIGHT_BYTES // max(record_size, 1))
        self._progress = asyncio.Event()
        self.clock = clock
        self._on_append = on_append
        self._out = out
        self._claimed: Optional[int] = None
        self._shutting_down = False
        self._first_commit_pending = False
        self._last_failure = ""
        self._throttle: Optional[Throttle] = None
        self._count = 0
        self._pending: collections.deque = collections.deque()
        self._stats = CommitStats(clock())
        self._claim_changed = asyncio.Event()
        self._leader = LeaderAndEpoch(None, 0)
        self._high_watermark: Optional[int] = None
        self._last_state_log = clock()
        self.committed_records = 0
        self.state = state
        client.register(self)

    @property
    def stats(self) -> CommitStats:
        """The leader's commit statistics (the summary line's figures)."""
        return self._stats

    # ---------------------------------------------------------------- listener
    def handle_leader_change(self, leader: LeaderAndEpoch) -> None:
        self._leader = leader
        log.info("Leader is now %s in epoch %d", "unknown" if leader.leader_id is None else leader.leader_id,
                 leader.epoch)
        if leader.leader_id == self.node_id:
            self._claimed = leader.epoch
            self._first_commit_pending = True
            # Statistics of this leadership only (Kafka keeps one WriteStats for the process, so a new
            # leader's first line came at once with a rate over the time it was not leading).
            whole_run = self._stats.whole_run  # the --latency-histogram of the whole run carries over
            self._stats = CommitStats(self.clock())
            self._stats.whole_run = whole_run
            self._throttle = Throttle(self.throughput, self.clock())
            self._count = 0
            self._pending.clear()
            self._in_flight = 0
        elif self._claimed is not None:
            self._claimed = None
            self._pending.clear()
            self._in_flight = 0
        self._claim_changed.set()
        self._progress.set()

    def handle_load_snapshot(self, snapshot) -> None:
        """A snapshot replaces what was committed before it (a follower that was far behind)."""
        self._high_watermark = snapshot.snapshot_id.offset
        if self.state is not None:
            self.state.load_snapshot(snapshot)

    def handle_commit(self, batches: list) -> None:
        if self.state is not None:
            self.state.apply(batches)
        for batch in batches:
            self._high_watermark = batch.last_offset + 1
            if self._claimed is None or batch.epoch != self._claimed or not batch.records:
                continue
            now = self.clock()
            offset = batch.base_offset
            end = offset + len(batch.records)
            pending = self._pending
            while offset < end:
                # Each pending entry is one append: [first offset, last offset, append time].
                if not pending or pending[0][0] != offset:
                    log.error("Committed record at offset %d was not the next one appended; "
                              "stopping the measurement for epoch %d", offset, self._claimed)
                    self._claimed = None
                    pending.clear()
                    return
                group = pending[0]
                last = min(group[1], end - 1)
                count = last - offset + 1
                if last == group[1]:
                    pending.popleft()
                else:
                    group[0] = last + 1
                if self._first_commit_pending:
                    self._first_commit_pending = False
                    log.info("First record of epoch %d committed at offset %d", batch.epoch, offset)
                self.committed_records += count
                self._in_flight -= count
                self._progress.set()
                line = self._stats.record_many(now - group[2], self._record_size, now, count)
                if line is not None:
                    print(line, file=self._out, flush=True)
                offset = last + 1
        self._maybe_log_state()

    def begin_shutdown(self) -> None:
        self._shutting_down = True
        self._claimed = None
        self._claim_changed.set()
        self._progress.set()

    def _maybe_log_state(self) -> None:
        now = self.clock()
        if self._claimed is None and not self._shutting_down and self._leader.leader_id != self.node_id \
                and now - self._last_state_log >= REPORT_INTERVAL_MS:
            self._last_state_log = now
            leader = "unknown" if self._leader.leader_id is None else self._leader.leader_id
            log.info("Following leader %s in epoch %d; high watermark %s", leader, self._leader.epoch,
                     self._high_watermark)

    # ---------------------------------------------------------------- appender
    async def run(self) -> None:
        """Append while leader; runs until cancelled."""
        while True:
            if self._claimed is None:
                self._claim_changed.clear()
                await self._claim_changed.wait()
                continue
            epoch = self._claimed
            now = self.clock()
            due = min(self._throttle.due(now) - self._count, self._burst)
            if due <= 0:
                await asyncio.sleep(self._throttle.delay_ms(self._count + 1, now) / 1000.0)
                continue
            if self._in_flight >= self._max_in_flight:
                # Offered more than the quorum commits: wait for commits (or a change of leader).
                self._progress.clear()
                try:
                    await asyncio.wait_for(self._progress.wait(), 0.1)
                except asyncio.TimeoutError:
                    pass
                continue
            try:
                # Every record due now goes in one append: one call, one timestamp for the group.
                last = self.client.schedule_append(epoch, self._records[:due] if due < self._burst
                                                   else self._records)
            except NotLeaderError:
                await asyncio.sleep(0.01)
                continue
            except RaftError as e:
                if str(e) != self._last_failure:
                    self._last_failure = str(e)
                    log.warning("Append failed (retrying every 10 ms; repeats not logged): %s", e)
                await asyncio.sleep(0.01)
                continue
            self._count += due
            self._in_flight += due
            self._pending.append([last - due + 1, last, now])
            self._on_append()
            await asyncio.sleep(0)
