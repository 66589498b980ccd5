"""A KRaft node's configuration, read from Kafka's keys.

:meth:`ServerConfig.from_properties` takes the key/value mapping of a Kafka
``.properties`` file (see :mod:`kraft.server.properties`) and validates it as
a Kafka node with ``process.roles=controller`` would: ``node.id`` set,
``controller.listener.names`` naming listeners of ``listeners``, ``listeners``
holding only controller listeners, and voters (``controller.quorum.voters``)
or bootstrap servers to find the quorum through.  A node that is not one of
the voters is an observer: it replicates the log without voting.  The ``controller.quorum.*`` keys are parsed by
:class:`kraft.core.config.QuorumConfig`.  A bad value raises
:class:`kraft.errors.ConfigError` naming the key; an unknown key is ignored
with a warning.

Listeners are ``PLAINTEXT`` or ``SSL`` (``listener.security.protocol.map``); the
``ssl.*`` keys of an SSL listener (Kafka's, see :mod:`kraft.net.tls`) are checked
here, so a missing key file, a bad PEM or a wrong key password stops the node at
startup with one line naming the key.  The connections to voters use TLS when the
first controller listener is SSL, with that listener's settings, as Kafka's raft
client does.

Snapshots and retention use Kafka's keys and defaults:
``metadata.log.max.record.bytes.between.snapshots`` (20 MiB, minimum 1),
``metadata.log.max.snapshot.interval.ms`` (1 hour; 0 turns the time trigger
off), ``metadata.max.retention.bytes`` (100 MiB; -1 no limit),
``metadata.max.retention.ms`` (7 days; -1 no limit), and
``metadata.log.segment.bytes`` (1 GiB; at least
``metadata.log.segment.min.bytes``, 8 MiB by default, which may itself be set
as low as 12 for tests).

Two keys are kraft's own, for tests:

``kraft.test.rpc.v0.only`` (default ``false``)
    When ``true`` the node advertises and sends only version 0 of the KRaft
    APIs (Vote, BeginQuorumEpoch, EndQuorumEpoch, FetchSnapshot, and Fetch at
    its lowest version KRaft accepts, 13), as a node from before KIP-853 does.

``kraft.test.log.clean.interval.ms`` (default ``60000``, minimum 1)
    How often the retention limits are applied (Kafka's fixed 60 s), so tests
    can see old segments deleted in seconds.

Two more set the node's metrics endpoint (:mod:`kraft.server.metrics`):

``kraft.metrics.port`` (unset: no endpoint; 0: any free port)
    Serve Kafka's raft metrics for Prometheus at ``http://HOST:PORT/metrics``
    (needs ``pip install 'kraft[metrics]'``).

``kraft.metrics.host`` (default ``127.0.0.1``)
    The address the metrics endpoint listens on.
"""
from __future__ import annotations

import logging
import re
import socket
from dataclasses import dataclass
from typing import Callable, Mapping, Optional

from kraft.core import config as quorum_keys
from kraft.core.behaviour import KAFKA_3_9, REFERENCE_REVISION
from kraft.core.config import QuorumConfig
from kraft.errors import ConfigError
from kraft.net.client import CONNECTION_SETUP_TIMEOUT_MS
from kraft.net.framing import DEFAULT_MAX_FRAME_BYTES
from kraft.net.server import (
    DEFAULT_CONNECTIONS_MAX_IDLE_MS,
    DEFAULT_PARTIAL_REQUEST_TIMEOUT_MS,
    DEFAULT_QUEUED_MAX_REQUEST_BYTES,
    ListenerAddress,
)
from kraft.net import tls
from kraft.server import properties

log = logging.getLogger("kraft.server")

NODE_ID = "node.id"
PROCESS_ROLES = "process.roles"
LISTENERS = "listeners"
ADVERTISED_LISTENERS = "advertised.listeners"
CONTROLLER_LISTENER_NAMES = "controller.listener.names"
LISTENER_SECURITY_PROTOCOL_MAP = "listener.security.protocol.map"
LOG_DIR = "log.dir"
LOG_DIRS = "log.dirs"
METADATA_LOG_DIR = "metadata.log.dir"
METADATA_LOG_SEGMENT_BYTES = "metadata.log.segment.bytes"
METADATA_LOG_SEGMENT_MIN_BYTES = "metadata.log.segment.min.bytes"
METADATA_LOG_SEGMENT_MS = "metadata.log.segment.ms"
METADATA_MAX_RETENTION_BYTES = "metadata.max.retention.bytes"
METADATA_MAX_RETENTION_MS = "metadata.max.retention.ms"
CONNECTIONS_MAX_IDLE_MS = "connections.max.idle.ms"
SOCKET_REQUEST_MAX_BYTES = "socket.request.max.bytes"
SOCKET_CONNECTION_SETUP_TIMEOUT_MS = "socket.connection.setup.timeout.ms"
#: Kafka's key: bytes read and not yet handled, over all connections (<= 0: unbounded).
QUEUED_MAX_REQUEST_BYTES = "queued.max.request.bytes"
#: kraft's: a connection that stalls in the middle of a request frame this long is closed.
PARTIAL_REQUEST_TIMEOUT_MS = "kraft.socket.partial.request.timeout.ms"
RPC_V0_ONLY = "kraft.test.rpc.v0.only"
#: Test switch: ``3.9`` (the default) or ``reference``: behave on the wire as Kafka at the reference
#: revision adee6f0cc11 does (kraft.core.behaviour.REFERENCE_REVISION), to test interoperability.
BEHAVIOUR = "kraft.test.behaviour"
MAX_RECORD_BYTES_BETWEEN_SNAPSHOTS = "metadata.log.max.record.bytes.between.snapshots"
MAX_SNAPSHOT_INTERVAL_MS = "metadata.log.max.snapshot.interval.ms"
#: Test switch: how often the node applies the retention limits (Kafka: every 60 s, not configurable).
LOG_CLEAN_INTERVAL_MS = "kraft.test.log.clean.interval.ms"
#: The Prometheus/OpenMetrics endpoint of the raft metrics (kraft.server.metrics): port (0: any free
#: port) and address; no endpoint when the port is unset.
METRICS_PORT = "kraft.metrics.port"
METRICS_HOST = "kraft.metrics.host"

#: Kafka's defaults for the keys that have one.
DEFAULT_LISTENERS = "PLAINTEXT://:9092"
DEFAULT_LOG_DIR = "/tmp/kafka-logs"
DEFAULT_SECURITY_PROTOCOL_MAP = "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"

# Kafka keys read by a Kafka node that have no effect on this one; accepted silently.
_WITHOUT_EFFECT = frozenset({
    "num.io.threads", "num.network.threads", "queued.max.requests", "socket.send.buffer.bytes",
    "socket.receive.buffer.bytes", "socket.connection.setup.timeout.max.ms",
    "metadata.max.idle.interval.ms", "sasl.mechanism.controller.protocol",
})

_QUORUM_KEYS = frozenset({quorum_keys.VOTERS, quorum_keys.BOOTSTRAP_SERVERS, quorum_keys.FAST_FAILOVER,
                          quorum_keys.AUTO_JOIN,
                          quorum_keys.LEADER_FLUSH_ASYNC,
                          *QuorumConfig.KEYS.values()})

_KNOWN = frozenset({
    NODE_ID, PROCESS_ROLES, LISTENERS, ADVERTISED_LISTENERS, CONTROLLER_LISTENER_NAMES,
    LISTENER_SECURITY_PROTOCOL_MAP, LOG_DIR, LOG_DIRS, METADATA_LOG_DIR, METADATA_LOG_SEGMENT_BYTES,
    METADATA_LOG_SEGMENT_MIN_BYTES, METADATA_LOG_SEGMENT_MS, METADATA_MAX_RETENTION_BYTES,
    METADATA_MAX_RETENTION_MS, CONNECTIONS_MAX_IDLE_MS, SOCKET_REQUEST_MAX_BYTES,
    SOCKET_CONNECTION_SETUP_TIMEOUT_MS, RPC_V0_ONLY, MAX_RECORD_BYTES_BETWEEN_SNAPSHOTS, MAX_SNAPSHOT_INTERVAL_MS,
    LOG_CLEAN_INTERVAL_MS, METRICS_PORT, METRICS_HOST, QUEUED_MAX_REQUEST_BYTES, PARTIAL_REQUEST_TIMEOUT_MS,
    BEHAVIOUR,
}) | _QUORUM_KEYS | _WITHOUT_EFFECT

# Kafka's EndPoint pattern: NAME://host:port, host possibly empty or [IPv6].
_ENDPOINT = re.compile(r"(.*)://\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)")
_INT32_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1


def _int(props: Mapping[str, str], key: str, default: int, minimum: int, maximum: int = _INT32_MAX) -> int:
    if key not in props:
        return default
    text = props[key].strip()
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(key, f"expected an integer, got {props[key]!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(key, f"{value} is out of range {minimum}..{maximum}")
    return value


def _bool(props: Mapping[str, str], key: str) -> bool:
    text = props.get(key, "false").strip().lower()
    if text not in ("true", "false"):
        raise ConfigError(key, f"expected true or false, got {props[key]!r}")
    return text == "true"


def _behaviour(props: Mapping[str, str]) -> str:
    text = props.get(BEHAVIOUR, KAFKA_3_9).strip()
    if text not in (KAFKA_3_9, REFERENCE_REVISION):
        raise ConfigError(BEHAVIOUR, f"expected {KAFKA_3_9} or {REFERENCE_REVISION}, got {props[BEHAVIOUR]!r}")
    return text


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_listeners(key: str, value: str) -> tuple[ListenerAddress, ...]:
    """Parse ``NAME://host:port,...`` as Kafka does (names upper-cased, names and ports distinct)."""
    endpoints = []
    for entry in _csv(value):
        match = _ENDPOINT.fullmatch(entry)
        if match is None:
            raise ConfigError(key, f"cannot parse {entry!r}; expected NAME://host:port")
        name = match.group(1).upper()
        if not name:
            raise ConfigError(key, f"{entry!r} has no listener name")
        port = int(match.group(3))
        if not 0 <= port <= 65535:
            raise ConfigError(key, f"port {port} in {entry!r} is out of range 0..65535")
        endpoints.append(ListenerAddress(name, match.group(2), port))
    names = [e.name for e in endpoints]
    if len(set(names)) != len(names):
        raise ConfigError(key, f"each listener must have a different name, listeners: {value}")
    ports = [e.port for e in endpoints if e.port != 0]
    if key == LISTENERS and len(set(ports)) != len(ports):
        raise ConfigError(key, f"each listener must have a different port, listeners: {value}")
    return tuple(endpoints)


def _security_protocols(props: Mapping[str, str], controller_names: list[str],
                        listener_names: list[str]) -> dict[str, str]:
    """Kafka's effective listener.security.protocol.map for a KRaft node."""
    explicit = LISTENER_SECURITY_PROTOCOL_MAP in props
    mapping = {}
    for entry in _csv(props.get(LISTENER_SECURITY_PROTOCOL_MAP, DEFAULT_SECURITY_PROTOCOL_MAP)):
        name, sep, protocol = entry.partition(":")
        if not sep or not name.strip() or not protocol.strip():
            raise ConfigError(LISTENER_SECURITY_PROTOCOL_MAP, f"bad entry {entry!r}; expected NAME:PROTOCOL")
        protocol = protocol.strip().upper()
        if protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
            raise ConfigError(LISTENER_SECURITY_PROTOCOL_MAP, f"unknown security protocol {protocol!r}")
        mapping[name.strip().upper()] = protocol
    secure = {"SSL", "SASL_PLAINTEXT", "SASL_SSL"}
    if not explicit and not (secure & set(controller_names)) and not (secure & set(listener_names)):
        for name in controller_names:
            mapping.setdefault(name, "PLAINTEXT")
    return mapping


@dataclass(frozen=True)
class ServerConfig:
    """Everything a node reads from its configuration file.

    ``advertised_listeners`` are the controller listeners as other nodes should
    reach them (from ``advertised.listeners`` when set, else ``listeners``);
    they are the leader endpoints the node returns while it leads.
    """

    node_id: int
    listeners: tuple[ListenerAddress, ...]
    advertised_listeners: tuple[ListenerAddress, ...]
    controller_listener_names: tuple[str, ...]
    quorum: QuorumConfig
    metadata_log_dir: str
    metadata_log_segment_bytes: int = 1_073_741_824
    metadata_log_segment_ms: int = 604_800_000
    metadata_max_retention_bytes: int = 104_857_600
    metadata_max_retention_ms: int = 604_800_000
    #: Kafka's defaults: a snapshot every 20 MiB of committed batches or every hour (0: no time trigger).
    metadata_log_max_record_bytes_between_snapshots: int = 20 * 1024 * 1024
    metadata_log_max_snapshot_interval_ms: int = 3_600_000
    log_clean_interval_ms: int = 60_000
    connections_max_idle_ms: int = DEFAULT_CONNECTIONS_MAX_IDLE_MS
    socket_request_max_bytes: int = DEFAULT_MAX_FRAME_BYTES
    connection_setup_timeout_ms: int = CONNECTION_SETUP_TIMEOUT_MS
    rpc_v0_only: bool = False
    #: ``kraft.test.behaviour``: kraft.core.behaviour.KAFKA_3_9 or REFERENCE_REVISION
    behaviour: str = KAFKA_3_9
    metrics_port: Optional[int] = None
    metrics_host: str = "127.0.0.1"
    #: ``queued.max.request.bytes`` (None: unbounded, Kafka's -1)
    queued_max_request_bytes: Optional[int] = DEFAULT_QUEUED_MAX_REQUEST_BYTES
    partial_request_timeout_ms: int = DEFAULT_PARTIAL_REQUEST_TIMEOUT_MS
    #: listener name -> ``PLAINTEXT`` or ``SSL`` (listener.security.protocol.map)
    security_protocols: tuple[tuple[str, str], ...] = ()
    #: listener name -> its ``ssl.*`` settings, for the SSL listeners
    ssl_settings: tuple[tuple[str, tls.SslSettings], ...] = ()

    def ssl_server_contexts(self) -> dict:
        """Listener name -> the TLS context it accepts with (SSL listeners only)."""
        return {name: settings.server_context() for name, settings in self.ssl_settings}

    def ssl_client_context(self):
        """The TLS context for connections to voters, or ``None``: as in Kafka, the security protocol
        of the (first) controller listener decides, with that listener's ``ssl.*`` settings."""
        settings = dict(self.ssl_settings).get(self.controller_listener_name)
        return settings.client_context() if settings is not None else None

    @property
    def controller_listener_name(self) -> str:
        """The listener used for voter connections and leader endpoints (the first controller listener)."""
        return self.controller_listener_names[0]

    @property
    def is_voter(self) -> bool:
        return self.node_id in self.quorum.voters

    def leader_endpoints(self) -> dict[str, tuple[str, int]]:
        """Listener name -> (host, port) of this node, as sent when it leads."""
        return {e.name: (e.host, e.port) for e in self.advertised_listeners}

    @classmethod
    def load(cls, path, warn: Optional[Callable[[str], None]] = None) -> "ServerConfig":
        """Read and validate a Kafka properties file."""
        return cls.from_properties(properties.load(path), warn=warn)

    @classmethod
    def from_properties(cls, props: Mapping[str, str],
                        warn: Optional[Callable[[str], None]] = None) -> "ServerConfig":
        """Validate a mapping of Kafka keys to string values."""
        warn = warn or log.warning
        for key in props:
            if key not in _KNOWN and not tls.is_ssl_key(key):
                warn(f"Ignoring unknown configuration key {key}")
        if PROCESS_ROLES in props and props[PROCESS_ROLES].strip() != "controller":
            warn(f"{PROCESS_ROLES}={props[PROCESS_ROLES]} is overridden: this node runs the controller role only")

        if NODE_ID not in props:
            raise ConfigError(NODE_ID, "missing; every KRaft node needs a node id")
        node_id = _int(props, NODE_ID, 0, 0)

        names = [n.upper() for n in _csv(props.get(CONTROLLER_LISTENER_NAMES, ""))]
        if not names:
            raise ConfigError(CONTROLLER_LISTENER_NAMES, "must name at least one listener for the controller role")
        listeners = parse_listeners(LISTENERS, props.get(LISTENERS, DEFAULT_LISTENERS))
        listener_names = [e.name for e in listeners]
        for name in names:
            if name not in listener_names:
                raise ConfigError(CONTROLLER_LISTENER_NAMES,
                                  f"{name} does not appear in listeners ({props.get(LISTENERS, DEFAULT_LISTENERS)})")
        for name in listener_names:
            if name not in names:
                raise ConfigError(LISTENERS, f"{name} is not a controller listener; a controller-only node must "
                                             f"list only the listeners of {CONTROLLER_LISTENER_NAMES}")
        protocols = _security_protocols(props, names, listener_names)
        for name in listener_names:
            protocol = protocols.get(name)
            if protocol is None:
                raise ConfigError(LISTENER_SECURITY_PROTOCOL_MAP, f"no security protocol defined for listener {name}")
            if protocol not in ("PLAINTEXT", "SSL"):
                raise ConfigError(LISTENER_SECURITY_PROTOCOL_MAP,
                                  f"listener {name} uses {protocol}; only PLAINTEXT and SSL are supported")
        ssl_settings = tuple((name, tls.SslSettings.from_properties(props, name))
                             for name in listener_names if protocols[name] == "SSL")
        for name, settings in ssl_settings:
            settings.server_context()      # a bad key store or trust store stops the node here
            if name == names[0]:
                settings.client_context()

        if ADVERTISED_LISTENERS in props:
            advertised = parse_listeners(ADVERTISED_LISTENERS, props[ADVERTISED_LISTENERS])
            for e in advertised:
                if e.name not in listener_names:
                    raise ConfigError(ADVERTISED_LISTENERS, f"{e.name} is not one of the listeners")
                if e.host == "0.0.0.0":
                    raise ConfigError(ADVERTISED_LISTENERS, "cannot use the nonroutable meta-address 0.0.0.0")
            advertised_names = {e.name for e in advertised}
            advertised += tuple(e for e in listeners if e.name not in advertised_names)
        else:
            advertised = listeners
        # A listener bound to every interface is advertised under this host's name, as Kafka does.
        advertised = tuple(ListenerAddress(e.name, e.host or socket.getfqdn(), e.port)
                           for n in names for e in advertised if e.name == n)

        # a node's leader flushes off its loop unless told not to (the driver wakes the core when it ends)
        quorum = QuorumConfig.from_properties({quorum_keys.LEADER_FLUSH_ASYNC: "true", **props})
        # A node that is not one of the voters is an observer: it replicates without voting.
        if not quorum.voters and not quorum.bootstrap_servers:
            raise ConfigError(quorum_keys.VOTERS,
                              f"no voters; set it (id@host:port,...) or {quorum_keys.BOOTSTRAP_SERVERS}")

        if METADATA_LOG_DIR in props and props[METADATA_LOG_DIR].strip():
            log_dir = props[METADATA_LOG_DIR].strip()
        elif LOG_DIRS in props:
            dirs = _csv(props[LOG_DIRS])
            if not dirs:
                raise ConfigError(LOG_DIRS, "is empty")
            log_dir = dirs[0]
        else:
            log_dir = props.get(LOG_DIR, DEFAULT_LOG_DIR).strip()
            if not log_dir:
                raise ConfigError(LOG_DIR, "is empty")

        segment_min = _int(props, METADATA_LOG_SEGMENT_MIN_BYTES, 8 * 1024 * 1024, 12)
        segment_bytes = _int(props, METADATA_LOG_SEGMENT_BYTES, 1_073_741_824, 12)
        if segment_bytes < segment_min:
            raise ConfigError(METADATA_LOG_SEGMENT_BYTES, f"{segment_bytes} is below the minimum {segment_min}")
        request_max_bytes = _int(props, SOCKET_REQUEST_MAX_BYTES, DEFAULT_MAX_FRAME_BYTES, 1)
        queued_max_bytes = _int(props, QUEUED_MAX_REQUEST_BYTES, DEFAULT_QUEUED_MAX_REQUEST_BYTES, -1, _INT64_MAX)
        if queued_max_bytes <= 0:
            queued_max_bytes = None
        elif queued_max_bytes < request_max_bytes:
            # as Kafka's KafkaConfig requires: the largest frame allowed must fit the budget
            raise ConfigError(QUEUED_MAX_REQUEST_BYTES, f"{queued_max_bytes} is below {SOCKET_REQUEST_MAX_BYTES} "
                                                        f"({request_max_bytes}): no frame that large could be read")

        return cls(
            node_id=node_id,
            listeners=listeners,
            advertised_listeners=advertised,
            controller_listener_names=tuple(names),
            quorum=quorum,
            metadata_log_dir=log_dir,
            metadata_log_segment_bytes=segment_bytes,
            metadata_log_segment_ms=_int(props, METADATA_LOG_SEGMENT_MS, 604_800_000, 1, _INT64_MAX),
            metadata_max_retention_bytes=_int(props, METADATA_MAX_RETENTION_BYTES, 104_857_600, -1, _INT64_MAX),
            metadata_max_retention_ms=_int(props, METADATA_MAX_RETENTION_MS, 604_800_000, -1, _INT64_MAX),
            connections_max_idle_ms=_int(props, CONNECTIONS_MAX_IDLE_MS, DEFAULT_CONNECTIONS_MAX_IDLE_MS, 1,
                                         _INT64_MAX),
            socket_request_max_bytes=request_max_bytes,
            queued_max_request_bytes=queued_max_bytes,
            partial_request_timeout_ms=_int(props, PARTIAL_REQUEST_TIMEOUT_MS, DEFAULT_PARTIAL_REQUEST_TIMEOUT_MS,
                                            1, _INT64_MAX),
            connection_setup_timeout_ms=_int(props, SOCKET_CONNECTION_SETUP_TIMEOUT_MS,
                                             CONNECTION_SETUP_TIMEOUT_MS, 1, _INT64_MAX),
            rpc_v0_only=_bool(props, RPC_V0_ONLY),
            behaviour=_behaviour(props),
            security_protocols=tuple((name, protocols[name]) for name in listener_names),
            ssl_settings=ssl_settings,
            metadata_log_max_record_bytes_between_snapshots=_int(
                props, MAX_RECORD_BYTES_BETWEEN_SNAPSHOTS, 20 * 1024 * 1024, 1, _INT64_MAX),
            metadata_log_max_snapshot_interval_ms=_int(props, MAX_SNAPSHOT_INTERVAL_MS, 3_600_000, 0, _INT64_MAX),
            log_clean_interval_ms=_int(props, LOG_CLEAN_INTERVAL_MS, 60_000, 1, _INT64_MAX),
            metrics_port=_int(props, METRICS_PORT, 0, 0, 65535) if props.get(METRICS_PORT, "").strip() else None,
            metrics_host=props.get(METRICS_HOST, "127.0.0.1").strip() or "127.0.0.1",
        )
