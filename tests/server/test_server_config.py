"""ServerConfig: Kafka's keys, a controller-only node's validation, messages naming the key."""
from __future__ import annotations

from pathlib import Path

import pytest

from kraft.core.config import InetAddress
from kraft.errors import ConfigError
from kraft.net.server import ListenerAddress
from kraft.server.config import ServerConfig

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"

BASE = {
    "node.id": "1",
    "listeners": "PLAINTEXT://localhost:9092",
    "controller.listener.names": "PLAINTEXT",
    "controller.quorum.voters": "1@localhost:9092,2@localhost:9093,3@localhost:9094",
    "log.dirs": "/tmp/kraft-logs-1",
}


def config(**overrides):
    props = dict(BASE)
    for key, value in overrides.items():
        key = key.replace("_", ".")
        if value is None:
            props.pop(key, None)
        else:
            props[key] = value
    return ServerConfig.from_properties(props, warn=lambda message: None)


def test_readme_three_node_example():
    cfg = config()
    assert cfg.node_id == 1 and cfg.is_voter
    assert cfg.listeners == (ListenerAddress("PLAINTEXT", "localhost", 9092),)
    assert cfg.controller_listener_name == "PLAINTEXT"
    assert cfg.quorum.voters[3] == InetAddress("localhost", 9094)
    assert cfg.metadata_log_dir == "/tmp/kraft-logs-1"
    assert cfg.leader_endpoints() == {"PLAINTEXT": ("localhost", 9092)}
    assert cfg.quorum.append_linger_ms == 25 and cfg.rpc_v0_only is False


def test_shipped_config_files_are_valid():
    single = ServerConfig.load(CONFIG_DIR / "kraft.properties")
    assert single.node_id == 0 and list(single.quorum.voters) == [0]
    nodes = [ServerConfig.load(CONFIG_DIR / f"kraft-quorum-{n}.properties") for n in (1, 2, 3)]
    assert [c.node_id for c in nodes] == [1, 2, 3]
    assert all(c.quorum.voters == nodes[0].quorum.voters for c in nodes)
    for c in nodes:
        own = c.quorum.voters[c.node_id]
        assert (own.host, own.port) == c.leader_endpoints()["PLAINTEXT"]
    assert len({c.metadata_log_dir for c in nodes}) == 3


def test_advertised_listeners_become_leader_endpoints():
    cfg = config(listeners="CONTROLLER://0.0.0.0:9092", controller_listener_names="CONTROLLER",
                 advertised_listeners="CONTROLLER://node1.example:19092")
    assert cfg.leader_endpoints() == {"CONTROLLER": ("node1.example", 19092)}
    # Custom controller listener names default to PLAINTEXT when no map is given, as in Kafka.
    assert cfg.listeners[0].host == "0.0.0.0"


def test_first_controller_listener_is_the_one_used_and_names_are_case_insensitive():
    cfg = config(listeners="a://localhost:1,B://localhost:2", controller_listener_names="b,a",
                 listener_security_protocol_map="A:PLAINTEXT,B:PLAINTEXT")
    assert cfg.controller_listener_names == ("B", "A")
    assert cfg.controller_listener_name == "B"
    assert list(cfg.leader_endpoints()) == ["B", "A"]


def test_empty_host_listens_everywhere_and_advertises_the_host_name():
    cfg = config(listeners="PLAINTEXT://:9092")
    assert cfg.listeners[0].host == ""
    assert cfg.leader_endpoints()["PLAINTEXT"][0] != ""


def test_metadata_log_dir_wins_over_log_dirs_which_wins_over_log_dir():
    assert config(metadata_log_dir="/m", log_dir="/l").metadata_log_dir == "/m"
    assert config(log_dirs="/a,/b", log_dir="/l").metadata_log_dir == "/a"
    assert config(log_dirs=None, log_dir="/l").metadata_log_dir == "/l"
    assert config(log_dirs=None).metadata_log_dir == "/tmp/kafka-logs"


def test_metadata_log_keys():
    cfg = config(metadata_log_segment_bytes="16777216", metadata_log_segment_ms="1000",
                 metadata_max_retention_bytes="-1", metadata_max_retention_ms="60000")
    assert (cfg.metadata_log_segment_bytes, cfg.metadata_log_segment_ms) == (16777216, 1000)
    assert (cfg.metadata_max_retention_bytes, cfg.metadata_max_retention_ms) == (-1, 60000)
    small = config(**{"metadata.log.segment.min.bytes": "1024", "metadata.log.segment.bytes": "2048"})
    assert small.metadata_log_segment_bytes == 2048


def test_quorum_timers_and_test_switch():
    cfg = config(**{"controller.quorum.append.linger.ms": "5", "controller.quorum.fetch.timeout.ms": "500",
                    "kraft.test.rpc.v0.only": "true", "connections.max.idle.ms": "1000"})
    assert cfg.quorum.append_linger_ms == 5 and cfg.quorum.fetch_timeout_ms == 500
    assert cfg.rpc_v0_only is True and cfg.connections_max_idle_ms == 1000


def test_quorum_fetch_max_bytes_kip_1219():
    assert (config().quorum.fetch_max_bytes, config().quorum.fetch_snapshot_max_bytes) == (1048576, 1048576)
    cfg = config(**{"controller.quorum.fetch.max.bytes": "4096", "controller.quorum.fetch.snapshot.max.bytes": "512"})
    assert (cfg.quorum.fetch_max_bytes, cfg.quorum.fetch_snapshot_max_bytes) == (4096, 512)
    for key in ("controller.quorum.fetch.max.bytes", "controller.quorum.fetch.snapshot.max.bytes"):
        for bad in ("0", "-1", "lots"):
            with pytest.raises(ConfigError) as info:
                config(**{key: bad})
            assert info.value.key == key


def test_observer_with_bootstrap_servers_only():
    cfg = config(**{"controller.quorum.voters": None, "controller.quorum.bootstrap.servers": "localhost:9092"})
    assert not cfg.is_voter and cfg.quorum.bootstrap_servers == (InetAddress("localhost", 9092),)


def test_a_node_outside_the_voters_is_an_observer():
    cfg = config(**{"node.id": "4"})
    assert not cfg.is_voter and 4 not in cfg.quorum.voters


def test_snapshot_and_retention_keys():
    cfg = config(**{"metadata.log.max.record.bytes.between.snapshots": "1000",
                    "metadata.log.max.snapshot.interval.ms": "0", "metadata.max.retention.bytes": "-1",
                    "metadata.max.retention.ms": "5000", "kraft.test.log.clean.interval.ms": "250"})
    assert cfg.metadata_log_max_record_bytes_between_snapshots == 1000
    assert cfg.metadata_log_max_snapshot_interval_ms == 0
    assert cfg.metadata_max_retention_bytes == -1 and cfg.metadata_max_retention_ms == 5000
    assert cfg.log_clean_interval_ms == 250
    defaults = config()
    assert defaults.metadata_log_max_record_bytes_between_snapshots == 20 * 1024 * 1024
    assert defaults.metadata_log_max_snapshot_interval_ms == 3_600_000 and defaults.log_clean_interval_ms == 60_000


@pytest.mark.parametrize("key, value", [("metadata.log.max.record.bytes.between.snapshots", "0"),
                                        ("metadata.log.max.snapshot.interval.ms", "-1"),
                                        ("kraft.test.log.clean.interval.ms", "0")])
def test_snapshot_keys_out_of_range_are_refused(key, value):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config(**{key: value})


def test_unknown_keys_warned_known_kafka_keys_not():
    warnings = []
    props = dict(BASE, **{"no.such.key": "1", "num.io.threads": "8", "process.roles": "controller"})
    ServerConfig.from_properties(props, warn=warnings.append)
    assert warnings == ["Ignoring unknown configuration key no.such.key"]


def test_process_roles_forced_to_controller_with_a_warning():
    warnings = []
    ServerConfig.from_properties(dict(BASE, **{"process.roles": "broker,controller"}), warn=warnings.append)
    assert len(warnings) == 1 and "process.roles" in warnings[0]


@pytest.mark.parametrize("overrides, key, fragment", [
    ({"node.id": None}, "node.id", "missing"),
    ({"node.id": "one"}, "node.id", "integer"),
    ({"node.id": "-1"}, "node.id", "out of range"),
    ({"controller.listener.names": None}, "controller.listener.names", "at least one"),
    ({"controller.listener.names": "CONTROLLER"}, "controller.listener.names", "does not appear in listeners"),
    ({"listeners": "PLAINTEXT://localhost:9092,OTHER://localhost:9093",
      "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT"}, "listeners",
     "not a controller listener"),
    ({"listeners": "PLAINTEXT//localhost:9092"}, "listeners", "NAME://host:port"),
    ({"listeners": "PLAINTEXT://localhost:99999"}, "listeners", "out of range"),
    ({"listeners": "PLAINTEXT://a:1,plaintext://b:2"}, "listeners", "different name"),
    ({"listeners": "A://a:1,B://b:1", "controller.listener.names": "A,B"}, "listeners", "different port"),
    ({"listeners": "SSL://localhost:9092", "controller.listener.names": "SSL"},
     "ssl.keystore.location", "no key store"),
    ({"listeners": "C://localhost:9092", "controller.listener.names": "C",
      "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT"}, "listener.security.protocol.map",
     "no security protocol defined for listener C"),
    ({"listener.security.protocol.map": "PLAINTEXT"}, "listener.security.protocol.map", "NAME:PROTOCOL"),
    ({"advertised.listeners": "OTHER://h:1"}, "advertised.listeners", "not one of the listeners"),
    ({"advertised.listeners": "PLAINTEXT://0.0.0.0:9092"}, "advertised.listeners", "0.0.0.0"),
    ({"controller.quorum.voters": None}, "controller.quorum.voters", "no voters"),
    ({"controller.quorum.voters": "1@localhost"}, "controller.quorum.voters", "host and port"),
    ({"controller.quorum.election.timeout.ms": "soon"}, "controller.quorum.election.timeout.ms", "integer"),
    ({"log.dirs": " , "}, "log.dirs", "empty"),
    ({"metadata.log.segment.bytes": "1000"}, "metadata.log.segment.bytes", "below the minimum"),
    ({"metadata.log.segment.ms": "0"}, "metadata.log.segment.ms", "out of range"),
    ({"connections.max.idle.ms": "x"}, "connections.max.idle.ms", "integer"),
    ({"socket.request.max.bytes": "0"}, "socket.request.max.bytes", "out of range"),
    ({"kraft.test.rpc.v0.only": "yes"}, "kraft.test.rpc.v0.only", "true or false"),
])
def test_bad_values_rejected_naming_the_key(overrides, key, fragment):
    props = dict(BASE)
    for k, v in overrides.items():
        if v is None:
            props.pop(k, None)
        else:
            props[k] = v
    with pytest.raises(ConfigError) as info:
        ServerConfig.from_properties(props, warn=lambda message: None)
    assert info.value.key == key
    assert key in str(info.value) and fragment in str(info.value)


def test_every_documented_kraft_key_is_read_without_an_unknown_key_warning():
    warnings = []
    props = dict(BASE, **{"kraft.quorum.fast.failover": "false", "kraft.test.rpc.v0.only": "true",
                          "kraft.test.log.clean.interval.ms": "1000"})
    parsed = ServerConfig.from_properties(props, warn=warnings.append)
    assert warnings == []
    assert parsed.quorum.fast_failover is False and parsed.rpc_v0_only and parsed.log_clean_interval_ms == 1000

def test_request_memory_keys():
    # the config helper turns "_" into "." in keys: pass them through a mapping
    def with_keys(**props):
        return ServerConfig.from_properties({**BASE, **props}, warn=lambda message: None)
    cfg = config()
    assert cfg.queued_max_request_bytes == 104_857_600 and cfg.partial_request_timeout_ms == 30_000
    cfg = with_keys(**{"queued.max.request.bytes": "200000000", "kraft.socket.partial.request.timeout.ms": "500"})
    assert cfg.queued_max_request_bytes == 200_000_000 and cfg.partial_request_timeout_ms == 500
    assert with_keys(**{"queued.max.request.bytes": "-1"}).queued_max_request_bytes is None   # Kafka's unbounded
    with pytest.raises(ConfigError, match="queued.max.request.bytes.*below socket.request.max.bytes"):
        with_keys(**{"queued.max.request.bytes": "1000"})
    with pytest.raises(ConfigError, match="kraft.socket.partial.request.timeout.ms"):
        with_keys(**{"kraft.socket.partial.request.timeout.ms": "0"})


def test_behaviour_switch():
    from kraft.core.behaviour import KAFKA_3_9, REFERENCE_REVISION
    from kraft.errors import ConfigError
    base = {"node.id": "1", "controller.quorum.voters": "1@127.0.0.1:9093", "listeners": "CONTROLLER://127.0.0.1:9093",
            "controller.listener.names": "CONTROLLER"}
    assert ServerConfig.from_properties(base).behaviour == KAFKA_3_9
    assert ServerConfig.from_properties({**base, "kraft.test.behaviour": "reference"}).behaviour == REFERENCE_REVISION
    with pytest.raises(ConfigError, match="kraft.test.behaviour"):
        ServerConfig.from_properties({**base, "kraft.test.behaviour": "4.4"})
