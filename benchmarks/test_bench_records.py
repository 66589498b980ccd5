"""Record batch encode and decode: kraft.records against aiokafka's Cython
DefaultRecordBatchBuilder / DefaultRecordBatch, same records, same run.

Decode = parse the batch, check its CRC and read every value.  Workloads:
1,000 records of 256 bytes and 100 records of 16 KiB, uncompressed and lz4.
"memcpy" copies the same number of bytes once, as the reference for the
16 KiB case.  Records/s and MB/s (from the median) are in extra_info.

Run: pytest benchmarks/test_bench_records.py --benchmark-only --benchmark-group-by=group
"""
import os

import pytest
from aiokafka.record._crecords import default_records as aiokafka_records

import kraft.records
from kraft.records import decode_batches, encode_batch

WORKLOADS = {"1000x256B": (1000, 256), "100x16KiB": (100, 16 * 1024)}
CODECS = {"none": 0, "lz4": 3}
TIMESTAMP = 1_700_000_000_000


@pytest.fixture(scope="module", params=list(WORKLOADS))
def workload(request):
    count, size = WORKLOADS[request.param]
    values = [os.urandom(size // 2) + bytes(size - size // 2) for _ in range(count)]  # half compressible
    return request.param, values


def aiokafka_encode(values, codec):
    builder = aiokafka_records.DefaultRecordBatchBuilder(
        magic=2, compression_type=codec, is_transactional=0, producer_id=-1, producer_epoch=-1,
        base_sequence=-1, batch_size=1 << 30)
    for offset, value in enumerate(values):
        builder.append(offset, timestamp=TIMESTAMP, key=None, value=value, headers=[])
    return bytes(builder.build())


def aiokafka_decode(data):
    batch = aiokafka_records.DefaultRecordBatch(data)
    if not batch.validate_crc():
        raise AssertionError("bad CRC")
    count = 0
    for record in batch:
        record.value
        count += 1
    return count


def kraft_encode(values, compression):
    return encode_batch(values, timestamp=TIMESTAMP, compression=compression)


def kraft_decode(data):
    count = 0
    for batch in decode_batches(data):  # checks each batch's CRC
        for record in batch:
            record.value
            count += 1
    return count


def kraft_decode_values(data):
    count = 0
    for batch in decode_batches(data):
        count += len(batch.values())
    return count


def report(benchmark, count, size):
    median = benchmark.stats.stats.median
    benchmark.extra_info["records/s"] = round(count / median)
    benchmark.extra_info["MB/s"] = round(count * size / median / 1e6)


def test_the_peers_are_the_compiled_ones():
    assert kraft.records.IMPLEMENTATION == "native"
    assert aiokafka_records.DefaultRecordBatchBuilder.__module__ == "aiokafka.record._crecords.default_records"


@pytest.mark.parametrize("compression", list(CODECS))
@pytest.mark.parametrize("peer", ["kraft", "aiokafka"])
def test_encode(benchmark, workload, compression, peer):
    name, values = workload
    benchmark.group = f"encode {name} {compression}"
    if peer == "kraft":
        data = benchmark(kraft_encode, values, compression)
    else:
        data = benchmark(aiokafka_encode, values, CODECS[compression])
    assert kraft_decode(data) == aiokafka_decode(data) == len(values)
    report(benchmark, len(values), len(values[0]))


@pytest.mark.parametrize("compression", list(CODECS))
@pytest.mark.parametrize("peer", ["kraft", "kraft-values", "aiokafka"])
def test_decode(benchmark, workload, compression, peer):
    name, values = workload
    benchmark.group = f"decode {name} {compression}"
    data = kraft_encode(values, compression)
    function = {"kraft": kraft_decode, "kraft-values": kraft_decode_values, "aiokafka": aiokafka_decode}[peer]
    assert benchmark(function, data) == len(values)
    report(benchmark, len(values), len(values[0]))


@pytest.mark.parametrize("direction", ["encode", "decode"])
def test_memcpy_reference(benchmark, workload, direction):
    name, values = workload
    benchmark.group = f"{direction} {name} none"
    data = bytearray(kraft_encode(values, "none"))
    benchmark(bytes, data)
    report(benchmark, len(values), len(values[0]))
