"""The ``controller.quorum.*`` configuration, with Kafka's keys and defaults.

Mirrors Kafka's ``QuorumConfig``: the static voter set
(``controller.quorum.voters`` as ``id@host:port,...``), the bootstrap servers
(``host:port,...``) and the Raft timers.  :meth:`QuorumConfig.from_properties`
parses a ``.properties``-style mapping (string values, as read from a file,
or already-typed values) and raises :class:`kraft.errors.ConfigError` naming
the offending key.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Mapping

from kraft.errors import ConfigError

PREFIX = "controller.quorum."
VOTERS = PREFIX + "voters"
BOOTSTRAP_SERVERS = PREFIX + "bootstrap.servers"
ELECTION_TIMEOUT_MS = PREFIX + "election.timeout.ms"
FETCH_TIMEOUT_MS = PREFIX + "fetch.timeout.ms"
ELECTION_BACKOFF_MAX_MS = PREFIX + "election.backoff.max.ms"
APPEND_LINGER_MS = PREFIX + "append.linger.ms"
REQUEST_TIMEOUT_MS = PREFIX + "request.timeout.ms"
RETRY_BACKOFF_MS = PREFIX + "retry.backoff.ms"
#: Kafka 4.3 (KIP-1219): the MaxBytes a follower or observer puts in its Fetch and FetchSnapshot.
FETCH_MAX_BYTES = PREFIX + "fetch.max.bytes"
FETCH_SNAPSHOT_MAX_BYTES = PREFIX + "fetch.snapshot.max.bytes"

#: Kafka's "does not route anywhere" host, refused for voters one connects to.
NON_ROUTABLE_HOST = "0.0.0.0"

_INT32_MAX = 2**31 - 1
# Kafka's Utils.HOST_PORT_PATTERN and VALID_HOST_CHARACTERS.
_HOST_PORT = re.compile(r"(?:[0-9a-zA-Z\-%._]*://)?\[?([0-9a-zA-Z\-%._:]*)\]?:([0-9]+)")
_VALID_HOST = re.compile(r"[0-9a-zA-Z\-%._:]*")


@dataclass(frozen=True)
class InetAddress:
    """A ``host:port`` pair from the configuration (not resolved)."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def _parse_host_port(key: str, entry: str, what: str) -> InetAddress:
    match = _HOST_PORT.fullmatch(entry)
    if match is None or not _VALID_HOST.fullmatch(match.group(1)) or not match.group(1):
        raise ConfigError(key, f"cannot parse a host and port from {entry!r}; {what}")
    port = int(match.group(2))
    if port > 65535:
        raise ConfigError(key, f"port {port} in {entry!r} is out of range 0..65535")
    return InetAddress(match.group(1), port)


def _parse_list(key: str, value: object) -> list[str]:
    if value is None:
        raise ConfigError(key, "a list is required, got None")
    if isinstance(value, str):
        items = value.split(",") if value.strip() else []
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ConfigError(key, f"expected a comma-separated list, got {type(value).__name__}")
    out = []
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(key, f"list entries must be strings, got {item!r}")
        item = item.strip()
        if not item:
            raise ConfigError(key, "empty entry in the list")
        out.append(item)
    return out


def parse_voters(value: object, *, require_routable: bool = False) -> dict[int, InetAddress]:
    """Parse ``controller.quorum.voters`` (``id@host:port,...``) into id -> address.

    Voter ids must be non-negative and unique.  With ``require_routable``
    the host ``0.0.0.0`` is refused (Kafka refuses it when it connects).
    """
    form = "each entry should be in the form {id}@{host}:{port}"
    voters: dict[int, InetAddress] = {}
    for entry in _parse_list(VOTERS, value):
        parts = entry.split("@")
        if len(parts) != 2:
            raise ConfigError(VOTERS, f"bad entry {entry!r}; {form}")
        id_text, address = parts
        try:
            voter_id = int(id_text.strip())
        except ValueError:
            raise ConfigError(VOTERS, f"cannot parse the voter id of {entry!r} as an integer") from None
        if not 0 <= voter_id <= _INT32_MAX:
            raise ConfigError(VOTERS, f"voter id {voter_id} in {entry!r} is out of range 0..{_INT32_MAX}")
        if voter_id in voters:
            raise ConfigError(VOTERS, f"voter id {voter_id} appears more than once")
        addr = _parse_host_port(VOTERS, address, form)
        if require_routable and addr.host == NON_ROUTABLE_HOST:
            raise ConfigError(VOTERS, f"host {addr.host} of voter {voter_id} is not routable")
        voters[voter_id] = addr
    return voters


def parse_bootstrap_servers(value: object) -> tuple[InetAddress, ...]:
    """Parse ``controller.quorum.bootstrap.servers`` (``host:port,...``)."""
    form = "each entry should be in the form {host}:{port}"
    return tuple(_parse_host_port(BOOTSTRAP_SERVERS, e, form) for e in _parse_list(BOOTSTRAP_SERVERS, value))


def _parse_int(key: str, value: object, minimum: int) -> int:
    if isinstance(value, bool):
        raise ConfigError(key, f"expected an integer, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            raise ConfigError(key, f"expected an integer, got {value!r}") from None
    else:
        raise ConfigError(key, f"expected an integer, got {type(value).__name__}")
    if not minimum <= number <= _INT32_MAX:
        raise ConfigError(key, f"{number} is out of range {minimum}..{_INT32_MAX}")
    return number


#: Kafka 4.2's auto-join (KIP-853): an observer adds itself to the voters.
AUTO_JOIN = "controller.quorum.auto.join.enable"
#: Our extension (not a Kafka key): see ``QuorumConfig.fast_failover``.
FAST_FAILOVER = "kraft.quorum.fast.failover"
#: Our extension (not a Kafka key): see ``QuorumConfig.fast_failover_refused_step_ms``.
FAST_FAILOVER_REFUSED_STEP_MS = "kraft.quorum.fast.failover.refused.step.ms"
#: Our extension (not a Kafka key): see ``QuorumConfig.leader_flush_async``.
LEADER_FLUSH_ASYNC = "kraft.quorum.leader.flush.async"


def _parse_bool(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise ConfigError(key, f"{value!r} is not true or false")
    return text == "true"


@dataclass(frozen=True)
class QuorumConfig:
    """The quorum settings, in milliseconds, with Kafka's defaults.

    ``voters`` maps voter id to its address; ``bootstrap_servers`` lists the
    addresses an observer uses to find the leader (when empty, the voters).
    """

    voters: Mapping[int, InetAddress] = field(default_factory=dict)
    bootstrap_servers: tuple[InetAddress, ...] = ()
    election_timeout_ms: int = 1000
    fetch_timeout_ms: int = 2000
    election_backoff_max_ms: int = 1000
    append_linger_ms: int = 25
    request_timeout_ms: int = 2000
    retry_backoff_ms: int = 20
    #: A deliberate deviation from Kafka (``PeerUnreachable``): a follower whose leader is
    #: unreachable starts an election after a randomised election timeout instead of the fetch
    #: timeout, and a candidate that can no longer win backs off at once.  Timing never affects
    #: election safety, only how fast a new leader is found.  Key ``kraft.quorum.fast.failover``.
    fast_failover: bool = True
    #: ``controller.quorum.auto.join.enable`` (Kafka's default false): at kraft.version 1 an observer
    #: sends AddRaftVoter for itself (RemoveRaftVoter first for its id under an old directory id).
    auto_join: bool = False
    #: With ``fast_failover``, when the leader's connection is *refused* (no process listens there:
    #: it died) its followers stand in node-id order instead of after a random election timeout: the
    #: r-th surviving voter (0-based, the leader left out) waits ``r * step + uniform[0, step / 2)``
    #: ms.  Each survivor's Vote reaches the next before the next's own timer runs out, so two
    #: survivors rarely split a vote.  0: the random election timeout, as for any other failure.
    #: Key ``kraft.quorum.fast.failover.refused.step.ms``.
    fast_failover_refused_step_ms: int = 200
    #: The leader's appends are flushed off the driver's loop (``Flush(background=True)``): parked
    #: fetches are answered before the leader's fsync ends, as Kafka's leader does, and the leader's
    #: own position in the high watermark is its log's ``last_flushed_offset``, read at every call
    #: (so the high watermark never counts the leader for data it has not flushed).  Only for a
    #: driver that wakes the node when a flush ends (``kraft.server.driver``, where it is on by
    #: default).  Key ``kraft.quorum.leader.flush.async``.
    leader_flush_async: bool = False
    #: ``controller.quorum.fetch.max.bytes`` (Kafka 4.3, KIP-1219; default 1 MiB, at least 1): the
    #: MaxBytes of every Fetch this node sends.  The leader still answers at least one batch.
    fetch_max_bytes: int = 1048576
    #: ``controller.quorum.fetch.snapshot.max.bytes`` (Kafka 4.3, KIP-1219; default 1 MiB, at least
    #: 1): the MaxBytes of every FetchSnapshot this node sends.
    fetch_snapshot_max_bytes: int = 1048576

    #: config key of every integer field (timers and sizes), in Kafka's spelling.
    KEYS = {
        "election_timeout_ms": ELECTION_TIMEOUT_MS,
        "fetch_timeout_ms": FETCH_TIMEOUT_MS,
        "election_backoff_max_ms": ELECTION_BACKOFF_MAX_MS,
        "append_linger_ms": APPEND_LINGER_MS,
        "request_timeout_ms": REQUEST_TIMEOUT_MS,
        "retry_backoff_ms": RETRY_BACKOFF_MS,
        "fast_failover_refused_step_ms": FAST_FAILOVER_REFUSED_STEP_MS,
        "fetch_max_bytes": FETCH_MAX_BYTES,
        "fetch_snapshot_max_bytes": FETCH_SNAPSHOT_MAX_BYTES,
    }

    def __post_init__(self) -> None:
        for name, key in self.KEYS.items():
            _parse_int(key, getattr(self, name), 0)
        for key in (ELECTION_TIMEOUT_MS, FETCH_TIMEOUT_MS, REQUEST_TIMEOUT_MS):
            name = next(n for n, k in self.KEYS.items() if k == key)
            if getattr(self, name) == 0:
                raise ConfigError(key, "must be positive")
        for key, value in ((FETCH_MAX_BYTES, self.fetch_max_bytes), (FETCH_SNAPSHOT_MAX_BYTES, self.fetch_snapshot_max_bytes)):
            if value < 1:  # Kafka's atLeast(1)
                raise ConfigError(key, f"{value} is below the minimum 1")

    @property
    def check_quorum_timeout_ms(self) -> int:
        """How long a leader may go without fetches from a majority (1.5 x fetch timeout)."""
        return int(self.fetch_timeout_ms * 1.5)

    @classmethod
    def from_properties(cls, properties: Mapping[str, object]) -> "QuorumConfig":
        """Build from a mapping of configuration keys; other keys are ignored."""
        kwargs: dict[str, object] = {}
        if VOTERS in properties:
            kwargs["voters"] = parse_voters(properties[VOTERS])
        if BOOTSTRAP_SERVERS in properties:
            kwargs["bootstrap_servers"] = parse_bootstrap_servers(properties[BOOTSTRAP_SERVERS])
        for name, key in cls.KEYS.items():
            if key in properties:
                kwargs[name] = _parse_int(key, properties[key], 0)
        if FAST_FAILOVER in properties:
            kwargs["fast_failover"] = _parse_bool(FAST_FAILOVER, properties[FAST_FAILOVER])
        if AUTO_JOIN in properties:
            kwargs["auto_join"] = _parse_bool(AUTO_JOIN, properties[AUTO_JOIN])
        if LEADER_FLUSH_ASYNC in properties:
            kwargs["leader_flush_async"] = _parse_bool(LEADER_FLUSH_ASYNC, properties[LEADER_FLUSH_ASYNC])
        return cls(**kwargs)

    def to_properties(self) -> dict[str, str]:
        """The configuration as string properties (``from_properties`` round-trips it)."""
        props = {
            VOTERS: ",".join(f"{i}@{a}" for i, a in self.voters.items()),
            BOOTSTRAP_SERVERS: ",".join(str(a) for a in self.bootstrap_servers),
        }
        for f in fields(self):
            if f.name in self.KEYS:
                props[self.KEYS[f.name]] = str(getattr(self, f.name))
        props[FAST_FAILOVER] = "true" if self.fast_failover else "false"
        props[AUTO_JOIN] = "true" if self.auto_join else "false"
        props[LEADER_FLUSH_ASYNC] = "true" if self.leader_flush_async else "false"
        return props
