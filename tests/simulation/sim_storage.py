"""Where the simulated nodes keep their state: in memory, or on the real storage layer.

``MemoryStorage`` gives every node a :class:`~kraft.core.memory.MemoryLog` and keeps its
quorum-state in the simulator; a crash loses what was not flushed.

``DiskStorage`` gives every node a :class:`~kraft.storage.replicated_log.FileReplicatedLog`
in its own directory, with small segments, retention and Kafka-format ``.checkpoint``
snapshots written by ``RecordsSnapshotWriter``; the quorum-state is the real
``quorum-state`` file (``kraft.storage.quorum_state.QuorumStateStore`` behind the server's
``ElectionStore`` adapter).  Everything reads the simulator's clock.  A crash is a process
dying: every file descriptor and mapping of the log is dropped *without* flushing or
writing indexes (the page cache keeps what was written, so unflushed data survives); on a
share of crashes (``SimOptions.power_loss``) the machine loses power as well, and the
active segment is cut at a random byte between what the log last fsynced and its end (a
torn batch, usually).  The restart reopens the directory with ``FileReplicatedLog.open``,
which recovers it; a restart from an empty directory deletes the directory first.

The invariant checker reads each node's log through a *view*: the stored batches from the
log start (``base_offset``, ``last_offset``, ``data``) and the snapshots' contents.  A
view of a node that is down shows what survived its crash.
"""
from __future__ import annotations

import bisect
import dataclasses
import os
import shutil
import struct
from pathlib import Path
from typing import Optional

from kraft.client import RaftClient
from kraft.core.apply import SnapshotDownloads
from kraft.core.batches import scan_batches
from kraft.core.effects import LeaderBatch
from kraft.core.memory import Batch, MemoryLog, _Stored, decode_batches, encode_batch
from kraft.records import decode_batches as decode_record_batches
from kraft.server.batches import encode_leader_batch, read_committed_batches
from kraft.server.driver import ElectionStore
from kraft.storage.quorum_state import FILE_NAME as QUORUM_STATE_FILE, QuorumStateStore
from kraft.storage.replicated_log import FileReplicatedLog, LogConfig
from kraft.storage.snapshots import RecordsSnapshotWriter


def _draw(rng, bounds: tuple) -> int:
    low, high = bounds
    return low if low >= high else low + rng.randrange(high - low)


def read_batches(log: MemoryLog, start: int, end: int) -> list[Batch]:
    """The ``BatchReader`` of a ``MemoryLog`` (compact batches)."""
    out = []
    offset = start
    while offset < end:
        info = log.read(offset, 1 << 20)
        batches = decode_batches(info.records)
        if not batches:
            break
        for b in batches:
            if b.base_offset >= end:
                return out
            out.append(b)
        offset = batches[-1].last_offset + 1
    return out


# ------------------------------------------------------------------------------- memory
class _MemoryView:
    def __init__(self, log: MemoryLog):
        self.log = log

    @property
    def start_offset(self) -> int:
        return self.log.start_offset

    @property
    def batches(self) -> list:
        return self.log._batches

    def snapshot_ids(self) -> list:
        return list(self.log._snapshots)

    def earliest_snapshot_id(self):
        return self.log.earliest_snapshot_id()

    def snapshot_matches(self, sid, invariants, k: int) -> bool:
        return self.log._snapshots[sid] == b"".join(d for _, d in invariants.committed[:k])


class MemoryStorage:
    """Every node's log is a ``MemoryLog``; its quorum-state lives in the ``SimNode``."""

    relaxed_log_start = False
    encode_batch = staticmethod(encode_batch)

    def __init__(self, cluster):
        self.cluster = cluster

    def create(self, sim) -> None:
        sim.log = MemoryLog(retention_max_bytes=_draw(self.cluster.rng, self.cluster.options.retention_bytes))
        sim.downloads = SnapshotDownloads()

    def open(self, sim) -> None:
        pass

    def stored_election(self, sim):
        return sim.election

    def store(self, sim):
        return sim

    def client(self, node, sim) -> RaftClient:
        return RaftClient(node, read_batches)

    def crash(self, sim) -> None:
        sim.log.crash()

    def wipe(self, sim) -> None:
        self.create(sim)  # a new, empty log directory
        sim.election = None

    def view(self, sim) -> _MemoryView:
        return _MemoryView(sim.log)

    def write_snapshot(self, writer, batches: list) -> None:
        writer.append(b"".join(encode_batch(LeaderBatch(b.base_offset, b.epoch, b.append_time_ms, b.records,
                                                        b.control)) for b in batches))
        writer.freeze()

    @staticmethod
    def snapshot_batches(snapshot) -> list:
        return decode_batches(snapshot.records())

    @staticmethod
    def data_key(data: bytes):
        return decode_batches(data)[0]

    @staticmethod
    def batch_key(batch):
        return batch

    @staticmethod
    def on_the_wire(message):
        return message

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------------- disk
_ENTRY = struct.Struct(">qqiqi")  # base offset, last offset, epoch, append time, record count
_LENGTH = struct.Struct(">i")


def encode_state_entry(batch) -> bytes:
    """One committed batch of a state machine, as one record of its snapshot."""
    return _ENTRY.pack(batch.base_offset, batch.last_offset, batch.epoch, batch.append_time_ms,
                       len(batch.records)) + b"".join(_LENGTH.pack(len(r)) + bytes(r) for r in batch.records)


def decode_state_entry(value) -> Batch:
    value = bytes(value)
    base, last, epoch, time_ms, count = _ENTRY.unpack_from(value)
    pos, records = _ENTRY.size, []
    for _ in range(count):
        (size,) = _LENGTH.unpack_from(value, pos)
        records.append(value[pos + 4:pos + 4 + size])
        pos += 4 + size
    if pos != len(value):
        raise ValueError(f"snapshot entry of batch {base} has {len(value) - pos} trailing bytes")
    return Batch(base, last, epoch, time_ms, tuple(records), size_in_bytes=0)


def snapshot_state(reader) -> list[Batch]:
    """The state machine batches held by a snapshot file (its data records), as copies."""
    return [decode_state_entry(record.value)
            for batch in reader.record_batches() if not batch.is_control for record in batch]


class LoadedSnapshot:
    """What the simulated state machine receives in ``handle_load_snapshot`` on disk."""

    def __init__(self, raw):
        self.snapshot_id = raw.snapshot_id
        self.batches = snapshot_state(raw)


class SimFileLog(FileReplicatedLog):
    """``FileReplicatedLog`` as is, noting the lowest offset its batches changed from (so the
    invariant checker rereads only that), and able to die without flushing."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.changed_from: Optional[int] = 0

    def _changed(self, offset: int) -> None:
        self.changed_from = offset if self.changed_from is None else min(self.changed_from, offset)

    def append_as_leader(self, records, epoch):
        self._changed(self.end_offset)
        return super().append_as_leader(records, epoch)

    def append_as_follower(self, records, epoch):
        self._changed(self.end_offset)
        return super().append_as_follower(records, epoch)

    def truncate_to(self, offset):
        self._changed(min(offset, self.end_offset))
        return super().truncate_to(offset)

    def truncate_to_latest_snapshot(self):
        truncated = super().truncate_to_latest_snapshot()
        if truncated:
            self._changed(0)
        return truncated

    def durable_position(self) -> int:
        """Bytes of the active segment that the log has fsynced (rolled segments were fsynced
        when they rolled)."""
        active = self._segments[-1]
        flushed = self.last_flushed_offset
        if flushed <= active.base_offset:
            return 0
        position = active.position_of(flushed)
        return active.size if position is None else position

    def crash(self) -> None:
        """The process dies: every descriptor and mapping goes, nothing is flushed or written."""
        for segment in self._segments:
            segment._release()
        for reader in self._snapshots.values():
            if reader is not None:
                reader.close()
        for _, _, readers in self._pending_deletions:
            for reader in readers:
                reader.close()
        self._pending_deletions = []
        self._closed = True


def read_stored(log: FileReplicatedLog, offset: int) -> list[_Stored]:
    """The batches of ``log`` from ``offset`` (a batch boundary) to its end, as copies."""
    out, end = [], log.end_offset
    while offset < end:
        view = memoryview(log.read(offset, 1 << 20).records)
        headers, _ = scan_batches(view)
        if not headers or headers[0].base_offset != offset:
            raise AssertionError(f"{log.directory}: no batch starts at {offset} (log {log.start_offset}-{end})")
        out.extend(_Stored(h.base_offset, h.last_offset, h.epoch, bytes(view[h.position:h.position + h.size]))
                   for h in headers)
        offset = headers[-1].last_offset + 1
        view.release()
    return out


class DiskView:
    """The batches and snapshots of one node's directory, read back from its log.

    While the node is up it follows the log (rereading from ``changed_from``); when the
    node crashes it keeps what survived (cut where a power loss cut the active segment)
    until the restart reopens the directory.
    """

    def __init__(self):
        self.log: Optional[SimFileLog] = None
        self.start_offset = 0
        self.batches: list[_Stored] = []
        self._bases: list[int] = []
        self.snapshots: dict = {}  # snapshot id -> keys of the batches it holds
        self.fresh = True  # nothing was ever stored (or the directory was wiped)

    def attach(self, log: SimFileLog) -> None:
        self.log = log
        self.batches, self._bases, self.snapshots = [], [], {}
        self.fresh = False
        log.changed_from = 0
        self.refresh()

    def detach(self, survived_end: Optional[int] = None) -> None:
        """The node is down (call :meth:`refresh` before its log dies); only the batches
        below ``survived_end`` are still on disk."""
        self.log = None
        if survived_end is not None:
            self._cut(survived_end)

    def wipe(self) -> None:
        self.log = None
        self.start_offset = 0
        self.batches, self._bases, self.snapshots = [], [], {}
        self.fresh = True

    def _cut(self, offset: int) -> None:
        """Forget every batch that holds ``offset`` or follows it."""
        keep = bisect.bisect_right(self._bases, offset) - 1
        if keep < 0 or self.batches[keep].last_offset < offset:
            keep += 1
        del self.batches[keep:]
        del self._bases[keep:]

    def refresh(self) -> None:
        log = self.log
        if log is None:
            return
        if log.changed_from is not None:
            self._cut(log.changed_from)
            log.changed_from = None
        start = log.start_offset
        if start != self.start_offset:
            drop = bisect.bisect_left(self._bases, start)
            del self.batches[:drop]
            del self._bases[:drop]
            self.start_offset = start
        read = read_stored(log, self.batches[-1].last_offset + 1 if self.batches else start)
        self.batches.extend(read)
        self._bases.extend(b.base_offset for b in read)
        ids = log.snapshot_ids()
        if len(ids) != len(self.snapshots) or any(sid not in self.snapshots for sid in ids):
            self.snapshots = {sid: self.snapshots[sid] if sid in self.snapshots else self._read_snapshot(sid)
                              for sid in ids}

    def verify(self) -> None:
        """The batches followed incrementally are what the log holds, read afresh."""
        self.refresh()
        if self.batches != read_stored(self.log, self.start_offset):
            raise AssertionError(f"{self.log.directory}: the log's batches changed without a write")

    def _read_snapshot(self, sid) -> list:
        reader = self.log.read_snapshot(sid)
        if reader is None:
            raise AssertionError(f"{self.log.directory}: snapshot {sid} is listed but cannot be read")
        return [DiskStorage.batch_key(b) for b in snapshot_state(reader)]

    @property
    def end_offset(self) -> int:
        return self.batches[-1].last_offset + 1 if self.batches else self.start_offset

    def snapshot_ids(self) -> list:
        return list(self.snapshots)

    def earliest_snapshot_id(self):
        return min(self.snapshots) if self.snapshots else None

    def snapshot_matches(self, sid, invariants, k: int) -> bool:
        return self.snapshots[sid] == [invariants.key(i) for i in range(k)]


class DiskStorage:
    """Every node's log is a ``FileReplicatedLog`` in ``<directory>/node-<id>``."""

    relaxed_log_start = True
    encode_batch = staticmethod(encode_leader_batch)

    def __init__(self, cluster, directory: os.PathLike):
        self.cluster = cluster
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.configs: dict[int, LogConfig] = {}
        self.views: dict[int, DiskView] = {}
        self.stores: dict[int, ElectionStore] = {}

    def _dir(self, node_id: int) -> Path:
        return self.directory / f"node-{node_id}"

    def create(self, sim) -> None:
        options, rng = self.cluster.options, self.cluster.rng
        self.configs[sim.node_id] = LogConfig(
            segment_bytes=_draw(rng, options.segment_bytes), index_interval_bytes=_draw(rng, (64, 1024)),
            retention_max_bytes=_draw(rng, options.retention_bytes), retention_ms=_draw(rng, options.retention_ms),
            file_delete_delay_ms=_draw(rng, (0, 1000)))
        self.views[sim.node_id] = DiskView()
        # kraft.version 1 (data_version 1) keeps the voted directory id; static voters use version 0
        voters = frozenset(self.cluster.voter_set.ids)
        self.stores[sim.node_id] = ElectionStore(QuorumStateStore(self._dir(sim.node_id) / QUORUM_STATE_FILE),
                                                 voters, 1 if options.voter_directory_ids else 0)

    def open(self, sim) -> None:
        view = self.views[sim.node_id]
        survived = None if view.fresh else (view.start_offset, view.batches)
        sim.log = SimFileLog.open(self._dir(sim.node_id), self.configs[sim.node_id], lambda: self.cluster.now)
        sim.downloads = SnapshotDownloads()
        view.attach(sim.log)
        if survived is not None and self.cluster.check_invariants:
            self._check_recovered(sim.node_id, view, *survived)

    def _check_recovered(self, node_id: int, view: DiskView, old_start: int, old: list) -> None:
        """Reopening keeps every batch that survived the crash, and invents none; unless the log
        was behind its latest snapshot and restarted empty at it."""
        latest = view.log.latest_snapshot_id()
        if not view.batches and latest is not None and view.start_offset == latest.offset:
            return
        fail = self.cluster.invariants.fail
        if view.start_offset > old_start:
            fail(f"node {node_id} log started at {old_start} before its crash, at {view.start_offset} after")
        reopened = {b.base_offset: b.data for b in view.batches}
        for b in old:
            if b.base_offset >= view.start_offset and reopened.get(b.base_offset) != b.data:
                fail(f"node {node_id} batch {b.base_offset} survived the crash but not the reopening")
        end = old[-1].last_offset + 1 if old else old_start
        if view.end_offset > end:
            fail(f"node {node_id} log ended at {end} after its crash but at {view.end_offset} reopened")

    def stored_election(self, sim):
        return self.stores[sim.node_id].read_election_state()

    def store(self, sim):
        return self.stores[sim.node_id]

    def client(self, node, sim) -> RaftClient:
        clock = lambda: self.cluster.now  # noqa: E731
        return RaftClient(node, read_committed_batches,
                          snapshot_writer=lambda raw, last_ms: RecordsSnapshotWriter(raw, last_ms, clock),
                          snapshot_reader=LoadedSnapshot)

    def crash(self, sim) -> None:
        log: SimFileLog = sim.log
        cut = None
        if self.cluster.rng.random() < self.cluster.options.power_loss:
            active = log.segments[-1]
            durable = log.durable_position()
            cut = (active, durable + self.cluster.rng.randrange(active.size - durable + 1))
        for writer in sim.downloads.take_all():  # a download in progress: its .part file stays
            if writer._fd >= 0:
                os.close(writer._fd)
                writer._fd = -1
        view = self.views[sim.node_id]
        view.verify()
        log.crash()
        survived = None
        if cut is not None:
            active, position = cut
            with open(active.path, "r+b") as f:
                f.truncate(position)
                survived = active.base_offset
                if position:
                    f.seek(0)
                    headers, _ = scan_batches(f.read(position))
                    if headers:
                        survived = headers[-1].last_offset + 1
        view.detach(survived)

    def wipe(self, sim) -> None:
        shutil.rmtree(self._dir(sim.node_id), ignore_errors=True)
        self.views[sim.node_id].wipe()

    def view(self, sim) -> DiskView:
        view = self.views[sim.node_id]
        view.refresh()
        return view

    def write_snapshot(self, writer, batches: list) -> None:
        for i in range(0, len(batches), 16):
            writer.append([encode_state_entry(b) for b in batches[i:i + 16]])
        writer.freeze()

    @staticmethod
    def snapshot_batches(snapshot: LoadedSnapshot) -> list:
        return snapshot.batches

    @staticmethod
    def data_key(data: bytes):
        (batch,) = decode_record_batches(data, check_crc=True)
        values = () if batch.is_control else tuple(b"" if v is None else bytes(v) for v in batch.values())
        return batch.base_offset, batch.last_offset, batch.partition_leader_epoch, batch.max_timestamp, values

    @staticmethod
    def batch_key(batch):
        """What the state machine sees of a batch (a control batch read from disk carries no
        LeaderChange, one handed over by the leader does: only the records are compared)."""
        return (batch.base_offset, batch.last_offset, batch.epoch, batch.append_time_ms,
                tuple(bytes(r) for r in batch.records))

    @staticmethod
    def on_the_wire(message):
        """A real driver encodes a response as soon as it is applied: later changes to the log
        (truncation, deletion) cannot reach bytes in flight.  Copy what views the log's files."""
        for name in ("records", "unaligned_records"):
            value = getattr(message, name, None)
            if isinstance(value, memoryview):
                message = dataclasses.replace(message, **{name: bytes(value)})
        return message

    def close(self) -> None:
        """Close every node's log (a clean shutdown of the nodes still up)."""
        for sim in self.cluster.nodes.values():
            log = sim.log
            if log is None:
                continue
            sim.downloads.close_all()
            if not log._closed:
                log.close()
