"""Random messages of every class at every version survive bytes and JSON round trips."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraft.protocol import messages
from kraft.protocol.codec import Struct
from protocol_strategies import message_strategy

CLASSES = [getattr(messages, name) for name in messages.__all__ if name != "API_MESSAGES"]
CASES = [(cls, version) for cls in CLASSES for version in cls.valid_versions]


def without_unknown_tags(value):
    """A copy of ``value`` with every struct's unknown tagged fields dropped.

    Kafka's JSON form has no place for unknown tags, so they are the one thing a
    JSON round trip loses; and because they make a tagged struct differ from its
    default (Kafka's equals counts them), even an all-default tagged struct that
    carried some comes back absent.
    """
    if isinstance(value, Struct):
        copy = object.__new__(type(value))
        copy.__dict__.update({k: without_unknown_tags(v) for k, v in value.__dict__.items()})
        copy.__dict__["unknown_tagged_fields"] = ()
        return copy
    if isinstance(value, list):
        return [without_unknown_tags(v) for v in value]
    return value


@pytest.mark.parametrize("cls,version", CASES, ids=[f"{c.__name__}-v{v}" for c, v in CASES])
def test_bytes_and_json_round_trip(cls, version):
    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(msg=message_strategy(cls, version))
    def check(msg):
        body = msg.encode(version)
        decoded = cls.decode(body, version)
        assert decoded == msg
        assert decoded.encode(version) == body
        # JSON drops unknown tagged fields only; everything else comes back
        known = without_unknown_tags(msg)
        via_json = cls.from_json(msg.to_json(version), version)
        assert via_json == cls.from_json(known.to_json(version), version)
        assert via_json.to_json(version) == known.to_json(version)
        assert cls.decode(via_json.encode(version), version) == via_json

    check()


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_unknown_tagged_fields_are_kept_and_written_after_known_ones(data):
    cls = messages.FetchResponse
    msg = data.draw(message_strategy(cls, 17))
    body = msg.encode(17)
    decoded = cls.decode(body, 17)
    assert decoded.unknown_tagged_fields == msg.unknown_tagged_fields
    if msg.unknown_tagged_fields:
        tag, raw = msg.unknown_tagged_fields[-1]
        assert body.endswith(raw)
