"""QuorumConfig.leader_flush_async: the leader's flush runs in the background (Flush(background=True));
fetches are answered before it ends, and the leader counts itself in the high watermark only up to
its log's last flushed offset."""
from raft_context import RaftContext, fetch_request
from kraft.core import rpc
from kraft.core.apply import SnapshotDownloads, apply_output
from kraft.core.config import LEADER_FLUSH_ASYNC, QuorumConfig
from kraft.core.effects import Flush
from kraft.core.memory import decode_batches, encode_batch


class DeferredFlush(RaftContext):
    """A leader whose background flushes wait until the test completes them (``log.flush()``)."""

    requested = 0

    def _downloads(self) -> SnapshotDownloads:
        """The snapshot downloads into the current log (a new log starts with none)."""
        if getattr(self, "_downloads_log", None) is not self.log:
            self._downloads_log, self._snapshot_downloads = self.log, SnapshotDownloads()
        return self._snapshot_downloads

    def _apply(self, output):
        self.outputs.append(output)
        self.writes.extend(output.effects)

        def background_flush():
            self.requested += 1
        apply_output(output, log=self.log, store=self, transport=self, encode_batch=encode_batch,
                     downloads=self._downloads(),
                     background_flush=background_flush)
        return output


def leader(voters=(1, 2, 3)):
    ctx = DeferredFlush.build(voters=voters, config=QuorumConfig(leader_flush_async=True, append_linger_ms=0))
    ctx.become_leader()
    ctx.log.flush()          # the LeaderChange record: flushed, and the leader told so at its next call
    ctx.poll()
    return ctx


def append(ctx, *records):
    ctx.client.schedule_append(ctx.node.epoch, list(records))
    ctx.poll()


def high_watermark(ctx):
    return ctx.node.high_watermark


def test_the_leaders_flush_is_a_background_flush_and_only_flushed_offsets_count_for_the_leader():
    ctx = leader(voters=(1, 2, 3))
    start = ctx.log.end_offset
    ctx.deliver(fetch_request(ctx.node.epoch, replica=2, offset=start, last_epoch=ctx.node.epoch), source=2)
    ctx.responses.clear()
    assert high_watermark(ctx) == start
    append(ctx, b"a", b"b", b"c")
    assert any(isinstance(e, Flush) and e.background for e in ctx.writes)
    end = ctx.log.end_offset
    assert end == start + 3 and ctx.log.last_flushed_offset == start
    # follower 2 has the new records; follower 3 has nothing: a majority needs the leader itself,
    # whose flush has not ended
    ctx.deliver(fetch_request(ctx.node.epoch, replica=2, offset=end, last_epoch=ctx.node.epoch), source=2)
    for _ in range(3):
        ctx.poll()
    assert high_watermark(ctx) <= ctx.log.last_flushed_offset == start
    assert ctx.log.high_watermark <= start
    ctx.log.flush()          # the background flush ends; the driver polls the core
    ctx.poll()
    assert high_watermark(ctx) == end


def test_a_single_voter_commits_only_what_it_flushed():
    ctx = leader(voters=(1,))
    start = high_watermark(ctx)
    append(ctx, b"x")
    ctx.poll()
    assert high_watermark(ctx) == start == ctx.log.last_flushed_offset
    ctx.log.flush()
    ctx.poll()
    assert high_watermark(ctx) == ctx.log.end_offset == start + 1


def test_a_parked_fetch_is_answered_with_the_new_records_before_the_flush_ends():
    ctx = leader(voters=(1, 2, 3))
    start = ctx.log.end_offset
    ctx.deliver(fetch_request(ctx.node.epoch, replica=2, offset=start, last_epoch=ctx.node.epoch, max_wait=500),
                source=2)
    assert ctx.responses == []       # parked: nothing to send yet
    append(ctx, b"p", b"q")
    ctx.poll()
    assert ctx.log.last_flushed_offset == start < ctx.log.end_offset    # still flushing
    response = ctx.response()
    assert isinstance(response, rpc.FetchResponse) and response.error_code == 0
    (batch,) = decode_batches(response.records)
    assert batch.records == (b"p", b"q")
    assert response.high_watermark <= start


def test_without_the_option_the_leader_flushes_in_line_as_before():
    ctx = RaftContext.build(config=QuorumConfig(append_linger_ms=0))
    ctx.become_leader()
    append(ctx, b"a")
    assert [e for e in ctx.writes if isinstance(e, Flush)] and not any(
        e.background for e in ctx.writes if isinstance(e, Flush))
    assert ctx.log.last_flushed_offset == ctx.log.end_offset


def test_the_option_round_trips_through_properties():
    assert QuorumConfig.from_properties({LEADER_FLUSH_ASYNC: "true"}).leader_flush_async
    assert not QuorumConfig().leader_flush_async
    assert QuorumConfig(leader_flush_async=True).to_properties()[LEADER_FLUSH_ASYNC] == "true"


def test_describe_quorum_gives_the_leaders_log_end_while_its_flush_runs():
    ctx = leader(voters=(1, 2, 3))
    append(ctx, b"d")
    assert ctx.log.last_flushed_offset < ctx.log.end_offset
    ctx.responses.clear()
    ctx.deliver(rpc.DescribeQuorumRequest(topic=ctx.node.topic, partition=0, api_version=2), source=9)
    voters = {s.replica_id: s for s in ctx.response().current_voters}
    assert voters[1].log_end_offset == ctx.log.end_offset     # as Kafka's leader reports its end offset
