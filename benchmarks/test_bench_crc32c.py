"""CRC-32C throughput: kraft.crc32c against the crc32c package, same buffers,
same run.  GB/s (from the median) is in each result's extra_info.

Run: pytest benchmarks/test_bench_crc32c.py --benchmark-only --benchmark-group-by=group
"""
import os

import crc32c as crc32c_package
import pytest

from kraft import checksum, crc32c

SIZES = {"64B": 64, "1KiB": 1024, "16KiB": 16 * 1024, "1MiB": 1 << 20, "16MiB": 16 << 20}
PEERS = {"kraft": crc32c, "crc32c-package": crc32c_package.crc32c}


@pytest.fixture(scope="module")
def buffers():
    return {name: os.urandom(size) for name, size in SIZES.items()}


@pytest.mark.parametrize("peer", sorted(PEERS))
@pytest.mark.parametrize("size", list(SIZES))
def test_crc32c(benchmark, buffers, size, peer):
    assert checksum.IMPLEMENTATION == "native"
    assert crc32c_package.hardware_based
    data = buffers[size]
    function = PEERS[peer]
    benchmark.group = f"crc32c {size}"
    rounds = 2000 if SIZES[size] <= 16384 else 200 if SIZES[size] <= 1 << 20 else 20
    result = benchmark.pedantic(function, args=(data,), rounds=rounds, iterations=100 if SIZES[size] <= 1024 else 1,
                                warmup_rounds=2)
    assert result == crc32c_package.crc32c(data)
    benchmark.extra_info["GB/s"] = round(len(data) / benchmark.stats.stats.median / 1e9, 2)
