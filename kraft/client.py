"""The application-facing Raft client: appends, listeners, shutdown.

``RaftClient`` wraps a :class:`kraft.core.node.RaftNode`.  A driver (the
simulator, or the asyncio server) owns the clock and calls
``poll(now)``/``step(event, now)``, applies the returned effects in order, and
calls again by ``next_deadline_ms``.  At the start of every call the client
first serves its listeners from the (by then applied) log, so callbacks run
on the driver's thread, in order, as in Kafka's ``KafkaRaftClient.poll``.

Listener guarantees (Kafka's): ``handle_commit`` receives committed batches in
offset order, each exactly once per registration, starting at offset 0 — or,
when the log starts with a snapshot, ``handle_load_snapshot`` first and then
the batches after it;
``handle_leader_change`` is called on registration and whenever the epoch or
the leader knowledge changes, never going back, and on the node's own
leadership only once the listener has consumed past the epoch's start
offset; ``begin_shutdown`` when :meth:`RaftClient.shutdown` is called.

Snapshots: the state machine calls :meth:`RaftClient.create_snapshot` with a
committed offset and epoch (Kafka's rules: at most the high watermark, the
log's epoch at that offset) and fills and freezes the writer it gets; the
node then applies the log's retention limits once a minute (a ``CleanLog``
effect), deleting older snapshots and the log before the newer ones.  A
listener whose next offset falls below the log start (or a new listener when
a snapshot exists) receives ``handle_load_snapshot`` before any further
``handle_commit``.  Call ``create_snapshot`` on the driver's thread, between
driver calls, as listeners are called.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Protocol, Sequence

from kraft.core.effects import LeaderChangeMessage, Output
from kraft.core.errors import RaftError, ShutdownError
from kraft.core.log import OffsetAndEpoch, RawSnapshotReader, RawSnapshotWriter, ReplicatedLog
from kraft.core.committed import Batch
from kraft.core.node import RaftNode
from kraft.core.types import LeaderAndEpoch

__all__ = ["RaftClient", "RaftListener", "BatchReader"]


class RaftListener(Protocol):
    def handle_commit(self, batches: list) -> None:
        """Committed batches, in offset order; control batches carry no records."""
        ...

    def handle_load_snapshot(self, snapshot) -> None:
        """The whole state up to ``snapshot.snapshot_id.offset`` (a ``RawSnapshotReader``);
        earlier commits are superseded and delivery continues after it."""
        ...

    def handle_leader_change(self, leader: LeaderAndEpoch) -> None: ...

    def begin_shutdown(self) -> None: ...


#: ``reader(log, start_offset, end_offset) -> batches``: decode the committed
#: batches of ``log`` from ``start_offset`` (a batch boundary) up to, not
#: including, ``end_offset``.  Each batch has ``base_offset``/``last_offset``.
BatchReader = Callable[[ReplicatedLog, int, int], list]

#: ``writer(raw, last_contained_log_time_ms) -> snapshot writer``: wrap a raw snapshot writer in
#: one that writes the record format (``kraft.storage.snapshots.RecordsSnapshotWriter`` writes
#: Kafka's header, KRaftVersion/Voters and footer control records around the data batches).
SnapshotWriterFactory = Callable[[RawSnapshotWriter, int], object]
#: ``reader(raw) -> what listeners receive in handle_load_snapshot``.
SnapshotReaderFactory = Callable[[RawSnapshotReader], object]

_UNKNOWN = LeaderAndEpoch(None, 0)
#: Kafka's first next offset of a listener: new, served nothing yet
_STARTING_OFFSET = -1


@dataclass
class _ListenerContext:
    listener: RaftListener
    next_offset: int = _STARTING_OFFSET
    last_leader: LeaderAndEpoch = _UNKNOWN

    def maybe_fire_leader_change(self, leader: LeaderAndEpoch) -> None:
        last = self.last_leader
        if leader == last:
            return
        if leader.epoch > last.epoch or (leader.leader_id is not None and last.leader_id is None
                                         and leader.epoch == last.epoch):
            self.last_leader = leader
            self.listener.handle_leader_change(leader)


class RaftClient:
    """Application API over a Raft node; deterministic given the driver's clock."""

    def __init__(self, node: RaftNode, read_batches: BatchReader, *,
                 snapshot_writer: Optional[SnapshotWriterFactory] = None,
                 snapshot_reader: Optional[SnapshotReaderFactory] = None):
        """``snapshot_writer``/``snapshot_reader`` wrap the log's raw snapshot files for the
        application; without them it gets the raw writer and reader (bytes in, bytes out)."""
        self.node = node
        self._read_batches = read_batches
        self._snapshot_writer = snapshot_writer
        self._snapshot_reader = snapshot_reader
        self._contexts: dict[int, _ListenerContext] = {}
        self._pending: list[tuple[str, RaftListener]] = []
        self._now: Optional[int] = None
        self._shutdown_requested = False
        self._served_hw: Optional[int] = None  # the high watermark listeners were last served up to
        self._delivered: Optional[int] = None  # every listener has been handed the batches below this

    # ------------------------------------------------------------ driver side
    def start(self, now: int) -> Output:
        self._now = now
        return self.node.start(now)

    def poll(self, now: int) -> Output:
        self._now = now
        self._serve_listeners()
        return self._settle(self.node.poll(now), now)

    def step(self, event, now: int) -> Output:
        self._now = now
        self._serve_listeners()
        return self._settle(self.node.step(event, now), now)

    def _settle(self, output: Output, now: int) -> Output:
        if self._has_listener_work():
            output.next_deadline_ms = now
        return output

    # ------------------------------------------------------- application side
    def register(self, listener: RaftListener) -> None:
        """Register a listener; it is served at the next poll."""
        self._pending.append(("register", listener))

    def unregister(self, listener: RaftListener) -> None:
        self._pending.append(("unregister", listener))

    def leader_and_epoch(self) -> LeaderAndEpoch:
        return self.node.leader_and_epoch()

    def schedule_append(self, epoch: int, records: Sequence[bytes]) -> int:
        """Queue records for the leader of ``epoch``; returns the last record's offset.

        Raises ``NotLeaderError`` (``StaleEpochError`` for an old epoch) when
        this node is not that leader, ``InvalidEpochError`` for a future epoch.
        """
        return self.node.schedule_append(epoch, records, self._clock())

    def schedule_atomic_append(self, epoch: int, records: Sequence[bytes],
                               required_base_offset: Optional[int] = None) -> int:
        """Like :meth:`schedule_append`, but all records land in one batch."""
        return self.node.schedule_append(epoch, records, self._clock(), atomic=True,
                                         required_base_offset=required_base_offset)

    def resign(self, epoch: int) -> None:
        self.node.resign(epoch)

    def request_read_barrier(self) -> int:
        """Ask the leader to confirm its leadership with a majority (see
        :meth:`RaftNode.request_read_barrier`); the barrier's id."""
        return self.node.request_read_barrier()

    def read_barrier_result(self, barrier_id: int) -> tuple[bool, Optional[int]]:
        """``(True, high watermark)`` once confirmed, ``(False, None)`` while waiting;
        ``NotLeaderError`` if the leadership was lost first."""
        return self.node.read_barrier_result(barrier_id)

    def delivered_offset(self) -> Optional[int]:
        """The committed offset every registered listener has been handed all batches below
        (the log's high watermark when there are no listeners); ``None`` until known."""
        if not self._contexts and not self._pending:
            return self.log_high_watermark()
        return self._delivered

    def create_snapshot(self, committed_offset_and_epoch: OffsetAndEpoch, last_contained_log_time_ms: int):
        """A writer for a snapshot of the state up to, not including, ``committed_offset_and_epoch.offset``.

        Kafka's ``createSnapshot``: ``None`` when the offset is below the log start or the snapshot
        already exists; ``ValueError`` when the offset is beyond the high watermark or the epoch is
        not the log's epoch at that offset.  The caller appends its state and calls ``freeze()``
        (or ``close()`` to abandon it).
        """
        if self._now is None:
            raise ShutdownError("the client has not been started")
        raw = self.node.create_snapshot(committed_offset_and_epoch)
        if raw is None or self._snapshot_writer is None:
            return raw
        return self._snapshot_writer(raw, last_contained_log_time_ms)

    def latest_snapshot_id(self) -> Optional[OffsetAndEpoch]:
        """The id (end offset, epoch) of the newest snapshot the log holds, if any."""
        return self.node.log.latest_snapshot_id()

    def shutdown(self, timeout_ms: int) -> None:
        """Begin a graceful shutdown (a leader resigns first); done when ``is_shut_down``."""
        if self._shutdown_requested:
            return
        self._shutdown_requested = True
        self.node.begin_shutdown(self._clock(), timeout_ms)
        for ctx in list(self._contexts.values()):
            ctx.listener.begin_shutdown()

    @property
    def is_shut_down(self) -> bool:
        return self.node.is_shut_down

    def _clock(self) -> int:
        if self._now is None:
            raise ShutdownError("the client has not been started")
        return self._now

    # -------------------------------------------------------------- listeners
    def _has_listener_work(self) -> bool:
        """New registrations, or a high watermark that moved since listeners were last served."""
        return bool(self._pending) or (bool(self._contexts) and self.node.high_watermark != self._served_hw)

    def _serve_listeners(self) -> None:
        for op, listener in self._pending:
            if op == "register":
                self._contexts.setdefault(id(listener), _ListenerContext(listener))
            else:
                self._contexts.pop(id(listener), None)
        self._pending.clear()
        hw = self.log_high_watermark()
        self._served_hw = self.node.high_watermark
        log = self.node.log
        for ctx in list(self._contexts.values()):
            if hw is not None:
                # Kafka's order: a new listener, or one behind the log start, loads the latest
                # snapshot (the bootstrap checkpoint 0-0 too, once a high watermark is known);
                # a new listener with no snapshot starts at offset 0.
                new = ctx.next_offset == _STARTING_OFFSET
                behind = new or ctx.next_offset < log.start_offset
                latest = log.latest_snapshot_id() if behind and ctx.next_offset < hw else None
                if latest is not None:
                    load = getattr(ctx.listener, "handle_load_snapshot", None)
                    if load is None:
                        raise RaftError("the log starts with a snapshot, but the listener has no "
                                        "handle_load_snapshot")
                    raw = log.read_snapshot(latest)
                    load(raw if self._snapshot_reader is None else self._snapshot_reader(raw))
                    ctx.next_offset = latest.offset
                elif new:
                    ctx.next_offset = 0
                elif behind:
                    raise RaftError(f"a listener expects offset {ctx.next_offset}, below the log start "
                                    f"{log.start_offset}, and no snapshot covers it (high watermark {hw})")
            if hw is not None and ctx.next_offset < hw:
                batches = self._from_memory(ctx.next_offset, hw) or [
                    b for b in self._read_batches(log, ctx.next_offset, hw) if b.last_offset < hw]
                if batches:
                    ctx.listener.handle_commit(batches)
                    ctx.next_offset = batches[-1].last_offset + 1
            leader = self.node.quorum.leader_state()
            if leader is not None:
                if ctx.next_offset > leader.epoch_start_offset:
                    ctx.maybe_fire_leader_change(self.node.leader_and_epoch())
            elif self.node.quorum.resigned_state() is None:
                ctx.maybe_fire_leader_change(self.node.leader_and_epoch())
        if hw is not None:
            self._delivered = min([hw, *(ctx.next_offset for ctx in self._contexts.values())])
        if self.node.appended and hw is not None:
            floor = min((ctx.next_offset for ctx in self._contexts.values()), default=hw)
            self.node.forget_appended_below(min(floor, hw))

    def _from_memory(self, start: int, hw: int) -> list:
        """On the leader, committed batches of its own epoch are handed over as appended (Kafka does
        the same), without reading the log back, with the sizes the core computed for them."""
        out = []
        appended = self.node.appended
        while start in appended and appended[start].last_offset < hw:
            b = appended[start]
            # a Voters batch (KIP-853) reaches listeners as read from the log: a control batch, no message
            control = b.control if isinstance(b.control, LeaderChangeMessage) else None
            out.append(Batch(b.base_offset, b.last_offset, b.epoch, b.append_time_ms, b.records, control,
                             size_in_bytes=b.size_in_bytes))
            start = b.last_offset + 1
        return out

    def log_high_watermark(self) -> Optional[int]:
        """The committed offset listeners may read to: the node's HW once the log holds it."""
        hw = self.node.high_watermark
        if hw is None:
            return None
        return min(hw, self.node.log.high_watermark)
