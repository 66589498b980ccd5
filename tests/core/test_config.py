"""controller.quorum.* parsing: Kafka's defaults, round trips, and errors that name the key."""
import pytest
from hypothesis import given, strategies as st

from kraft.core import config as c
from kraft.core.config import InetAddress, QuorumConfig, parse_voters
from kraft.errors import ConfigError


def test_defaults_are_kafkas():
    cfg = QuorumConfig.from_properties({})
    assert (cfg.election_timeout_ms, cfg.fetch_timeout_ms, cfg.election_backoff_max_ms) == (1000, 2000, 1000)
    assert (cfg.append_linger_ms, cfg.request_timeout_ms, cfg.retry_backoff_ms) == (25, 2000, 20)
    assert cfg.voters == {} and cfg.bootstrap_servers == ()
    assert cfg.check_quorum_timeout_ms == 3000
    assert (cfg.fetch_max_bytes, cfg.fetch_snapshot_max_bytes) == (1048576, 1048576)  # Kafka 4.3 (KIP-1219)


def test_fetch_max_bytes_parse_and_are_at_least_one():
    cfg = QuorumConfig.from_properties({c.FETCH_MAX_BYTES: "1", c.FETCH_SNAPSHOT_MAX_BYTES: str(2**31 - 1)})
    assert (cfg.fetch_max_bytes, cfg.fetch_snapshot_max_bytes) == (1, 2**31 - 1)
    assert QuorumConfig.from_properties(cfg.to_properties()) == cfg
    for key in (c.FETCH_MAX_BYTES, c.FETCH_SNAPSHOT_MAX_BYTES):
        with pytest.raises(ConfigError, match="minimum 1") as info:
            QuorumConfig.from_properties({key: "0"})
        assert info.value.key == key
        with pytest.raises(ConfigError, match="out of range"):
            QuorumConfig.from_properties({key: str(2**31)})


def test_voters_and_bootstrap_servers_parse():
    cfg = QuorumConfig.from_properties({
        c.VOTERS: "1@localhost:9092, 2@10.0.0.2:9093,3@[::1]:9094",
        c.BOOTSTRAP_SERVERS: "a.example:1,b-2.example:2",
        c.ELECTION_TIMEOUT_MS: " 1500 ",
        c.APPEND_LINGER_MS: 0,
    })
    assert cfg.voters == {1: InetAddress("localhost", 9092), 2: InetAddress("10.0.0.2", 9093),
                          3: InetAddress("::1", 9094)}
    assert cfg.bootstrap_servers == (InetAddress("a.example", 1), InetAddress("b-2.example", 2))
    assert cfg.election_timeout_ms == 1500 and cfg.append_linger_ms == 0


@pytest.mark.parametrize("key,value,fragment", [
    (c.VOTERS, "1@localhost", "host and port"),
    (c.VOTERS, "x@localhost:1", "voter id"),
    (c.VOTERS, "1@a@b:1", "{id}@{host}:{port}"),
    (c.VOTERS, "-1@h:1", "out of range"),
    (c.VOTERS, "1@h:1,1@g:2", "more than once"),
    (c.VOTERS, "1@h:1,,2@g:2", "empty entry"),
    (c.VOTERS, "1@h!:1", "host and port"),
    (c.VOTERS, "1@h:70000", "out of range"),
    (c.BOOTSTRAP_SERVERS, "h", "host and port"),
    (c.ELECTION_TIMEOUT_MS, "ten", "integer"),
    (c.ELECTION_TIMEOUT_MS, "0", "positive"),
    (c.FETCH_TIMEOUT_MS, "-5", "out of range"),
    (c.REQUEST_TIMEOUT_MS, str(2**31), "out of range"),
    (c.RETRY_BACKOFF_MS, 1.5, "integer"),
    (c.APPEND_LINGER_MS, True, "integer"),
    (c.ELECTION_BACKOFF_MAX_MS, None, "integer"),
])
def test_bad_values_name_the_key(key, value, fragment):
    with pytest.raises(ConfigError) as info:
        QuorumConfig.from_properties({key: value})
    assert info.value.key == key
    assert key in str(info.value) and fragment in str(info.value)


def test_non_routable_voter_refused_only_when_asked():
    assert parse_voters("1@0.0.0.0:9092")[1].host == "0.0.0.0"
    with pytest.raises(ConfigError, match="not routable"):
        parse_voters("1@0.0.0.0:9092", require_routable=True)


hosts = st.from_regex(r"[a-z][a-z0-9\-.]{0,20}", fullmatch=True)
addresses = st.builds(InetAddress, hosts, st.integers(0, 65535))


@given(voters=st.dictionaries(st.integers(0, 2**31 - 1), addresses, max_size=7),
       bootstrap=st.lists(addresses, max_size=4).map(tuple),
       timers=st.tuples(*[st.integers(1, 2**31 - 1)] * 6))
def test_properties_round_trip(voters, bootstrap, timers):
    cfg = QuorumConfig(voters, bootstrap, *timers)
    assert QuorumConfig.from_properties(cfg.to_properties()) == cfg


@given(st.text(max_size=40))
def test_arbitrary_voter_strings_parse_or_raise_config_error(text):
    try:
        parse_voters(text)
    except ConfigError as e:
        assert e.key == c.VOTERS
