"""Quorum arithmetic as pure functions: timeouts, backoffs, high watermark."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

from kraft.core.types import ReplicaKey

#: Base of the binary exponential election backoff (Kafka's RETRY_BACKOFF_BASE_MS).
ELECTION_BACKOFF_BASE_MS = 100
CHECK_QUORUM_TIMEOUT_FACTOR = 1.5


def random_election_timeout_ms(election_timeout_ms: int, rng) -> int:
    """``T + uniform[0, T)``; 0 when T is 0."""
    if election_timeout_ms == 0:
        return 0
    return election_timeout_ms + rng.randrange(election_timeout_ms)


def binary_exponential_backoff_ms(retries: int, backoff_max_ms: int, rng) -> int:
    """Backoff after a failed election: ``min(100 * rand[0, 2^min(retries, 21)), max)``."""
    if retries <= 0:
        raise ValueError(f"retries {retries} should be larger than zero")
    return min(ELECTION_BACKOFF_BASE_MS * rng.randrange(2 << min(20, retries - 1)), backoff_max_ms)


def strict_exponential_backoff_ms(position: int, total: int, backoff_max_ms: int) -> int:
    """Fetch-timeout override after EndQuorumEpoch, from the position in the successor list."""
    if position == 0:
        return 0
    if position < 0 or position >= total:
        return backoff_max_ms
    base = backoff_max_ms >> (total - 1)
    return min(backoff_max_ms, base << (position - 1))


def successor_position(candidates: Sequence[ReplicaKey], local: ReplicaKey) -> int:
    """Index of the local replica in a preferred-candidate list (``len`` if absent).

    An entry matches on id when it has no directory id, else on id and directory.
    """
    for position, candidate in enumerate(candidates):
        if candidate.id == local.id and (candidate.directory_id is None or candidate.directory_id == local.directory_id):
            return position
    return len(candidates)


def high_watermark_candidate(voter_end_offsets: Mapping[ReplicaKey, Optional[int]]) -> Optional[int]:
    """The offset a majority of voters hold: sort known end offsets descending
    (ties by key, unknown last) and take index ``n // 2``; ``None`` if unknown."""
    ordered = sorted(
        voter_end_offsets.items(),
        key=lambda kv: (kv[1] is None, -(kv[1] or 0), kv[0].id, kv[0].directory_or_zero.bytes),
    )
    return ordered[len(ordered) // 2][1]


def majority(voter_count: int) -> int:
    return voter_count // 2 + 1
