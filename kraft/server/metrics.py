"""Kafka's raft metrics for a kraft node, and their Prometheus/OpenMetrics endpoint.

:class:`RaftMetrics` keeps the figures of Kafka's ``KafkaRaftMetrics``
(JMX ``kafka.server:type=raft-metrics``), with Kafka's names and meanings,
plus the snapshot figures Kafka's controller exposes next to them
(``kafka.server:type=SnapshotEmitter``).  The Raft core stays pure: the
driver feeds this object what it already sees — the core's state after
every round, the effects it applies, and when its loop waits — and the
values are computed here:

=============================== ===============================================================
``current-state``               leader, prospective, prospective-voted, candidate, unattached-voted,
                                follower, observer, unattached (Kafka 4.x names, from
                                ``kraft.core.roles.current_state_name``; 3.9 says ``voted``)
``current-leader``              the leader's id, -1 when unknown
``current-vote``                the id voted for (a leader or candidate: itself), -1 if none
``current-vote-directory-id``   that vote's directory id (``AAAAAAAAAAAAAAAAAAAAAA`` if none)
``current-epoch``               the epoch
``high-watermark``              -1 when unknown
``log-end-offset``, ``log-end-epoch``
``number-unknown-voter-connections`` the other voters with no endpoint on this node's controller
                                listener, so no connection can be made to them (0 with static
                                voters, all of which have an address: Kafka reports 0 always)
``commit-latency-avg``/``-max`` ms from a leader batch's append to its commit, per record, as
                                Kafka records it (2 samples of 30 s; NaN with none)
``election-latency-avg``/``-max`` ms from becoming a candidate to becoming leader or follower
``fetch-records-rate``          records appended from the leader per second
``append-records-rate``         records appended as leader per second
``poll-idle-ratio-avg``         the share of time the driver's loop waited, since the last read
``number-of-voters``            voters of the partition
``number-of-observers``         observers the leader tracks (leader only, as in Kafka)
``uncommitted-voter-change``    1 while a voter change is uncommitted (leader only; always 0:
                                kraft changes no voters at run time)
``latest-snapshot-generated-bytes`` size of the latest snapshot (0 with none)
``latest-snapshot-generated-age-ms`` ms since it was written (since start with none)
=============================== ===============================================================

:func:`prometheus_name` turns them into the names the common Kafka JMX
exporter rules give (``kafka_server_raft_metrics_current_epoch``,
``kafka_server_snapshotemitter_latestsnapshotgeneratedbytes``); the string
values become labels (``kafka_server_raft_metrics_current_state{state="leader"} 1``).
:class:`MetricsServer` serves them with ``prometheus_client`` (the
``metrics`` extra) on ``kraft.metrics.port``.
"""
from __future__ import annotations

import math
import os
import struct
import threading
import time
from collections import deque
from typing import Dict, Optional

from kraft.core.effects import AppendAsFollower, AppendAsLeader, UpdateHighWatermark
from kraft.core.roles import CANDIDATE, FOLLOWER, LEADER, PROSPECTIVE, current_state_name
from kraft.protocol.uuid import Uuid

#: Kafka's MetricConfig defaults: two samples of 30 s.
SAMPLES = 2
WINDOW_MS = 30_000

RAFT_GROUP = "raft-metrics"
SNAPSHOT_GROUP = "SnapshotEmitter"
SNAPSHOT_METRICS = {"latest-snapshot-generated-bytes": "LatestSnapshotGeneratedBytes",
                    "latest-snapshot-generated-age-ms": "LatestSnapshotGeneratedAgeMs"}

#: Kafka's descriptions, for the HELP lines.
DESCRIPTIONS = {
    # Kafka 4.3's text word for word (it still lists 3.9's values; the values themselves are 4.x's)
    "current-state": "The current state of this member; possible values are leader, candidate, voted, "
                     "follower, unattached, observer",
    "current-leader": "The current quorum leader's id; -1 indicates unknown",
    "current-vote": "The current voted id; -1 indicates not voted for anyone",
    "current-vote-directory-id": "The current voted directory id; AAAAAAAAAAAAAAAAAAAAAA indicates not voted "
                                 "for a directory id",
    "current-epoch": "The current quorum epoch.",
    "high-watermark": "The high watermark maintained on this member; -1 if it is unknown",
    "log-end-offset": "The current raft log end offset.",
    "log-end-epoch": "The current raft log end epoch.",
    "number-unknown-voter-connections": "Number of unknown voters whose connection information is not cached; "
                                        "would never be larger than quorum-size.",
    "commit-latency-avg": "The average time in milliseconds to commit an entry in the raft log.",
    "commit-latency-max": "The maximum time in milliseconds to commit an entry in the raft log.",
    "election-latency-avg": "The average time in milliseconds spent on electing a new leader.",
    "election-latency-max": "The maximum time in milliseconds spent on electing a new leader.",
    "fetch-records-rate": "The average number of records fetched from the leader of the raft quorum.",
    "append-records-rate": "The average number of records appended per sec as the leader of the raft quorum.",
    "poll-idle-ratio-avg": "The ratio of time the Raft IO thread is idle as opposed to doing work "
                           "(e.g. handling requests or replicating from the leader)",
    "number-of-voters": "Number of voters for a KRaft topic partition.",
    "number-of-observers": "Number of observers being tracked by the KRaft topic partition leader.",
    "uncommitted-voter-change": "1 if there is a voter change that has not been committed, 0 otherwise.",
    "latest-snapshot-generated-bytes": "The size in bytes of the latest snapshot on disk.",
    "latest-snapshot-generated-age-ms": "The age in milliseconds of the latest snapshot on disk.",
}

_BATCH_HEADER = struct.Struct(">qiibIhi")   # base offset, length, epoch, magic, crc, attributes, last offset delta


class SampledStat:
    """Kafka's ``SampledStat`` over ``SAMPLES`` windows of ``WINDOW_MS``: Avg, Max and WindowedSum."""

    def __init__(self):
        self._samples: deque = deque()   # [start_ms, total, count, max]

    def record(self, value: float, now_ms: int) -> None:
        if not self._samples or now_ms - self._samples[-1][0] >= WINDOW_MS:
            self._samples.append([now_ms, 0.0, 0, -math.inf])
            while len(self._samples) > SAMPLES:
                self._samples.popleft()
        sample = self._samples[-1]
        sample[1] += value
        sample[2] += 1
        sample[3] = max(sample[3], value)

    def _live(self, now_ms: int) -> list:
        return [s for s in self._samples if now_ms - s[0] < SAMPLES * WINDOW_MS]

    def avg(self, now_ms: int) -> float:
        live = self._live(now_ms)
        count = sum(s[2] for s in live)
        return sum(s[1] for s in live) / count if count else math.nan

    def max(self, now_ms: int) -> float:
        live = [s for s in self._live(now_ms) if s[2]]
        return max(s[3] for s in live) if live else math.nan

    def rate_per_second(self, now_ms: int) -> float:
        """Kafka's ``Rate(SECONDS, WindowedSum)``: at least SAMPLES-1 whole windows in the divisor."""
        live = self._live(now_ms)
        total = sum(s[1] for s in live)
        oldest = live[0][0] if live else now_ms
        elapsed = now_ms - oldest
        full = elapsed // WINDOW_MS
        if full < SAMPLES - 1:
            elapsed += (SAMPLES - 1 - full) * WINDOW_MS
        return total / (max(elapsed, 1) / 1000.0)


class TimeRatio:
    """Kafka's ``TimeRatio``: recorded durations over the time since the last measurement."""

    def __init__(self, default: float = 1.0):
        self.default = default
        self._start = -1
        self._last = -1
        self._total = 0.0

    def record(self, duration_ms: float, now_ms: int) -> None:
        if self._start < 0:
            self._start = now_ms
        else:
            self._total += duration_ms
            self._last = now_ms

    def measure(self) -> float:
        if self._last < 0:
            return self.default
        interval = max(self._last - self._start, 0)
        if interval == 0:
            ratio = self.default
        else:
            ratio = min(self._total / interval, 1.0)
        self._start = self._last
        self._total = 0.0
        return ratio


def count_records(buffer) -> int:
    """Records in a buffer of whole batches: the sum of each batch's last - first offset + 1."""
    view = memoryview(buffer).cast("B")
    position, total = 0, 0
    while len(view) - position >= _BATCH_HEADER.size:
        _, length, _, _, _, _, last_delta = _BATCH_HEADER.unpack_from(view, position)
        total += last_delta + 1
        position += length + 12
    return total


def unknown_voter_connections(voters, local_id: Optional[int], listener: Optional[str]) -> int:
    """Voters other than this node whose connection information is not known: no endpoint on ``listener``.

    Kafka's gauge says "Number of unknown voters whose connection information is not cached"; its
    client sets it to 0 once at start, for statically configured voters all have an address
    (KafkaRaftClient.java:544 in 3.9.2, :560 in 4.3.1).  A voter set read from the log (kraft.version
    1) can name a voter without an endpoint on our listener: that one is counted here.  A voter that
    is down still has a known address and is not counted, as in Kafka.
    """
    if listener is None:
        return 0
    return sum(1 for voter_id in voters.ids
               if voter_id != local_id and voters.endpoints(voter_id).address(listener) is None)


class RaftMetrics:
    """The raft metrics of one node, fed by its driver (see the module docstring)."""

    def __init__(self, clock=lambda: time.time_ns() // 1_000_000):
        self._clock = clock
        self._lock = threading.Lock()
        self._commit = SampledStat()
        self._election = SampledStat()
        self._fetched = SampledStat()
        self._appended = SampledStat()
        self._idle = TimeRatio(1.0)
        self._pending: deque = deque()   # (last offset, append time, record count) of leader batches
        self._election_start: Optional[int] = None
        self._role_key = None
        self._role = None
        self._voters = None
        self._poll_start: Optional[int] = None
        self._started_ms = clock()
        self._gauges: Dict[str, object] = {
            "current-state": "unattached", "current-leader": -1, "current-vote": -1,
            "current-vote-directory-id": str(Uuid.ZERO), "current-epoch": 0, "high-watermark": -1,
            "log-end-offset": 0, "log-end-epoch": 0, "number-unknown-voter-connections": 0,
            "number-of-voters": 0,
        }
        self._leader_gauges: Optional[Dict[str, int]] = None
        self._log = None

    # ------------------------------------------------------------------ fed by the driver
    def poll_start(self, now_ms: int) -> None:
        self._poll_start = now_ms

    def poll_end(self, now_ms: int) -> None:
        if self._poll_start is not None:
            with self._lock:
                self._idle.record(max(now_ms - self._poll_start, 0), now_ms)
            self._poll_start = None

    def on_effects(self, effects, now_ms: int) -> None:
        """The effects the driver is about to apply (appends, high watermark moves)."""
        with self._lock:
            for effect in effects:
                if isinstance(effect, AppendAsLeader):
                    batch = effect.batch
                    self._appended.record(batch.record_count, now_ms)
                    self._pending.append((batch.last_offset, batch.append_time_ms, batch.record_count))
                elif isinstance(effect, AppendAsFollower):
                    self._fetched.record(count_records(effect.records), now_ms)
                elif isinstance(effect, UpdateHighWatermark):
                    pending = self._pending
                    while pending and pending[0][0] < effect.offset:
                        _, appended_ms, count = pending.popleft()
                        self._commit.record(max(0, now_ms - appended_ms) / max(count, 1), appended_ms)

    def observe(self, node, now_ms: int, log=None) -> None:
        """Read the core's state after a round (called by the driver; cheap)."""
        role = node.role
        if role is None:
            return
        if log is not None:
            self._log = log
        role_key = (type(role), role.epoch)
        if role_key != self._role_key:
            self._on_role_change(role, now_ms)
            self._role_key = role_key
        gauges = self._gauges
        if role is not self._role:
            # roles are replaced on every transition (a vote too): recompute what follows from one
            self._role = role
            election = role.election() if hasattr(role, "election") else None
            voted = getattr(election, "voted_key", None) if election is not None else None
            if role.name in (LEADER, CANDIDATE):
                vote_id, vote_dir = node.node_id, node.local_key.directory_id
            elif voted is not None:
                vote_id, vote_dir = voted.id, voted.directory_id
            else:
                vote_id, vote_dir = -1, None
            gauges["current-state"] = current_state_name(role, node.is_voter)
            gauges["current-vote"] = vote_id
            gauges["current-vote-directory-id"] = str(vote_dir) if vote_dir is not None \
                else str(Uuid.ZERO)
            gauges["current-epoch"] = role.epoch
        voters = node.voters
        if voters is not self._voters:
            self._voters = voters
            gauges["number-of-voters"] = len(voters.ids)
            gauges["number-unknown-voter-connections"] = unknown_voter_connections(
                voters, node.node_id, getattr(node, "listener", None))
        leader = node.leader_id()
        end = node.end_offset
        hw = node.high_watermark
        gauges["current-leader"] = -1 if leader is None else leader
        gauges["high-watermark"] = -1 if hw is None else hw
        gauges["log-end-offset"] = end.offset
        gauges["log-end-epoch"] = end.epoch
        if role.name == LEADER:
            self._leader_gauges = {"number-of-observers": len(role.observers), "uncommitted-voter-change": 0}
        else:
            self._leader_gauges = None

    def _on_role_change(self, role, now_ms: int) -> None:
        with self._lock:
            if role.name in (PROSPECTIVE, CANDIDATE):  # Kafka 4.x starts the clock at either
                self._election_start = now_ms
            elif role.name in (LEADER, FOLLOWER) and self._election_start is not None:
                self._election.record(now_ms - self._election_start, now_ms)
                self._election_start = None
            if role.name != LEADER:
                self._pending.clear()

    # ------------------------------------------------------------------ read
    def snapshot(self, now_ms: Optional[int] = None) -> Dict[str, object]:
        """Every metric by Kafka's name: numbers, and strings for the state and the voted directory."""
        now = self._clock() if now_ms is None else now_ms
        values: Dict[str, object] = dict(self._gauges)
        with self._lock:
            values["commit-latency-avg"] = self._commit.avg(now)
            values["commit-latency-max"] = self._commit.max(now)
            values["election-latency-avg"] = self._election.avg(now)
            values["election-latency-max"] = self._election.max(now)
            values["fetch-records-rate"] = self._fetched.rate_per_second(now)
            values["append-records-rate"] = self._appended.rate_per_second(now)
            values["poll-idle-ratio-avg"] = self._idle.measure()
        if self._leader_gauges is not None:
            values.update(self._leader_gauges)
        values.update(self._snapshot_figures(now))
        return values

    def _snapshot_figures(self, now: int) -> Dict[str, int]:
        log = self._log
        snapshot_id = log.latest_snapshot_id() if log is not None else None
        if snapshot_id is not None:
            from kraft.storage.snapshots import snapshot_file_name

            try:
                stat = os.stat(os.path.join(log.directory, snapshot_file_name(snapshot_id)))
                return {"latest-snapshot-generated-bytes": stat.st_size,
                        "latest-snapshot-generated-age-ms": max(0, now - stat.st_mtime_ns // 1_000_000)}
            except (OSError, AttributeError):
                pass
        return {"latest-snapshot-generated-bytes": 0, "latest-snapshot-generated-age-ms": now - self._started_ms}


# ---------------------------------------------------------------------- Prometheus


def _sanitize(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)


def prometheus_name(name: str) -> str:
    """The name the common Kafka JMX exporter rules give to a metric of :class:`RaftMetrics`.

    ``kafka.server:type=raft-metrics`` attributes become
    ``kafka_server_raft_metrics_<attribute>`` (``-`` → ``_``); the Yammer
    gauges of ``kafka.server:type=SnapshotEmitter,name=X`` become
    ``kafka_server_snapshotemitter_<x>`` in lower case.
    """
    if name in SNAPSHOT_METRICS:
        return f"kafka_server_{SNAPSHOT_GROUP.lower()}_{SNAPSHOT_METRICS[name].lower()}"
    return f"kafka_server_{_sanitize(RAFT_GROUP)}_{_sanitize(name)}"


#: Metrics whose value is a string: exported as a label of a gauge of 1.
STRING_METRICS = {"current-state": "state", "current-vote-directory-id": "directory_id"}


def prometheus_samples(values: Dict[str, object], node_id: Optional[int] = None):
    """``(prometheus name, labels, value, help)`` for every metric of a :meth:`RaftMetrics.snapshot`."""
    base = {} if node_id is None else {"node_id": str(node_id)}
    for name, value in values.items():
        help_text = DESCRIPTIONS.get(name, name)
        if name in STRING_METRICS:
            yield prometheus_name(name), dict(base, **{STRING_METRICS[name]: str(value)}), 1.0, help_text
        else:
            yield prometheus_name(name), base, float(value), help_text


class MetricsServer:
    """A Prometheus/OpenMetrics endpoint (``/metrics``) for one node's :class:`RaftMetrics`.

    Needs ``prometheus_client`` (``pip install 'kraft[metrics]'``).  Scrapes
    run on prometheus_client's thread and read a consistent snapshot.
    """

    def __init__(self, metrics: RaftMetrics, port: int, host: str = "127.0.0.1", node_id: Optional[int] = None):
        try:
            from prometheus_client import start_http_server
            from prometheus_client.core import CollectorRegistry, GaugeMetricFamily
        except ImportError as exc:
            from kraft.errors import MissingDependencyError

            raise MissingDependencyError(
                "kraft.metrics.port needs prometheus_client: pip install 'kraft[metrics]'") from exc
        self.metrics = metrics

        class _Collector:
            def collect(self_inner):
                families = {}
                for name, labels, value, help_text in prometheus_samples(metrics.snapshot(), node_id):
                    family = families.get(name)
                    if family is None:
                        family = families[name] = GaugeMetricFamily(name, help_text, labels=sorted(labels))
                    family.add_metric([labels[k] for k in sorted(labels)], value)
                return list(families.values())

        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector())
        result = start_http_server(port, addr=host, registry=self.registry)
        self._server, self._thread = result if isinstance(result, tuple) else (None, None)
        self.host = host
        self.port = self._server.server_port if self._server is not None else port

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
