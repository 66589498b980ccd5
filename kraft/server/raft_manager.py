"""``RaftManager``: one node of a replicated log, embedded in an asyncio application.

Kafka's ``RaftManager`` builds a node from its configuration: the log
directory and ``meta.properties``, the log, the listeners and peer
connections, the Raft client and the thread that drives it.  This one does the
same on the running event loop::

    import kraft

    async def main():
        async with kraft.RaftManager({
            "node.id": "1",
            "listeners": "CONTROLLER://127.0.0.1:9093",
            "controller.listener.names": "CONTROLLER",
            "controller.quorum.voters": "1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095",
            "log.dirs": "/var/lib/myapp/raft-1",
        }, identity=kraft.PartitionIdentity(cluster_id=..., topic="__myapp")) as node:
            node.run_state_machine(machine)       # apply(record), snapshot() -> bytes, restore(bytes)
            await node.wait_for_leader()
            try:
                offset = await node.append([b"record"])   # returns once committed
            except kraft.NotLeaderError as e:
                forward_to(e.leader_endpoint)             # (host, port) of the leader, if known

The keys are Kafka's (``kraft.server.config`` lists them); a mapping, a
``ServerConfig`` or the path of a properties file is accepted (a mapping or
file that does not set ``controller.quorum.append.linger.ms`` gets
:data:`EMBEDDED_APPEND_LINGER_MS`).  Every node of a quorum must use the same
``cluster_id`` and partition (by default Kafka's test server identity,
``__raft_performance_test``-0 in cluster ``AAAAAAAAAAAAAAAAAAAAAA``, so Kafka's
own test servers can join).

Listener callbacks (and a state machine, :mod:`kraft.server.state_machine`)
run on the event loop, between the driver's rounds, with Kafka's guarantees
(see :mod:`kraft.client`).  :meth:`RaftManager.append` queues records on the
leader and waits until they are committed; it raises
:class:`~kraft.core.errors.NotLeaderError` (with the leader's id and address)
when this node does not lead, and :class:`AppendLostError` when leadership
moved on before the records were committed and the log does not have them:
at once for records a resigning leader had not written yet, or that a
truncation removed.  Reads: :meth:`RaftManager.wait_for_committed` (read your
writes, any node) and :meth:`RaftManager.read_barrier` (linearizable, the
leader).  :meth:`RaftManager.close` waits at most ``shutdown_timeout`` for
another leader, as Kafka's graceful shutdown does.
"""
from __future__ import annotations

import asyncio
import logging
import os
import random
import tempfile
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence, Union

from kraft.client import RaftClient, RaftListener
from kraft.core.config import APPEND_LINGER_MS
from kraft.core.errors import NotLeaderError, RaftError
from kraft.core.log import OffsetAndEpoch
from kraft.core.roles import LEADER
from kraft.core.types import LeaderAndEpoch
from kraft.errors import KraftError
from kraft.net.errors import BindError
from kraft.protocol.uuid import Uuid
from kraft.server.config import ServerConfig
from kraft.server.driver import SHUTDOWN_TIMEOUT_MS, ElectionStore, RaftDriver, build_client
from kraft.server.identity import CLUSTER_ID, PARTITION, TOPIC_ID, TOPIC_NAME
from kraft.server import properties
from kraft.server.network import NodeNetwork
from kraft.storage.errors import StorageError
from kraft.storage.fileutil import atomic_write
from kraft.storage.log_dir import LogDirectory, MetaProperties
from kraft.storage.quorum_state import QuorumStateStore
from kraft.storage.replicated_log import FileReplicatedLog, LogConfig

__all__ = ["AppendLostError", "NotLeaderError", "PartitionIdentity", "RaftManager", "StartupError"]

log = logging.getLogger("kraft.server")


class StartupError(KraftError):
    """A problem that stops the node from starting; its message is one line for the user."""


class AppendLostError(RaftError):
    """Records were appended by a leader that lost its leadership before they were committed,
    and the log that was committed instead does not hold them.  Appending again is safe."""


@dataclass(frozen=True)
class PartitionIdentity:
    """What every node of one quorum must agree on: cluster id and the replicated partition."""

    cluster_id: str = CLUSTER_ID
    topic: str = TOPIC_NAME
    topic_id: Uuid = TOPIC_ID
    partition: int = PARTITION


TEST_SERVER_IDENTITY = PartitionIdentity()


# ------------------------------------------------------------- the pieces, in order
def check_log_dir(path: str) -> None:
    """Create the log directory if needed and make sure we can write in it."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise StartupError(f"log directory {path} is not usable: {e.strerror or e}") from e


def prepare_log_dir(config: ServerConfig, directory_id: Optional[Uuid],
                    identity: PartitionIdentity = TEST_SERVER_IDENTITY) -> tuple[LogDirectory, MetaProperties]:
    """Lock the log directory and read or create ``meta.properties``.

    Without ``directory_id`` the one in ``meta.properties`` is used, or a new
    random one is generated and stored there, so restarts keep their identity.
    The caller unlocks the directory when the node stops.
    """
    check_log_dir(config.metadata_log_dir)
    log_dir = LogDirectory(config.metadata_log_dir, identity.topic, identity.partition)
    try:
        log_dir.lock()
    except (StorageError, OSError) as e:
        raise StartupError(f"cannot lock the log directory: {e}") from e
    try:
        meta = log_dir.ensure_meta_properties(config.node_id, identity.cluster_id, directory_id)
    except (StorageError, OSError) as e:
        log_dir.unlock()
        raise StartupError(f"cannot use the log directory: {e}") from e
    return log_dir, meta


def write_partition_metadata(log_dir: LogDirectory, topic_id: Uuid = TOPIC_ID) -> None:
    """Kafka's ``partition.metadata`` (the topic id), written once."""
    path = log_dir.partition_dir / "partition.metadata"
    if not path.exists():
        atomic_write(path, f"version: 0\ntopic_id: {topic_id}".encode("utf-8"))


def open_log(config: ServerConfig, log_dir: LogDirectory, topic_id: Uuid = TOPIC_ID) -> FileReplicatedLog:
    """The partition's log, with the segment and retention settings of ``config``."""
    try:
        write_partition_metadata(log_dir, topic_id)
        return FileReplicatedLog.open(log_dir.partition_dir, LogConfig(
            segment_bytes=config.metadata_log_segment_bytes, segment_ms=config.metadata_log_segment_ms,
            # the leader's batches come from its own accumulator: no need to re-check their CRC
            verify_leader_crc=False, retention_max_bytes=config.metadata_max_retention_bytes,
            retention_ms=config.metadata_max_retention_ms))
    except (KraftError, OSError) as e:
        raise StartupError(f"cannot open the log in {log_dir.partition_dir}: {e}") from e


async def start_network(config: ServerConfig) -> NodeNetwork:
    """Bind the listeners (``StartupError`` when a port is in use)."""
    network = NodeNetwork(config)
    try:
        await network.start()
    except BindError as e:
        raise StartupError(str(e)) from e
    return network


#: The append linger of an embedded node whose configuration does not set
#: ``controller.quorum.append.linger.ms``.  Kafka's 25 ms suits its controller, which writes in
#: bursts; an application that awaits each append would wait those 25 ms every time.
EMBEDDED_APPEND_LINGER_MS = 2


def load_config(config: Union[ServerConfig, Mapping[str, str], str, os.PathLike]) -> ServerConfig:
    """The node's configuration.  A mapping or a properties file that does not set
    ``controller.quorum.append.linger.ms`` gets :data:`EMBEDDED_APPEND_LINGER_MS`; a
    ``ServerConfig`` is used as it is (Kafka's default linger is 25 ms)."""
    if isinstance(config, ServerConfig):
        return config
    try:
        props = dict(config) if isinstance(config, Mapping) else properties.load(config)
        props.setdefault(APPEND_LINGER_MS, str(EMBEDDED_APPEND_LINGER_MS))
        return ServerConfig.from_properties(props)
    except OSError as e:
        raise StartupError(f"cannot read configuration file {config}: {e.strerror or e}") from e
    except KraftError as e:
        raise StartupError(f"invalid configuration: {e}") from e


# ------------------------------------------------------------------- the manager
class RaftManager:
    """One node of a KRaft quorum, run on the current asyncio event loop."""

    def __init__(self, config: Union[ServerConfig, Mapping[str, str], str, os.PathLike], *,
                 identity: PartitionIdentity = TEST_SERVER_IDENTITY, directory_id: Optional[Uuid] = None,
                 rng: Optional[random.Random] = None, shutdown_timeout: float = SHUTDOWN_TIMEOUT_MS / 1000):
        """``shutdown_timeout``: how long :meth:`close` may wait, in seconds (see there)."""
        if shutdown_timeout < 0:
            raise ValueError(f"shutdown_timeout must not be negative, got {shutdown_timeout}")
        self.config = load_config(config)
        self.shutdown_timeout = shutdown_timeout
        self.identity = identity
        self._directory_id = directory_id
        self._rng = rng if rng is not None else random.Random()
        self._listeners: list[RaftListener] = []
        self._network: Optional[NodeNetwork] = None
        self._log_dir: Optional[LogDirectory] = None
        self._log: Optional[FileReplicatedLog] = None
        self._driver: Optional[RaftDriver] = None
        self._task: Optional[asyncio.Task] = None
        self.client: Optional[RaftClient] = None
        self.meta: Optional[MetaProperties] = None
        # appended but not yet known committed: (last offset, epoch, future)
        self._waiting: list[tuple[int, int, asyncio.Future]] = []
        self._leader_waiters: list[asyncio.Future] = []
        # wait_for_committed: (offset, future), resolved once listeners were handed past offset
        self._commit_waiters: list[tuple[int, asyncio.Future]] = []
        # read barriers asked of the core: (id, future for the high watermark it reports)
        self._barriers: list[tuple[int, asyncio.Future]] = []

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Bind the listeners, take the log directory, open the log and start the node."""
        if self._task is not None:
            raise RuntimeError("the node is already started")
        # The log directory before the ports, as Kafka checks its log directories before binding.
        self._log_dir, self.meta = prepare_log_dir(self.config, self._directory_id, self.identity)
        try:
            self._log = open_log(self.config, self._log_dir, self.identity.topic_id)
            store = ElectionStore(QuorumStateStore(self._log_dir.partition_dir / "quorum-state"),
                                  frozenset(self.config.quorum.voters))
            try:
                self.client = build_client(
                    self.config, self.meta.directory_id, self._log, store, self._rng,
                    cluster_id=self.identity.cluster_id, topic=self.identity.topic,
                    topic_id=self.identity.topic_id, partition=self.identity.partition)
            except KraftError as e:
                raise StartupError(str(e)) from e
            self._network = await start_network(self.config)
        except BaseException:
            self._close_storage()
            raise
        for listener in self._listeners:
            self.client.register(listener)
        self._driver = RaftDriver(self._network, self.client, self._log, store)
        self._driver.after_round = self._after_round
        try:
            self._driver.begin()  # the node's first step: its election state written (quorum-state)
        except (OSError, KraftError) as e:
            where = self._log_dir.partition_dir
            self._close_storage()
            await self._network.close()
            detail = e.strerror if isinstance(e, OSError) and e.strerror else e
            raise StartupError(f"cannot start the node: writing to {where} failed: {detail}") from e
        self._driver.shutdown_timeout_ms = int(self.shutdown_timeout * 1000)
        self._task = asyncio.get_running_loop().create_task(self._driver.run())
        self._task.add_done_callback(self._on_driver_done)
        await asyncio.sleep(0)  # the driver starts the node in its first step, before it first waits
        if self._task.done():
            await self.close()

    def request_stop(self) -> None:
        """Begin a graceful shutdown without waiting for it (a signal handler's call)."""
        self._check_started()
        self._driver.request_stop()

    async def wait_stopped(self) -> None:
        """Wait until the node has shut down (after :meth:`request_stop`, or a fatal error, raised here)."""
        self._check_started()
        await asyncio.shield(self._task)

    def wakeup(self) -> None:
        """Make the node poll now: after appending through :attr:`client` directly, say."""
        if self._driver is not None:
            self._driver.wakeup()

    @property
    def bound(self) -> dict[str, tuple[str, int]]:
        """The listeners' bound addresses by name (ports chosen by the system included)."""
        return self._network.bound if self._network is not None else {}

    async def close(self, timeout: Optional[float] = None) -> None:
        """Shut down gracefully, then release the log and the ports.

        A leader resigns first (EndQuorumEpoch) and stays, answering fetches and
        votes, until another node leads; a voter that knows no leader stays until
        one is elected, since the others may need its vote to elect one (the
        remaining two of a three-node quorum with a node down, say).  This is
        Kafka's graceful shutdown: it waits at most ``timeout`` seconds (by
        default the ``shutdown_timeout`` given to the constructor, 5 s as in
        Kafka), so a follower whose leader and peers are gone takes that long to
        close.  ``timeout=0`` stops at once, without resigning: the others
        elect a new leader after their fetch timeout.
        """
        if self._task is None:
            return
        timeout = self.shutdown_timeout if timeout is None else timeout
        if timeout < 0:
            raise ValueError(f"timeout must not be negative, got {timeout}")
        self._driver.shutdown_timeout_ms = int(timeout * 1000)
        self._driver.request_stop()
        try:
            await self._task
        finally:
            self._close_storage()
            await self._network.close()

    async def __aenter__(self) -> "RaftManager":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def _close_storage(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._log_dir is not None:
            self._log_dir.unlock()
            self._log_dir = None

    def _on_driver_done(self, task: asyncio.Task) -> None:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            log.error("The raft node stopped: %s", error)
        failure = error if error is not None else RaftError("the raft node was shut down")
        for _, _, future in self._waiting:
            if not future.done():
                future.set_exception(failure)
        self._waiting.clear()
        for future in [f for _, f in self._commit_waiters] + [f for _, f in self._barriers]:
            if not future.done():
                future.set_exception(failure)
        self._commit_waiters.clear()
        self._barriers.clear()
        for future in self._leader_waiters:
            if not future.done():
                future.set_exception(failure)
        self._leader_waiters.clear()

    # ---------------------------------------------------------------- state
    def register(self, listener: RaftListener) -> None:
        """Register a listener (before or after :meth:`start`); it is served from the next round."""
        if self.client is None:
            self._listeners.append(listener)
        else:
            self.client.register(listener)
            self._driver.wakeup()

    def run_state_machine(self, machine, *, max_bytes_between_snapshots: Optional[int] = None,
                          snapshot_interval_ms: Optional[int] = None):
        """Drive ``machine`` (``apply(record)``, ``snapshot() -> bytes``, ``restore(bytes)``) from the
        committed log and snapshot it automatically; the :class:`~kraft.server.state_machine.
        StateMachineRunner`.  The limits default to ``metadata.log.max.record.bytes.between.snapshots``
        and ``metadata.log.max.snapshot.interval.ms`` (20 MiB, 1 h).  On start the latest snapshot
        is restored, then the records after it applied.  See :mod:`kraft.server.state_machine`."""
        from kraft.server.driver import wall_clock_ms
        from kraft.server.state_machine import StateMachineRunner
        runner = StateMachineRunner(
            self, machine,
            max_bytes_between_snapshots=(self.config.metadata_log_max_record_bytes_between_snapshots
                                         if max_bytes_between_snapshots is None else max_bytes_between_snapshots),
            snapshot_interval_ms=(self.config.metadata_log_max_snapshot_interval_ms
                                  if snapshot_interval_ms is None else snapshot_interval_ms),
            clock=wall_clock_ms)
        self.register(runner)
        return runner

    @property
    def node_id(self) -> int:
        return self.config.node_id

    def leader_and_epoch(self) -> LeaderAndEpoch:
        self._check_started()
        return self.client.leader_and_epoch()

    @property
    def is_leader(self) -> bool:
        """Whether this node leads and accepts appends (not once it has begun to resign)."""
        if self.client is None:
            return False
        role = self.client.node.role
        return role.name == LEADER and not role.resign_requested

    @property
    def high_watermark(self) -> Optional[int]:
        self._check_started()
        return self.client.node.high_watermark

    async def wait_for_leader(self, timeout: Optional[float] = None) -> LeaderAndEpoch:
        """Wait until some node is known to lead; its id and epoch."""
        self._check_started()
        current = self.client.leader_and_epoch()
        if current.leader_id is not None:
            return current
        future = asyncio.get_running_loop().create_future()
        self._leader_waiters.append(future)
        return await asyncio.wait_for(future, timeout)

    # ---------------------------------------------------------------- reads
    def delivered_offset(self) -> Optional[int]:
        """The committed offset below which every registered listener has been handed all
        batches (the high watermark when none is registered); ``None`` until known."""
        self._check_started()
        return self.client.delivered_offset()

    async def wait_for_committed(self, offset: int, timeout: Optional[float] = None) -> int:
        """Wait until the record at ``offset`` is committed as this node knows it and every
        registered listener has been handed it (any node); returns ``offset``.

        After ``offset = await leader.append(...)`` on the leader, another node (a follower
        serving reads, say) calls this to read its own writes: once it returns, a state machine
        fed by the listeners includes those records.  ``offset`` -1 returns at once.
        """
        self._check_started()
        delivered = self.client.delivered_offset()
        if offset < 0 or (delivered is not None and offset < delivered):
            return offset
        future = asyncio.get_running_loop().create_future()
        self._commit_waiters.append((offset, future))
        self._driver.wakeup()
        return await asyncio.wait_for(future, timeout)

    async def read_barrier(self, timeout: Optional[float] = None) -> int:
        """A linearizable read point, on the leader: the last committed offset, once confirmed.

        The leader confirms that it still leads with a round of fetches from a majority of the
        voters received after this call (it answers the fetches it holds at once, so this takes
        about a round trip), takes its high watermark then, and waits until the listeners have
        been handed everything below it.  When this returns, the state the listeners built
        reflects every write acknowledged anywhere before the call: reading it is linearizable.
        ``NotLeaderError`` (with the leader's address) on a node that does not lead, or that
        loses the leadership before the confirmation.
        """
        self._check_started()
        if not self.is_leader:
            raise self.not_leader_error()
        try:
            barrier_id = self.client.request_read_barrier()
        except NotLeaderError as e:
            raise self.not_leader_error() from e
        future = asyncio.get_running_loop().create_future()
        self._barriers.append((barrier_id, future))
        self._driver.wakeup()

        async def confirmed() -> int:
            offset = await future - 1
            await self.wait_for_committed(offset)
            return offset
        return await asyncio.wait_for(confirmed(), timeout)

    # --------------------------------------------------------------- writes
    async def append(self, records: Sequence[bytes], *, atomic: bool = False) -> int:
        """Append ``records`` as the leader and wait until they are committed; their last offset.

        ``NotLeaderError`` (with the leader's id and address) when this node is not the leader;
        ``AppendLostError`` when it lost the leadership before the records were committed and
        the log does not hold them: nothing was applied, append again.  The outcome comes as
        soon as it is known: records a resigning or deposed leader had not yet written fail at
        once, records a truncation removed fail then, and records already in the log wait for
        the next leader's first commit, which keeps or drops them (while no quorum can elect a
        leader that wait has no bound: use ``asyncio.wait_for`` to give up, the outcome then
        being unknown).  With ``atomic`` the records share one batch.
        """
        epoch, offset = self.schedule_append(records, atomic=atomic)
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((offset, epoch, future))
        return await future

    def schedule_append(self, records: Sequence[bytes], *, atomic: bool = False) -> tuple[int, int]:
        """Queue ``records`` on the leader without waiting: (epoch, last offset)."""
        self._check_started()
        role = self.client.node.role
        if role.name != LEADER or role.resign_requested:
            raise self.not_leader_error()
        try:
            if atomic:
                offset = self.client.schedule_atomic_append(role.epoch, records)
            else:
                offset = self.client.schedule_append(role.epoch, records)
        except NotLeaderError as e:
            raise self.not_leader_error() from e
        self._driver.wakeup()
        return role.epoch, offset

    def leader_endpoint(self) -> Optional[tuple[str, int]]:
        """The current leader's ``(host, port)`` on the controller listener, when known."""
        self._check_started()
        node = self.client.node
        leader_id = node.leader_id()
        if leader_id is None:
            return None
        listener = self.config.controller_listener_name
        address = node.leader_endpoints().address(listener) or node.voters.endpoints(leader_id).address(listener)
        return None if address is None else (address.host, address.port)

    def not_leader_error(self) -> NotLeaderError:
        """The ``NotLeaderError`` this node raises now: the leader it knows, its epoch and address."""
        current = self.client.leader_and_epoch()
        leader_id = None if current.leader_id == self.node_id else current.leader_id
        endpoint = self.leader_endpoint() if leader_id is not None else None
        where = f"the leader is {leader_id} at {endpoint[0]}:{endpoint[1]}" if endpoint else (
            f"the leader is {leader_id}" if leader_id is not None else "no leader is known")
        return NotLeaderError(f"node {self.node_id} is not the leader ({where}, epoch {current.epoch})",
                              leader_id=leader_id, epoch=current.epoch, leader_endpoint=endpoint)

    def create_snapshot(self, committed_offset_and_epoch: OffsetAndEpoch, last_contained_log_time_ms: int):
        """A writer for a snapshot of the application's state (see :meth:`RaftClient.create_snapshot`)."""
        self._check_started()
        return self.client.create_snapshot(committed_offset_and_epoch, last_contained_log_time_ms)

    def metrics(self) -> dict:
        """Kafka's raft metrics of this node by name, a plain mapping (see :mod:`kraft.server.metrics`)."""
        self._check_started()
        return self._driver.metrics.snapshot()

    # ----------------------------------------------------------- internals
    def _check_started(self) -> None:
        if self.client is None:
            raise RuntimeError("the node is not started")

    def _after_round(self) -> None:
        if self._leader_waiters and self.client.leader_and_epoch().leader_id is not None:
            current = self.client.leader_and_epoch()
            for future in self._leader_waiters:
                if not future.done():
                    future.set_result(current)
            self._leader_waiters.clear()
        if self._waiting:
            self._settle_appends()
        if self._barriers:
            self._settle_barriers()
        if self._commit_waiters:
            delivered = self.client.delivered_offset()
            still = []
            for offset, future in self._commit_waiters:
                if future.done():
                    continue
                if delivered is not None and offset < delivered:
                    future.set_result(offset)
                else:
                    still.append((offset, future))
            self._commit_waiters = still

    def _settle_barriers(self) -> None:
        still = []
        for barrier_id, future in self._barriers:
            try:
                done, hw = self.client.read_barrier_result(barrier_id)
            except NotLeaderError:
                if not future.done():
                    future.set_exception(self.not_leader_error())
                continue
            if not done:
                still.append((barrier_id, future))  # even if abandoned: the core keeps it until then
            elif not future.done():
                future.set_result(hw)
        self._barriers = still

    def _settle_appends(self) -> None:
        """Resolve the pending appends that can be decided now.

        An append is decided once the committed offset passes it (its records are
        there iff the log's epoch at that offset is the append's epoch), or, once
        this node no longer leads the append's epoch, as soon as the log does not
        hold the records: they were still in the leader's accumulator when it
        stepped down (dropped, never sent), or a truncation removed them.  Records
        that did reach the log of a node that stepped down wait for the next
        leader's first commit, which either includes them or truncates them.
        """
        role = self.client.node.role
        leading = role.epoch if role.name == LEADER else None
        hw = self.client.node.high_watermark
        committed = min(hw, self._log.high_watermark) if hw is not None else None
        still = []
        for offset, epoch, future in self._waiting:
            if future.done():
                continue
            if committed is None or offset >= committed:
                if epoch != leading and offset >= self._log.start_offset and not self._log_holds(offset, epoch):
                    future.set_exception(AppendLostError(
                        f"the records appended at offset {offset} in epoch {epoch} were dropped: this node "
                        f"stopped leading epoch {epoch} before they were written or kept (leader now "
                        f"{self.client.leader_and_epoch().leader_id}, epoch {role.epoch}); append them again"))
                else:
                    still.append((offset, epoch, future))
                continue
            # Committed at this offset: our records iff the log's epoch there is the append's epoch.
            if offset < self._log.start_offset:
                future.set_exception(AppendLostError(
                    f"offset {offset} was committed and then compacted into a snapshot before this "
                    f"node could check it held the records of epoch {epoch}; append again if unsure"))
                continue
            if self._log_holds(offset, epoch):
                future.set_result(offset)
            else:
                future.set_exception(AppendLostError(
                    f"the records appended at offset {offset} in epoch {epoch} were not committed "
                    f"(leadership moved on); append them again"))
        self._waiting = still

    def _log_holds(self, offset: int, epoch: int) -> bool:
        """Whether the log holds a record of ``epoch`` at ``offset``."""
        end = self._log.end_offset_for_epoch(epoch)
        return end.epoch == epoch and end.offset > offset
