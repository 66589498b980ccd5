"""TestRaftServer's workload: while leader, append fixed-size records at a fixed rate and time their commit.

As Kafka's ``RaftWorkloadGenerator``: on becoming leader of an epoch the
generator claims it and starts counting; record number *n* since the claim is
appended once ``n / throughput`` seconds have passed (as fast as possible when
behind), each as its own one-record append; every committed record of the
claimed epoch yields a latency sample (commit time of its batch minus the
time it was appended), and every 5 s the summary line is printed.  Unlike
Kafka's (which hard-codes 20000 records/s of 256 bytes), ``--throughput`` and
``--record-size`` are honoured.  Nodes that do not lead log their view of the
quorum (leader, epoch, high watermark) when it changes and every 5 s.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import sys
from typing import Callable, Optional, TextIO

from kraft.client import RaftClient
from kraft.core.errors import NotLeaderError, RaftError
from kraft.core.types import LeaderAndEpoch
from kraft.tools.perf_stats import REPORT_INTERVAL_MS, CommitStats, Throttle

log = logging.getLogger("kraft.workload")

# Records appended per turn of the event loop at most, so the network keeps running when far behind.
_MAX_BURST = 1000


class Workload:
    """The leader's synthetic workload and the commit statistics (a Raft listener)."""

    def __init__(self, client: RaftClient, node_id: int, *, throughput: int, record_size: int,
                 clock: Callable[[], int], on_append: Callable[[], None], out: TextIO = sys.stdout):
        self.client = client
        self.node_id = node_id
        self.throughput = throughput
        self.payload = bytes(record_size)
        self.clock = clock
        self._on_append = on_append
        self._out = out
        self._claimed: Optional[int] = None
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
        client.register(self)

    # ---------------------------------------------------------------- listener
    def handle_leader_change(self, leader: LeaderAndEpoch) -> None:
        self._leader = leader
        log.info("Leader is now %s in epoch %d", "unknown" if leader.leader_id is None else leader.leader_id,
                 leader.epoch)
        if leader.leader_id == self.node_id:
            self._claimed = leader.epoch
            self._first_commit_pending = True
            self._throttle = Throttle(self.throughput, self.clock())
            self._count = 0
            self._pending.clear()
        elif self._claimed is not None:
            self._claimed = None
            self._pending.clear()
        self._claim_changed.set()

    def handle_commit(self, batches: list) -> None:
        for batch in batches:
            self._high_watermark = batch.last_offset + 1
            if self._claimed is None or batch.epoch != self._claimed or not batch.records:
                continue
            now = self.clock()
            for i in range(len(batch.records)):
                offset = batch.base_offset + i
                if not self._pending or self._pending[0][0] != offset:
                    log.error("Committed record at offset %d was not the next one appended; "
                              "stopping the measurement for epoch %d", offset, self._claimed)
                    self._claimed = None
                    self._pending.clear()
                    return
                _, appended_at = self._pending.popleft()
                if self._first_commit_pending:
                    self._first_commit_pending = False
                    log.info("First record of epoch %d committed at offset %d", batch.epoch, offset)
                self.committed_records += 1
                line = self._stats.record(now - appended_at, len(self.payload), now)
                if line is not None:
                    print(line, file=self._out, flush=True)
        self._maybe_log_state()

    def begin_shutdown(self) -> None:
        self._claimed = None
        self._claim_changed.set()

    def _maybe_log_state(self) -> None:
        now = self.clock()
        if self._claimed is None and now - self._last_state_log >= REPORT_INTERVAL_MS:
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
            sent = 0
            delay = 0.0
            while sent < _MAX_BURST and self._claimed == epoch:
                now = self.clock()
                delay = self._throttle.delay_ms(self._count + 1, now)
                if delay > 0:
                    break
                try:
                    offset = self.client.schedule_append(epoch, [self.payload])
                except NotLeaderError:
                    delay = 10
                    break
                except RaftError as e:
                    if str(e) != self._last_failure:
                        self._last_failure = str(e)
                        log.warning("Append failed (retrying every 10 ms; repeats not logged): %s", e)
                    delay = 10
                    break
                self._count += 1
                self._pending.append((offset, now))
                sent += 1
            if sent:
                self._on_append()
            await asyncio.sleep(delay / 1000.0)
