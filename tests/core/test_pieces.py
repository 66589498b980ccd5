"""The small pure pieces: request manager, batch-header scanner, version choice, the in-memory log."""
import random
import struct

import pytest
from hypothesis import given, strategies as st

from kraft.core import rpc
from kraft.core.batches import scan_batches
from kraft.core.log import OffsetAndEpoch, ValidationKind
from kraft.core.memory import LeaderBatch, MemoryLog, decode_batches, encode_batch
from kraft.core.request_manager import RequestManager
from kraft.errors import CorruptRecordError


# ------------------------------------------------------------- request manager
def test_request_manager_states():
    rm = RequestManager(request_timeout_ms=100, retry_backoff_ms=20)
    assert rm.is_ready(1, 0) and not rm.is_backing_off(1, 0)
    rm.on_request_sent(1, 7, 0)
    assert not rm.is_ready(1, 50) and rm.remaining_request_time_ms(1, 50) == 50
    assert rm.is_response_expected(1, 7) and not rm.is_response_expected(1, 8)
    rm.on_response_result(1, 8, True, 60)  # not the awaited one: ignored
    assert not rm.is_ready(1, 60)
    rm.on_response_result(1, 7, False, 60)
    assert rm.is_backing_off(1, 79) and rm.remaining_backoff_ms(1, 70) == 10
    assert rm.is_ready(1, 80)
    rm.on_request_sent(1, 9, 100)
    assert rm.has_request_timed_out(1, 200) and rm.is_ready(1, 200)
    rm.on_request_sent(2, 1, 0)
    rm.on_response_result(2, 1, True, 5)
    assert rm.is_ready(2, 5)
    rm.on_request_sent(3, 1, 0)
    rm.reset_all()
    assert rm.is_ready(3, 1) and not rm.is_response_expected(3, 1)


def test_bootstrap_server_choice_waits_for_inflight_requests():
    rm = RequestManager(100, 20, bootstrap_servers=(-2, -3))
    rng = random.Random(1)
    first = rm.find_ready_bootstrap_server(0, rng)
    assert first in (-2, -3)
    rm.on_request_sent(first, 1, 0)
    assert rm.find_ready_bootstrap_server(10, rng) is None
    assert rm.backoff_before_available_bootstrap_server(10) == 90
    rm.on_response_result(first, 1, False, 10)
    assert rm.find_ready_bootstrap_server(11, rng) == ({-2, -3} - {first}).pop()


# ---------------------------------------------------------------- batch scanner
def test_scanner_reads_headers_and_cuts_a_partial_tail():
    data = encode_batch(LeaderBatch(0, 1, 5, (b"a", b"b"))) + encode_batch(LeaderBatch(2, 3, 5, (b"c",)))
    headers, span = scan_batches(data + data[:30])
    assert [(h.base_offset, h.last_offset, h.epoch, h.is_control) for h in headers] == [(0, 1, 1, False), (2, 2, 3, False)]
    assert span == len(data)
    assert scan_batches(b"") == ([], 0)


def test_scanner_rejects_bad_magic_short_length_and_backward_offsets():
    good = encode_batch(LeaderBatch(4, 1, 0, (b"a",)))
    with pytest.raises(CorruptRecordError, match="magic"):
        scan_batches(good[:16] + b"\x01" + good[17:])
    with pytest.raises(CorruptRecordError, match="smaller than a batch header"):
        scan_batches(good[:8] + struct.pack(">i", 10) + good[12:])
    with pytest.raises(CorruptRecordError, match="not increasing"):
        scan_batches(good + good)


@given(st.binary(max_size=300))
def test_scanner_on_arbitrary_bytes_returns_or_raises_corrupt_record(data):
    try:
        headers, span = scan_batches(data)
    except CorruptRecordError:
        return
    assert span <= len(data) and all(h.size >= 61 for h in headers)


@given(st.binary(min_size=1, max_size=200), st.integers(0, 199), st.integers(0, 255))
def test_scanner_on_mutated_batches(payload, where, byte):
    data = bytearray(encode_batch(LeaderBatch(0, 1, 0, (payload,))))
    data[where % len(data)] = byte
    try:
        scan_batches(bytes(data))
    except CorruptRecordError:
        pass


# -------------------------------------------------------------------- versions
@pytest.mark.parametrize("api,advertised,expected", [
    (rpc.VOTE, None, 0),
    (rpc.VOTE, {rpc.VOTE: (0, 1)}, 1),
    (rpc.VOTE, {rpc.VOTE: (0, 5)}, 2),
    (rpc.VOTE, {rpc.VOTE: (0, 2)}, 2),
    (rpc.VOTE, {rpc.FETCH: (0, 17)}, 0),
    (rpc.FETCH, None, 13),
    (rpc.FETCH, {rpc.FETCH: (0, 16)}, 16),
    (rpc.FETCH, {rpc.FETCH: (4, 17)}, 17),
    (rpc.FETCH, {rpc.FETCH: (4, 18)}, 18),
    (rpc.FETCH, {rpc.FETCH: (4, 19)}, 18),
    (rpc.END_QUORUM_EPOCH, {rpc.END_QUORUM_EPOCH: (0, 0)}, 0),
])
def test_choose_version(api, advertised, expected):
    assert rpc.choose_version(api, advertised) == expected


def test_choose_version_without_overlap_raises():
    with pytest.raises(ValueError, match="no common version"):
        rpc.choose_version(rpc.FETCH, {rpc.FETCH: (0, 12)})


def test_error_response_is_top_level_only():
    r = rpc.error_response(rpc.FETCH, 8, 17)
    assert isinstance(r, rpc.FetchResponse) and r.error_code == 8 and r.partition_count == 0


# ------------------------------------------------------------------ memory log
def _log(epochs):
    log = MemoryLog()
    for i, e in enumerate(epochs):
        log.append_as_leader(encode_batch(LeaderBatch(i, e, 0, (b"%d" % i,))), e)
    return log


def test_memory_log_epoch_lookups_and_validation():
    log = _log([1, 1, 3, 3, 3])
    assert log.end_offset_for_epoch(1) == OffsetAndEpoch(2, 1)
    assert log.end_offset_for_epoch(2) == OffsetAndEpoch(2, 1)
    assert log.end_offset_for_epoch(3) == OffsetAndEpoch(5, 3)
    assert log.end_offset_for_epoch(9) == OffsetAndEpoch(5, 3)
    assert log.validate_offset_and_epoch(0, 0).kind is ValidationKind.VALID
    assert log.validate_offset_and_epoch(2, 1).kind is ValidationKind.VALID
    assert log.validate_offset_and_epoch(3, 1).offset_and_epoch == OffsetAndEpoch(2, 1)
    assert log.validate_offset_and_epoch(4, 2).kind is ValidationKind.DIVERGING


def test_memory_log_truncation_crash_and_round_trip():
    log = _log([1, 1, 2])
    log.flush()
    log.append_as_leader(encode_batch(LeaderBatch(3, 4, 0, (b"late",))), 4)
    assert log.truncate_to_end_offset(OffsetAndEpoch(2, 1)) == 2 and log.end_offset == 2
    log.append_as_leader(encode_batch(LeaderBatch(2, 5, 0, (b"u",))), 5)
    log.crash()
    assert log.end_offset == 2 and log.last_fetched_epoch() == 1
    assert [b.records for b in decode_batches(log.read(0, 1 << 20).records)] == [(b"0",), (b"1",)]
    log.update_high_watermark(2)
    with pytest.raises(ValueError):
        log.truncate_to(1)
    with pytest.raises(CorruptRecordError):
        log.append_as_follower(encode_batch(LeaderBatch(7, 5, 0, (b"gap",))), 5)
