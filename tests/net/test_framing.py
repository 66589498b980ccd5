"""Frame encoding and incremental decoding under arbitrary partial reads."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, strategies as st

from kraft.net.errors import FrameError, FrameTooLargeError
from kraft.net.framing import FrameDecoder, encode_frame


def test_encode_frame_prefixes_size():
    assert encode_frame(b"abc") == b"\x00\x00\x00\x03abc"
    assert encode_frame(b"") == b"\x00\x00\x00\x00"


@given(st.lists(st.binary(max_size=300), max_size=10), st.data())
def test_any_split_of_the_stream_gives_the_same_frames(payloads, data):
    stream = b"".join(encode_frame(p) for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    decoder = FrameDecoder(1000)
    frames = []
    previous = 0
    for cut in cuts + [len(stream)]:
        frames.extend(decoder.feed(stream[previous:cut]))
        previous = cut
    assert frames == payloads
    assert decoder.buffered == 0


def test_partial_frame_is_buffered_until_complete():
    decoder = FrameDecoder(100)
    frame = encode_frame(b"hello")
    assert decoder.feed(frame[:3]) == []
    assert decoder.feed(frame[3:6]) == []
    assert decoder.buffered == 6
    assert decoder.feed(frame[6:] + frame[:2]) == [b"hello"]
    assert decoder.buffered == 2


def test_oversize_frame_refused_on_its_prefix_alone():
    decoder = FrameDecoder(100)
    with pytest.raises(FrameTooLargeError) as info:
        decoder.feed(struct.pack(">i", 101))
    assert info.value.size == 101 and info.value.max_bytes == 100
    assert "101" in str(info.value) and "100" in str(info.value)


def test_frame_of_exactly_the_maximum_is_accepted():
    decoder = FrameDecoder(100)
    assert decoder.feed(encode_frame(b"x" * 100)) == [b"x" * 100]


@pytest.mark.parametrize("size", [-1, -(2**31)])
def test_negative_size_is_a_frame_error(size):
    with pytest.raises(FrameError, match="invalid frame size"):
        FrameDecoder(100).feed(struct.pack(">i", size) + b"rest")


@given(st.binary(max_size=200))
def test_garbage_never_crashes_and_never_buffers_beyond_the_limit(garbage):
    decoder = FrameDecoder(64)
    try:
        for frame in decoder.feed(garbage):
            assert len(frame) <= 64
    except FrameError:
        return
    assert decoder.buffered <= 64 + 4
