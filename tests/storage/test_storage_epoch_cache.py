"""leader-epoch-checkpoint: Kafka's text format and LeaderEpochFileCache's rules."""
import pytest
from hypothesis import given, strategies as st

from kraft.storage import LeaderEpochCheckpointError
from kraft.storage.epoch_cache import LeaderEpochCache, format_checkpoint, parse_checkpoint


def test_file_format(tmp_path):
    cache = LeaderEpochCache(tmp_path / "leader-epoch-checkpoint")
    cache.assign(1, 0)
    cache.assign(3, 57)
    assert (tmp_path / "leader-epoch-checkpoint").read_bytes() == b"0\n2\n1 0\n3 57\n"
    assert LeaderEpochCache.load(tmp_path / "leader-epoch-checkpoint").entries() == [(1, 0), (3, 57)]
    assert not (tmp_path / "leader-epoch-checkpoint.tmp").exists()


@pytest.mark.parametrize("data, message", [
    (b"1\n0\n", "version"),
    (b"0\n2\n1 0\n", "expected 2"),
    (b"0\n1\n1\n", "malformed entry"),
    (b"0\n1\n1 2 3\n", "malformed entry"),
    (b"0\n1\nx 2\n", "malformed entry"),
    (b"0\n", "malformed version"),
    (b"0\n2\n3 5\n1 6\n", "ascending"),
    (b"0\n1\n-1 5\n", "negative"),
    (b"\xff", "ASCII"),
])
def test_malformed_checkpoints(tmp_path, data, message):
    with pytest.raises(LeaderEpochCheckpointError) as info:
        parse_checkpoint(data, tmp_path / "leader-epoch-checkpoint")
    assert message in str(info.value)
    assert "leader-epoch-checkpoint" in str(info.value)


def test_assign_rules():
    cache = LeaderEpochCache()
    assert cache.assign(1, 0)
    assert not cache.assign(1, 5)          # same epoch, later offset: no change
    assert cache.assign(2, 10)
    assert cache.assign(1, 3)              # older epoch: entries >= epoch 1 or >= offset 3 go
    assert cache.entries() == [(1, 3)]
    with pytest.raises(ValueError):
        cache.assign(-1, 0)


def test_end_offset_for():
    cache = LeaderEpochCache(entries=[(1, 0), (3, 57), (5, 100)])
    assert cache.end_offset_for(5, 120) == (5, 120)     # latest epoch: the log end
    assert cache.end_offset_for(3, 120) == (3, 100)
    assert cache.end_offset_for(4, 120) == (3, 100)     # largest epoch <= 4
    assert cache.end_offset_for(0, 120) == (0, 0)       # below every epoch
    assert cache.end_offset_for(6, 120) == (-1, -1)     # beyond: undefined
    assert cache.end_offset_for(-1, 120) == (-1, -1)
    assert LeaderEpochCache().end_offset_for(2, 5) == (-1, -1)


def test_truncations(tmp_path):
    cache = LeaderEpochCache(tmp_path / "c", [(1, 0), (3, 57), (5, 100)])
    cache.truncate_from_end(100)
    assert cache.entries() == [(1, 0), (3, 57)]
    cache.truncate_from_start(60)
    assert cache.entries() == [(3, 60)]
    assert parse_checkpoint((tmp_path / "c").read_bytes()) == [(3, 60)]
    cache.truncate_from_start(10)
    assert cache.entries() == [(3, 60)]
    cache.clear()
    assert cache.entries() == [] and (tmp_path / "c").read_bytes() == b"0\n0\n"


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 200)), max_size=30),
       st.integers(0, 22), st.integers(0, 300))
def test_end_offset_for_matches_a_linear_model(assigns, epoch, leo):
    cache = LeaderEpochCache()
    for e, o in assigns:
        cache.assign(e, o, flush=False)
    entries = cache.entries()
    assert entries == sorted(entries) and len({e for e, _ in entries}) == len(entries)
    assert all(a[1] < b[1] for a, b in zip(entries, entries[1:]))
    # the straightforward reading of Kafka's endOffsetFor
    if entries and entries[-1][0] == epoch:
        expected = (epoch, leo)
    else:
        higher = [x for x in entries if x[0] > epoch]
        lower = [x for x in entries if x[0] <= epoch]
        if not higher:
            expected = (-1, -1)
        elif not lower:
            expected = (epoch, higher[0][1])
        else:
            expected = (lower[-1][0], higher[0][1])
    assert cache.end_offset_for(epoch, leo) == expected
    assert parse_checkpoint(format_checkpoint(entries)) == entries
