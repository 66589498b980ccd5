"""The leader's workload against a fake Raft client and a hand-driven clock."""
from __future__ import annotations

import asyncio
import io

from kraft.core.errors import NotLeaderError
from kraft.core.types import LeaderAndEpoch
from kraft.tools.workload import Workload

from batch_util import committed_batch
from quorum_util import STATS


class FakeClient:
    def __init__(self):
        self.listener = None
        self.epoch = None
        self.appended = []  # (epoch, offset, record)
        self.next_offset = 1  # offset 0 holds the epoch's LeaderChange record

    def register(self, listener):
        self.listener = listener

    def schedule_append(self, epoch, records):
        if epoch != self.epoch:
            raise NotLeaderError(f"not the leader of epoch {epoch}")
        for record in records:
            self.appended.append((epoch, self.next_offset, record))
            self.next_offset += 1
        return self.next_offset - 1


class Clock:
    def __init__(self, now=1_000_000):
        self.now = now

    def __call__(self):
        return self.now


async def settle(rounds=50):
    for _ in range(rounds):
        await asyncio.sleep(0)


def scenario(body):
    async def run():
        client, clock, out = FakeClient(), Clock(), io.StringIO()
        wakeups = []
        workload = Workload(client, 1, throughput=1000, record_size=64, clock=clock,
                            on_append=lambda: wakeups.append(clock.now), out=out)
        task = asyncio.ensure_future(workload.run())
        try:
            await body(client, clock, out, workload, wakeups)
        finally:
            task.cancel()
    asyncio.run(asyncio.wait_for(run(), 30))


def test_leader_appends_at_the_configured_rate_and_reports_commit_latency():
    async def body(client, clock, out, workload, wakeups):
        client.epoch = 3
        workload.handle_leader_change(LeaderAndEpoch(1, 3))
        await settle()
        assert client.appended == []  # nothing is due at the claim instant
        clock.now += 100
        await asyncio.sleep(0.01)
        await settle()
        assert [offset for _, offset, _ in client.appended] == list(range(1, 101))
        assert {record for _, _, record in client.appended} == {bytes(64)}
        assert wakeups  # the driver is told to poll after appends

        clock.now += 5000  # commit 5 s later: every latency is 5000 - (append time offset)
        workload.handle_commit([committed_batch(0, 3), committed_batch(1, 3, [r for *_, r in client.appended])])
        assert workload.committed_records == 100
        lines = out.getvalue().splitlines()
        assert len(lines) == 1 and STATS.match(lines[0])
        # Latencies above 250 ms land in Kafka's last bucket: 249.0.
        assert lines[0].endswith("249.0 p75 249.0 p99 249.0 p999")
    scenario(body)


def test_other_epochs_and_followers_are_not_measured():
    async def body(client, clock, out, workload, wakeups):
        workload.handle_leader_change(LeaderAndEpoch(2, 4))  # someone else leads
        clock.now += 1000
        await asyncio.sleep(0.01)
        assert client.appended == []
        clock.now += 5000
        workload.handle_commit([committed_batch(0, 4, (b"x",) * 10)])
        assert workload.committed_records == 0 and out.getvalue() == ""
    scenario(body)


def test_losing_leadership_stops_the_appends():
    async def body(client, clock, out, workload, wakeups):
        client.epoch = 5
        workload.handle_leader_change(LeaderAndEpoch(1, 5))
        clock.now += 10
        await asyncio.sleep(0.01)
        sent = len(client.appended)
        assert sent == 10
        client.epoch = 6
        workload.handle_leader_change(LeaderAndEpoch(2, 6))
        clock.now += 1000
        await asyncio.sleep(0.02)
        assert len(client.appended) == sent
    scenario(body)


def test_commit_out_of_order_stops_measuring_the_epoch():
    async def body(client, clock, out, workload, wakeups):
        client.epoch = 7
        workload.handle_leader_change(LeaderAndEpoch(1, 7))
        clock.now += 5
        await asyncio.sleep(0.01)
        assert len(client.appended) == 5
        workload.handle_commit([committed_batch(3, 7, (b"x",))])  # offset 1 was expected first
        assert workload.committed_records == 0
        clock.now += 10
        await asyncio.sleep(0.01)
        assert len(client.appended) == 5  # the claim was dropped
    scenario(body)


def test_records_due_together_are_one_append_and_may_commit_across_batches():
    async def body(client, clock, out, workload, wakeups):
        client.epoch = 2
        calls = []
        schedule = client.schedule_append

        def counting(epoch, records):
            calls.append(len(records))
            return schedule(epoch, records)
        client.schedule_append = counting
        workload.handle_leader_change(LeaderAndEpoch(1, 2))
        clock.now += 30  # 30 records due at once
        await asyncio.sleep(0.01)
        await settle()
        assert calls == [30]
        records = tuple(r for *_, r in client.appended)
        # The group commits in two batches, 1 ms and 4 ms after the append.
        clock.now += 1
        workload.handle_commit([committed_batch(1, 2, records[:10])])
        assert workload.committed_records == 10
        clock.now += 3
        workload.handle_commit([committed_batch(11, 2, records[10:])])
        assert workload.committed_records == 30
        stats = workload._stats
        assert stats.latency.percentile(0.3, clock.now) == 1.0
        assert stats.latency.percentile(0.5, clock.now) == 4.0
    scenario(body)


def test_big_records_are_appended_a_few_at_a_time_and_wait_for_commits_when_far_ahead():
    """The burst is capped in bytes as well as in records, and the appended-but-uncommitted bytes are
    bounded: an offered load far beyond what commits (2 MB records at 5000/s) cannot swamp the node."""
    from kraft.tools import workload as module

    async def run():
        client, clock = FakeClient(), Clock()
        sizes = []
        real = client.schedule_append

        def counting(epoch, records):
            sizes.append(sum(map(len, records)))
            return real(epoch, records)
        client.schedule_append = counting
        workload = Workload(client, 1, throughput=5000, record_size=2_000_000, clock=clock,
                            on_append=lambda: None, out=io.StringIO())
        task = asyncio.ensure_future(workload.run())
        try:
            client.epoch = 3
            workload.handle_leader_change(LeaderAndEpoch(1, 3))
            clock.now += 10_000  # 50,000 records (100 GB) are due
            await settle(2000)
            assert sizes and max(sizes) <= max(module._MAX_BURST_BYTES, 2_000_000)
            appended = sum(sizes)
            assert appended <= module._MAX_IN_FLIGHT_BYTES + 2_000_000, appended  # then it waits for commits
            count = len(client.appended)
            workload.handle_commit([committed_batch(0, 3), committed_batch(1, 3, [r for *_, r in client.appended])])
            await settle(2000)
            assert len(client.appended) > count  # commits let it go on
        finally:
            task.cancel()
    asyncio.run(asyncio.wait_for(run(), 30))


def test_a_new_leaders_first_line_waits_for_five_seconds_of_its_own_leadership():
    """After a fail-over the first commit came long after the process started: the line was printed at
    once, with a rate over the whole time it had not led (e.g. 17.07 bytes/s)."""
    async def body(client, clock, out, workload, wakeups):
        workload.handle_leader_change(LeaderAndEpoch(2, 4))  # following for a minute
        clock.now += 60_000
        workload.handle_commit([committed_batch(0, 4, (b"x",) * 10)])
        client.epoch = 5
        client.next_offset = 12
        workload.handle_leader_change(LeaderAndEpoch(1, 5))  # the fail-over: this node leads
        clock.now += 100
        await asyncio.sleep(0.01)
        await settle()
        first = [r for *_, r in client.appended]
        clock.now += 10
        workload.handle_commit([committed_batch(11, 5), committed_batch(12, 5, first)])
        assert workload.committed_records == len(first) > 0
        assert out.getvalue() == ""  # 110 ms of leadership: no rate yet
        clock.now += 5000
        await asyncio.sleep(0.01)
        await settle()
        rest = [r for *_, r in client.appended][len(first):]
        workload.handle_commit([committed_batch(12 + len(first), 5, rest)])
        lines = out.getvalue().splitlines()
        assert len(lines) == 1 and STATS.match(lines[0])
        rate = float(lines[0].split(": ")[1].split(",")[0])
        # Kafka's Rate over this leadership only (5.11 s, counted as a 30 s window plus it while young),
        # the line coming as the first record past the 5 s mark is recorded.
        assert 64 * (len(first) + 1) / 35.11 * 0.99 <= rate <= 64 * (len(first) + len(rest)) / 35.11 * 1.01
    scenario(body)


def test_a_stopping_or_lone_leader_never_logs_that_it_follows(caplog):
    async def body(client, clock, out, workload, wakeups):
        client.epoch = 1
        workload.handle_leader_change(LeaderAndEpoch(1, 1))
        workload.begin_shutdown()  # Ctrl-C: the claim is dropped while commits still arrive
        for _ in range(3):
            clock.now += 6000
            workload.handle_commit([committed_batch(0, 1)])
    with caplog.at_level("INFO", logger="kraft.workload"):
        scenario(body)
    assert not [r for r in caplog.records if "Following leader" in r.getMessage()], caplog.text
