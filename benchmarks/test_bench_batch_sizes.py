"""What it costs to know a committed batch's exact size in Kafka's format.

The size is worked out arithmetically (``records_size``: varint widths per
record, cached per value length); the peer is the obvious alternative,
encoding the batch as Kafka's record batch v2 and taking its length.

Run: pytest benchmarks/test_bench_batch_sizes.py --benchmark-only
"""
import pytest

from kraft.core.accumulator import BATCH_HEADER_SIZE, records_size
from kraft.records import encode_batch

SHAPES = {"1000x100B": [bytes(100)] * 1000, "100x1KiB": [bytes(1024)] * 100}


@pytest.mark.parametrize("shape", SHAPES)
def test_size_by_arithmetic(benchmark, shape):
    values = SHAPES[shape]
    expected = len(encode_batch(values, timestamp=0))
    assert benchmark(lambda: BATCH_HEADER_SIZE + records_size(values)) == expected


@pytest.mark.parametrize("shape", SHAPES)
def test_size_by_encoding_peer(benchmark, shape):
    values = SHAPES[shape]
    expected = BATCH_HEADER_SIZE + records_size(values)
    assert benchmark(lambda: len(encode_batch(values, timestamp=0))) == expected
