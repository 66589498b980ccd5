"""What it costs to know a batch's exact size in Kafka's format before encoding it.

The size is worked out arithmetically (``kraft.records.sizes.record_size`` per
record, as Kafka's ``BatchBuilder`` does); the peer is the obvious alternative,
encoding the batch as Kafka's record batch v2 and taking its length.

Run: pytest benchmarks/test_bench_batch_sizes.py --benchmark-only
"""
import pytest

from kraft.records import encode_batch
from kraft.records.constants import RECORD_BATCH_OVERHEAD
from kraft.records.sizes import record_size

SHAPES = {"1000x100B": [bytes(100)] * 1000, "100x1KiB": [bytes(1024)] * 100}


def batch_size(values):
    return RECORD_BATCH_OVERHEAD + sum(record_size(i, len(v)) for i, v in enumerate(values))


@pytest.mark.parametrize("shape", SHAPES)
def test_size_by_arithmetic(benchmark, shape):
    values = SHAPES[shape]
    expected = len(encode_batch(values, timestamp=0))
    assert benchmark(lambda: batch_size(values)) == expected


@pytest.mark.parametrize("shape", SHAPES)
def test_size_by_encoding_peer(benchmark, shape):
    values = SHAPES[shape]
    expected = batch_size(values)
    assert benchmark(lambda: len(encode_batch(values, timestamp=0))) == expected
