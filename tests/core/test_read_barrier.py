"""The leader's read barrier (a linearizable read point): confirmed by a round of fetches from a
majority of voters after it was asked, each voter's confirming Fetch sent after the leader answered
one of its fetches after the barrier."""
from __future__ import annotations

import pytest

from kraft.core.errors import NotLeaderError

from raft_context import RaftContext, begin_epoch, endpoints_of, fetch_request


def leader_with_committed_epoch():
    ctx = RaftContext.build(local_id=1, voters=(1, 2, 3))
    ctx.become_leader()
    epoch = ctx.node.epoch
    ctx.deliver(fetch_request(epoch, 2, offset=1, last_epoch=epoch))  # voter 2 has the epoch's first batch
    assert ctx.node.high_watermark == 1
    ctx.responses.clear()
    return ctx, epoch


def test_one_fetch_after_the_barrier_is_not_enough_two_are():
    ctx, epoch = leader_with_committed_epoch()
    barrier = ctx.client.request_read_barrier()
    assert ctx.client.read_barrier_result(barrier) == (False, None)
    # this fetch may have been sent before the barrier: it only primes voter 2
    ctx.deliver(fetch_request(epoch, 2, offset=1, last_epoch=epoch))
    ctx.poll()
    assert ctx.client.read_barrier_result(barrier) == (False, None)
    # sent after the leader's answer to the first: voter 2 still followed this leader after the barrier
    ctx.deliver(fetch_request(epoch, 2, offset=1, last_epoch=epoch))
    assert ctx.client.read_barrier_result(barrier) == (True, 1)
    with pytest.raises(NotLeaderError):  # reported once, then forgotten
        ctx.client.read_barrier_result(barrier)


def test_held_fetches_are_answered_at_once_and_their_voters_next_fetch_confirms():
    ctx, epoch = leader_with_committed_epoch()
    ctx.deliver(fetch_request(epoch, 3, offset=1, last_epoch=epoch, max_wait=500), source=3)
    assert ctx.responses == []  # nothing new for voter 3: the leader holds its fetch
    barrier = ctx.client.request_read_barrier()
    ctx.poll()
    assert len(ctx.responses) == 1 and ctx.responses[0].destination == 3  # answered now, not after 500 ms
    assert ctx.client.read_barrier_result(barrier) == (False, None)
    ctx.deliver(fetch_request(epoch, 3, offset=1, last_epoch=epoch, max_wait=500), source=3)
    assert ctx.client.read_barrier_result(barrier) == (True, 1)


def test_fetches_of_an_old_epoch_and_of_observers_do_not_count():
    ctx, epoch = leader_with_committed_epoch()
    barrier = ctx.client.request_read_barrier()
    for _ in range(3):
        ctx.deliver(fetch_request(epoch - 1, 2, offset=1, last_epoch=epoch - 1))
        ctx.deliver(fetch_request(epoch, 7, offset=1, last_epoch=epoch), source=7)
    assert ctx.client.read_barrier_result(barrier) == (False, None)


def test_a_barrier_fails_when_the_leadership_is_lost_and_only_a_leader_accepts_one():
    ctx, epoch = leader_with_committed_epoch()
    barrier = ctx.client.request_read_barrier()
    ctx.deliver(begin_epoch(epoch + 1, 2, endpoints=endpoints_of(2)))
    assert ctx.role == "Follower"
    with pytest.raises(NotLeaderError):
        ctx.client.read_barrier_result(barrier)
    with pytest.raises(NotLeaderError):
        ctx.client.request_read_barrier()


def test_a_barrier_waits_for_the_epochs_first_commit():
    ctx = RaftContext.build(local_id=1, voters=(1, 2, 3))
    ctx.become_leader()
    epoch = ctx.node.epoch
    barrier = ctx.client.request_read_barrier()
    ctx.deliver(fetch_request(epoch, 2, offset=0, last_epoch=0))
    ctx.deliver(fetch_request(epoch, 2, offset=0, last_epoch=0))
    assert ctx.node.high_watermark is None
    assert ctx.client.read_barrier_result(barrier) == (False, None)  # confirmed, but no current state yet
    ctx.deliver(fetch_request(epoch, 2, offset=1, last_epoch=epoch))
    assert ctx.client.read_barrier_result(barrier) == (True, 1)


def test_a_single_voter_confirms_at_once():
    ctx = RaftContext.build(local_id=1, voters=(1,))
    ctx.poll_until_quiet()
    assert ctx.role == "Leader"
    barrier = ctx.client.request_read_barrier()
    ctx.poll()
    assert ctx.client.read_barrier_result(barrier) == (True, ctx.node.high_watermark)
