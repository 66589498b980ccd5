"""The records field of Fetch and FetchSnapshot passes the batch bytes through without copying them."""
import tracemalloc

import pytest

from kraft.protocol import ResponseHeader, read_response, write_response
from kraft.protocol.messages import FetchResponse, FetchSnapshotResponse


def _fetch_response(records):
    partition = FetchResponse.PartitionData(partition_index=0, high_watermark=10, records=records)
    return FetchResponse(responses=[FetchResponse.FetchableTopicResponse(partitions=[partition])])


@pytest.mark.parametrize("make_input", [bytes, bytearray, memoryview])
def test_decoded_records_are_a_view_of_the_input(make_input):
    records = bytes(range(256)) * 64
    body = _fetch_response(records).encode(17)
    source = make_input(body)
    decoded = FetchResponse.decode(source, 17)
    view = decoded.responses[0].partitions[0].records
    assert isinstance(view, memoryview)
    assert view == records
    base = source.obj if isinstance(source, memoryview) else source
    assert view.obj is base
    if isinstance(source, bytearray):  # the same memory: a write to the input shows through
        start = body.index(records)
        source[start] ^= 0xFF
        assert view[0] == records[0] ^ 0xFF


def test_records_view_from_a_whole_frame():
    frame = write_response(ResponseHeader(correlation_id=3), _fetch_response(b"x" * 1000), 1, 17)
    _, message = read_response(frame, 1, 17)
    view = message.responses[0].partitions[0].records
    assert view.obj is frame and view == b"x" * 1000


def test_fetch_snapshot_unaligned_records_are_a_view():
    partition = FetchSnapshotResponse.PartitionSnapshot(index=0, unaligned_records=b"abc" * 100)
    response = FetchSnapshotResponse(topics=[FetchSnapshotResponse.TopicSnapshot(name="t", partitions=[partition])])
    body = response.encode(1)
    view = FetchSnapshotResponse.decode(body, 1).topics[0].partitions[0].unaligned_records
    assert isinstance(view, memoryview) and view.obj is body and view == b"abc" * 100


def test_encoding_copies_large_records_once():
    size = 16 << 20
    records = bytearray(size)
    message = _fetch_response(memoryview(records))
    header = ResponseHeader(correlation_id=1)
    tracemalloc.start()
    try:
        frame = write_response(header, message, 1, 17)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(frame) > size
    # the frame itself is one copy; a second copy of the records would double the peak
    assert peak < size * 1.25
    tracemalloc.start()
    try:
        body = message.encode(17)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(body) > size and peak < size * 1.25
