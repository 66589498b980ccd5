"""Bad frames and bodies raise specific protocol errors carrying what could be read."""
import struct
import tracemalloc

import pytest

from kraft.protocol import (
    BufferUnderflowError,
    FrameTooLargeError,
    InvalidLengthError,
    InvalidStringError,
    InvalidTaggedFieldError,
    InvalidVarintError,
    MalformedFrameError,
    NullFieldError,
    ProtocolError,
    RequestHeader,
    ResponseHeader,
    UnknownApiKeyError,
    UnsupportedVersionError,
    parse_request,
    read_request,
    read_response,
    write_request,
)
from kraft.protocol.messages import (
    ApiVersionsRequest,
    DescribeQuorumResponse,
    FetchRequest,
    FetchResponse,
    VoteRequest,
)


def _frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def _vote_frame(correlation_id=9):
    header = RequestHeader(request_api_key=52, request_api_version=1, correlation_id=correlation_id,
                           client_id="c")
    return write_request(header, VoteRequest(cluster_id="x", topics=[VoteRequest.TopicData(topic_name="t")]))


def test_truncated_frame():
    frame = _vote_frame()
    with pytest.raises(MalformedFrameError, match="truncated"):
        read_request(frame[:-1])
    with pytest.raises(MalformedFrameError, match="truncated"):
        read_request(frame[:3])


def test_frame_longer_than_its_size_prefix():
    with pytest.raises(MalformedFrameError, match="longer than its size prefix"):
        read_request(_vote_frame() + b"\x00")


def test_negative_size_prefix():
    with pytest.raises(MalformedFrameError, match="invalid frame size"):
        read_request(b"\xff\xff\xff\xfe" + bytes(10))


def test_frame_over_the_configured_maximum():
    frame = _vote_frame()
    with pytest.raises(FrameTooLargeError) as info:
        read_request(frame, max_size=len(frame) - 5)
    assert info.value.size == len(frame) - 4
    assert isinstance(info.value, MalformedFrameError)
    read_request(frame, max_size=len(frame) - 4)


def test_unknown_api_key_carries_key_version_and_correlation_id():
    payload = struct.pack(">hhih", 999, 3, 1234, -1)
    with pytest.raises(UnknownApiKeyError) as info:
        read_request(_frame(payload))
    assert (info.value.api_key, info.value.api_version, info.value.correlation_id) == (999, 3, 1234)


def test_unsupported_version_carries_the_parsed_header():
    # a too-new ApiVersions request is still read with header v2, so a server can answer it
    header = struct.pack(">hhih", 18, 9, 77, 3) + b"abc" + b"\x00"
    with pytest.raises(UnsupportedVersionError) as info:
        read_request(_frame(header + b"\x00\x00\x00"))
    error = info.value
    assert (error.api_key, error.api_version, error.correlation_id) == (18, 9, 77)
    assert error.header.client_id == "abc"
    with pytest.raises(UnsupportedVersionError):
        read_response(_frame(b"\x00\x00\x00\x01"), 52, 3)


def test_body_errors_carry_the_request_context():
    frame = _vote_frame(correlation_id=31)
    with pytest.raises(BufferUnderflowError) as info:
        parse_request(frame[4:-3])
    assert (info.value.api_key, info.value.api_version, info.value.correlation_id) == (52, 1, 31)
    assert info.value.header.client_id == "c"


def test_short_request_header():
    with pytest.raises(BufferUnderflowError):
        parse_request(b"\x00\x34\x00")


def test_negative_lengths_where_none_are_allowed():
    # classic string length -2
    with pytest.raises(InvalidLengthError):
        FetchRequest.decode(struct.pack(">iiiii", -1, 0, 0, 0, 1) + b"\xff\xfe", 3)
    # classic array length -5
    with pytest.raises(InvalidLengthError):
        FetchRequest.decode(struct.pack(">iiii", -1, 0, 0, -5), 0)


def test_null_where_not_nullable():
    # Topics array of a v0 Fetch request as null (-1)
    with pytest.raises(NullFieldError):
        FetchRequest.decode(struct.pack(">iiii", -1, 0, 0, -1), 0)
    # compact string null for VoteRequest.TopicData.TopicName
    with pytest.raises(NullFieldError):
        VoteRequest.decode(b"\x00" + b"\x02" + b"\x00", 0)


def test_array_count_beyond_the_remaining_bytes_allocates_nothing_big():
    body = struct.pack(">iiii", -1, 0, 0, 0x7FFFFFF0)
    tracemalloc.start()
    try:
        with pytest.raises(InvalidLengthError, match="collection of size"):
            FetchRequest.decode(body, 0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    # compact form: uvarint 0xFFFFFFFF
    with pytest.raises(InvalidLengthError):
        DescribeQuorumResponse.decode(b"\x00\x00" + b"\xff\xff\xff\xff\x0f", 0)


def test_invalid_utf8():
    topic = b"\x00\x03" + b"\xff\xfe\xfd" + struct.pack(">i", 0)
    with pytest.raises(InvalidStringError):
        VoteRequest.decode(b"\x04\xff\xfe\xfd", 0)
    with pytest.raises(InvalidStringError):
        FetchRequest.decode(struct.pack(">iiiii", -1, 0, 0, 0, 1) + topic, 3)


def test_string_over_the_maximum_length_is_rejected():
    too_long = b"\x81\x80\x02" + b"a" * 0x8000  # compact length 0x8000 + 1
    with pytest.raises(InvalidStringError, match="invalid length 32768"):
        VoteRequest.decode(too_long, 0)
    just_fits = b"\x80\x80\x02" + b"a" * 0x7FFF
    with pytest.raises(BufferUnderflowError):  # the string is fine; the body ends after it
        VoteRequest.decode(just_fits, 0)


def test_varint_too_long():
    with pytest.raises(InvalidVarintError):
        VoteRequest.decode(b"\x80\x80\x80\x80\x80\x01", 0)


def test_known_tag_outside_its_tagged_versions():
    # FetchResponse v12 top level with tag 0 (NodeEndpoints, tagged only from v16)
    body = struct.pack(">ihi", 0, 0, 0) + b"\x01" + b"\x01\x00\x01\x01"
    with pytest.raises(InvalidTaggedFieldError):
        FetchResponse.decode(body, 12)
    FetchResponse.decode(body, 16)


def test_tagged_field_running_past_the_end():
    body = struct.pack(">ihi", 0, 0, 0) + b"\x01" + b"\x05\x10\x00"
    with pytest.raises(BufferUnderflowError):
        FetchResponse.decode(body, 16)


def test_decode_at_a_version_outside_the_valid_range():
    with pytest.raises(UnsupportedVersionError) as info:
        VoteRequest.decode(b"", 3)
    assert info.value.api_key == 52
    with pytest.raises(UnsupportedVersionError):
        ApiVersionsRequest().encode(6)


def test_every_error_is_a_protocol_error():
    for error in (MalformedFrameError, FrameTooLargeError, UnknownApiKeyError, UnsupportedVersionError,
                  BufferUnderflowError, InvalidLengthError, InvalidStringError, InvalidVarintError,
                  InvalidTaggedFieldError, NullFieldError):
        assert issubclass(error, ProtocolError)


def test_response_header_errors_carry_api_and_version():
    with pytest.raises(BufferUnderflowError) as info:
        read_response(_frame(b"\x00\x00"), 1, 12)
    assert (info.value.api_key, info.value.api_version) == (1, 12)
    assert ResponseHeader.decode(b"\x00\x00\x00\x07\x00", 1).correlation_id == 7
