"""Fuzz the frame and message decoders: random and mutated input; only protocol errors escape."""
import struct

from conftest import load_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraft.protocol import ProtocolError, parse_request, parse_response, read_request, read_response
from kraft.protocol.messages import API_MESSAGES, DescribeQuorumResponse, FetchResponse, VotersRecord

_VERSIONS = [(key, version) for key, (req, _) in API_MESSAGES.items() for version in req.valid_versions]
_FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _reencode(message, version):
    """A message the decoder accepted must be writable again."""
    message.encode(version)


@_FUZZ
@given(st.binary(max_size=300))
def test_random_request_payloads(payload):
    try:
        header, message = parse_request(payload)
    except ProtocolError:
        return
    _reencode(message, header.request_api_version)


@_FUZZ
@given(st.sampled_from(_VERSIONS), st.binary(max_size=200))
def test_random_bodies_behind_a_valid_request_prefix(key_version, body):
    api_key, version = key_version
    payload = struct.pack(">hhi", api_key, version, 5) + body
    try:
        header, message = parse_request(payload)
    except ProtocolError as e:
        assert e.api_key == api_key and e.api_version == version and e.correlation_id == 5
        return
    _reencode(message, version)


@_FUZZ
@given(st.sampled_from(_VERSIONS), st.binary(max_size=300))
def test_random_response_payloads(key_version, payload):
    api_key, version = key_version
    try:
        _, message = parse_response(payload, api_key, version)
    except ProtocolError as e:
        assert e.api_key == api_key and e.api_version == version
        return
    _reencode(message, version)


@_FUZZ
@given(st.binary(max_size=64))
def test_random_frames(frame):
    try:
        read_request(frame, max_size=1 << 16)
    except ProtocolError:
        pass


@_FUZZ
@given(st.sampled_from([(VotersRecord, 0), (DescribeQuorumResponse, 2), (FetchResponse, 17), (FetchResponse, 4)]),
       st.binary(max_size=200))
def test_random_data_and_nested_bodies(cls_version, body):
    cls, version = cls_version
    try:
        message = cls.decode(body, version)
    except ProtocolError:
        return
    _reencode(message, version)


def _golden_frames():
    entries = load_jsonl("kafka-3.9/messages.jsonl") + load_jsonl("traffic.jsonl")
    return [(e["kind"], e["api_key"], e["version"], bytes.fromhex(e["frame_hex"])) for e in entries]


_mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(min_value=0), st.integers(min_value=1, max_value=255)),
    st.tuples(st.just("cut"), st.integers(min_value=0), st.just(0)),
    st.tuples(st.just("insert"), st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
    st.tuples(st.just("delete"), st.integers(min_value=0), st.just(0)),
)


def _mutate(frame, mutations, fix_size):
    data = bytearray(frame)
    for kind, position, value in mutations:
        if not data:
            break
        i = position % len(data)
        if kind == "flip":
            data[i] ^= value
        elif kind == "cut":
            del data[i:]
        elif kind == "insert":
            data.insert(i, value)
        else:
            del data[i]
    if fix_size and len(data) >= 4:
        data[:4] = struct.pack(">i", len(data) - 4)
    return bytes(data)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.lists(_mutation, min_size=1, max_size=4), st.booleans())
def test_mutated_golden_frames(data, mutations, fix_size):
    kind, api_key, version, frame = data.draw(st.sampled_from(_golden_frames()))
    mutated = _mutate(frame, mutations, fix_size)
    try:
        if kind == "request":
            header, message = read_request(mutated)
            _reencode(message, header.request_api_version)
        else:
            _, message = read_response(mutated, api_key, version)
            _reencode(message, version)
    except ProtocolError:
        pass
