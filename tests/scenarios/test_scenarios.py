"""Scenario scripts for the Raft core, in the style of etcd's datadriven tests.

Each ``tests/scenarios/*.txt`` file is a story told to one node (the others are scripted):
a command, a ``----`` line, then the transcript the command must produce — every effect
the node emitted, one per line, and its state after — up to a blank line.  Lines starting
with ``#`` are comments.

Regenerate the transcripts after a deliberate change with ``KRAFT_REWRITE=1 pytest
tests/scenarios`` and read the diff: a transcript is a claim about behaviour.

Commands (``key=value`` arguments):

* ``start local=1 voters=1,2,3 [seed=0] [log-epochs=1,1,2] [vote-versions=2:2,3:1]`` — a fresh node
  (``log-epochs``: one single-record batch per epoch already in its log), started;
  ``vote-versions``: the highest Vote version each peer advertised (a peer at 2 speaks pre-vote,
  so the node runs Kafka 4.x's election; without it, 3.9's).
* ``tick ms=N`` — the clock moves on, then the node polls.  ``poll`` polls without moving it.
* ``recv-vote from=2 epoch=E [last-epoch=0] [last-offset=0] [pre-vote=true]``, ``recv-begin-epoch from=2 epoch=E``,
  ``recv-end-epoch from=2 epoch=E [successors=1,3]``,
  ``recv-fetch from=2 epoch=E offset=O last-epoch=L [wait=0]`` — a request arrives.
* ``reply-vote from=2 granted=true|false [epoch=E]`` — the oldest unanswered Vote to that node is
  answered in the node's epoch (or ``E``); ``reply-vote from=2 unsupported=true``: the driver
  could not send it at a version the peer has (top-level UNSUPPORTED_VERSION).  ``reply-fetch [from=2] [leader=2] [epoch=E] [hw=-1] [batches=E:N,...]`` answers
  the oldest unanswered Fetch (to ``from``, else to anyone) naming ``leader`` (default: who was
  asked) in ``epoch`` (default: the node's), with one batch of N records per ``E:N`` from the
  fetch offset, or (``snapshot=O@E``) sending the node to the leader's snapshot.
  ``reply-fetch-snapshot [from=2]`` answers the oldest FetchSnapshot with the whole snapshot (one
  single-record batch per offset below the snapshot's end) in one chunk.  ``reply-begin-epoch from=2`` acknowledges a BeginQuorumEpoch.
* ``append records=a,b`` — the leader queues records (in its epoch).
* ``resign`` — the leader of the current epoch is asked to resign.
"""
from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))

from raft_context import (  # noqa: E402
    RaftContext, begin_epoch, end_epoch, fetch_request, fetch_response, vote_request, vote_response,
)
from kraft.core import rpc  # noqa: E402
from kraft.core.batches import scan_batches  # noqa: E402
from kraft.core.effects import (  # noqa: E402
    AbandonSnapshotDownload, AppendAsFollower, AppendAsLeader, AppendSnapshotChunk, InstallSnapshot, PersistElection,
    Respond, Send, StartSnapshotDownload, TruncateToEndOffset,
)
from kraft.core.log import OffsetAndEpoch  # noqa: E402
from kraft.core.memory import LeaderBatch, encode_batch  # noqa: E402
from kraft.protocol.errors import Errors  # noqa: E402

HERE = Path(__file__).resolve().parent
SCRIPTS = sorted(HERE.glob("*.txt"))
REWRITE = os.environ.get("KRAFT_REWRITE") == "1"


# ------------------------------------------------------------------ the file format
def parse(text: str) -> list[tuple[str, list[str]]]:
    """``(command, expected lines)`` per block; comments and blank lines between blocks are skipped."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        if i >= len(lines) or lines[i].strip() != "----":
            raise ValueError(f"line {i}: command {line!r} is not followed by ----")
        i += 1
        expected = []
        while i < len(lines) and lines[i].strip():
            expected.append(lines[i].rstrip())
            i += 1
        blocks.append((line, expected))
    return blocks


def render(blocks: list[tuple[str, list[str]]], header: list[str]) -> str:
    out = list(header)
    for command, lines in blocks:
        out += [command, "----", *lines, ""]
    return "\n".join(out).rstrip("\n") + "\n"


# ------------------------------------------------------------------ transcripts
def _id(snapshot_id) -> str:
    return f"{snapshot_id.offset}@{snapshot_id.epoch}"


def _request(req) -> str:
    name = type(req).__name__.removesuffix("Request")
    if isinstance(req, rpc.VoteRequest):
        pre = " pre-vote" if req.pre_vote else ""
        return f"{name}{pre} epoch={req.candidate_epoch} last=({req.last_offset_epoch},{req.last_offset})"
    if isinstance(req, rpc.FetchRequest):
        return f"{name} epoch={req.current_leader_epoch} offset={req.fetch_offset} last-epoch={req.last_fetched_epoch}"
    if isinstance(req, rpc.EndQuorumEpochRequest):
        return f"{name} epoch={req.leader_epoch} successors={list(req.preferred_successors)}"
    if isinstance(req, rpc.FetchSnapshotRequest):
        return f"{name} epoch={req.current_leader_epoch} snapshot={_id(req.snapshot_id)} position={req.position}"
    if isinstance(req, rpc.BeginQuorumEpochRequest):
        return f"{name} epoch={req.leader_epoch}"
    return name


def _response(resp) -> str:
    name = type(resp).__name__.removesuffix("Response")
    if resp.error_code:
        return f"{name} top-level-error={resp.error_code}"
    if isinstance(resp, rpc.FetchResponse):
        text = (f"{name} error={resp.partition_error} leader={resp.current_leader_id} "
                f"epoch={resp.current_leader_epoch} hw={resp.high_watermark}")
        headers, _ = scan_batches(resp.records) if resp.records is not None and len(resp.records) else ([], 0)
        if headers:
            text += " batches=" + ",".join(f"{h.base_offset}-{h.last_offset}@{h.epoch}" for h in headers)
        if resp.diverging_epoch is not None:
            text += f" diverging=({resp.diverging_epoch.epoch},{resp.diverging_epoch.offset})"
        if resp.snapshot_id is not None:
            text += f" snapshot=({resp.snapshot_id.epoch},{resp.snapshot_id.offset})"
        return text
    text = f"{name} error={resp.partition_error} leader={resp.leader_id} epoch={resp.leader_epoch}"
    if isinstance(resp, rpc.VoteResponse):
        text += f" granted={str(resp.vote_granted).lower()}"
    return text


def describe(effect) -> str:
    kind = type(effect)
    if kind is Send:
        return f"send to={effect.destination} {_request(effect.request)}"
    if kind is Respond:
        return f"respond to={effect.destination} {_response(effect.response)}"
    if kind is PersistElection:
        e = effect.election
        voted = "none" if e.voted_key is None else e.voted_key.id
        leader = -1 if e.leader_id is None else e.leader_id  # the file's spelling, as the transcripts show it
        return f"persist-election epoch={e.epoch} leader={leader} voted={voted}"
    if kind is AppendAsLeader:
        b = effect.batch
        what = "control=LeaderChange" if b.control is not None else f"records={len(b.records)}"
        return f"append-as-leader {b.base_offset}-{b.last_offset}@{b.epoch} {what}"
    if kind is AppendAsFollower:
        return f"append-as-follower to={effect.last_offset}@{effect.epoch}"
    if kind is AppendSnapshotChunk:
        return f"append-snapshot-chunk snapshot={_id(effect.snapshot_id)} bytes={len(effect.data)}"
    if kind in (StartSnapshotDownload, InstallSnapshot, AbandonSnapshotDownload):
        name = "".join("-" + c.lower() if c.isupper() else c for c in kind.__name__).lstrip("-")
        return f"{name} snapshot={_id(effect.snapshot_id)}"
    if kind is TruncateToEndOffset:
        return f"truncate to={effect.new_end_offset}"
    fields = getattr(effect, "__dataclass_fields__", {})
    args = " ".join(f"{k.replace('_', '-')}={getattr(effect, k)}" for k in fields)
    name = "".join("-" + c.lower() if c.isupper() else c for c in kind.__name__).lstrip("-")
    return f"{name} {args}".rstrip()


def state(ctx: RaftContext) -> str:
    node = ctx.node
    leader = node.leader_id()
    hw = node.high_watermark
    end = node.end_offset
    return (f"state: {node.role.name} epoch={node.epoch} leader={'none' if leader is None else leader} "
            f"hw={'none' if hw is None else hw} end={end.offset}@{end.epoch}")


# ------------------------------------------------------------------ commands
def _args(words: list[str]) -> dict[str, str]:
    out = {}
    for w in words:
        key, _, value = w.partition("=")
        out[key] = value
    return out


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x)


class Story:
    def __init__(self):
        self.ctx: RaftContext | None = None

    def _take(self, source, api) -> Send:
        for send in self.ctx.sent:
            if (source is None or send.destination == source) and isinstance(send.request, api):
                self.ctx.sent.remove(send)
                return send
        raise AssertionError(f"no unanswered {api.__name__} to {source}")

    def run(self, command: str) -> list[str]:
        verb, *words = command.split()
        a = _args(words)
        ctx = self.ctx
        before = len(ctx.writes) if ctx is not None else 0
        if verb == "start":
            peer_versions = {}
            for spec in a.get("vote-versions", "").split(","):
                if spec:
                    peer, top = (int(x) for x in spec.split(":"))
                    peer_versions[peer] = {**rpc.SUPPORTED_VERSIONS, rpc.VOTE: (0, top)}
            self.ctx = ctx = RaftContext.build(local_id=int(a.get("local", 1)), voters=_ints(a.get("voters", "1,2,3")),
                                               seed=int(a.get("seed", 0)), log_epochs=_ints(a.get("log-epochs", "")),
                                               peer_versions=peer_versions)
        elif verb == "tick":
            ctx.advance(int(a["ms"]))
            ctx.poll()
        elif verb == "poll":
            ctx.poll()
        elif verb == "recv-vote":
            pre_vote = a.get("pre-vote") == "true"
            ctx.deliver(vote_request(int(a["epoch"]), int(a["from"]), last_epoch=int(a.get("last-epoch", 0)),
                                     last_offset=int(a.get("last-offset", 0)), pre_vote=pre_vote,
                                     version=2 if pre_vote else 1), source=int(a["from"]))
        elif verb == "recv-begin-epoch":
            ctx.deliver(begin_epoch(int(a["epoch"]), int(a["from"])), source=int(a["from"]))
        elif verb == "recv-end-epoch":
            ctx.deliver(end_epoch(int(a["epoch"]), int(a["from"]), successors=_ints(a.get("successors", ""))),
                        source=int(a["from"]))
        elif verb == "recv-fetch":
            ctx.deliver(fetch_request(int(a["epoch"]), int(a["from"]), offset=int(a["offset"]),
                                      last_epoch=int(a["last-epoch"]), max_wait=int(a.get("wait", 0))),
                        source=int(a["from"]))
        elif verb == "reply-vote":
            send = self._take(int(a["from"]), rpc.VoteRequest)
            if a.get("unsupported") == "true":
                ctx.answer(send, rpc.error_response(rpc.VOTE, Errors.UNSUPPORTED_VERSION, send.request.api_version))
            else:
                ctx.answer(send, vote_response(int(a.get("epoch", ctx.node.epoch)), granted=a["granted"] == "true",
                                               version=send.request.api_version))
        elif verb == "reply-begin-epoch":
            send = self._take(int(a["from"]), rpc.BeginQuorumEpochRequest)
            ctx.answer(send, rpc.BeginQuorumEpochResponse(topic=send.request.topic, partition=0, leader_id=ctx.node.node_id,
                                                          leader_epoch=ctx.node.epoch, api_version=send.request.api_version))
        elif verb == "reply-fetch":
            send = self._take(int(a["from"]) if "from" in a else None, rpc.FetchRequest)
            source = send.destination
            offset, records = send.request.fetch_offset, b""
            for spec in a.get("batches", "").split(","):
                if spec:
                    epoch, count = (int(x) for x in spec.split(":"))
                    values = tuple(b"r%d" % (offset + i) for i in range(count))
                    records += encode_batch(LeaderBatch(offset, epoch, 0, values))
                    offset += count
            response = fetch_response(int(a.get("epoch", ctx.node.epoch)), int(a.get("leader", source)),
                                      records=records, hw=int(a.get("hw", -1)))
            if "snapshot" in a:
                offset, epoch = (int(x) for x in a["snapshot"].split("@"))
                response = dataclasses.replace(response, snapshot_id=OffsetAndEpoch(offset, epoch))
            ctx.answer(send, response)
        elif verb == "reply-fetch-snapshot":
            send = self._take(int(a["from"]) if "from" in a else None, rpc.FetchSnapshotRequest)
            sid = send.request.snapshot_id
            data = b"".join(encode_batch(LeaderBatch(i, sid.epoch, 0, (b"s",))) for i in range(sid.offset))
            ctx.answer(send, rpc.FetchSnapshotResponse(
                topic=send.request.topic, snapshot_id=sid, current_leader_id=send.destination,
                current_leader_epoch=ctx.node.epoch, size=len(data), position=send.request.position,
                unaligned_records=data, api_version=send.request.api_version))
        elif verb == "append":
            ctx.client.schedule_append(ctx.node.epoch, [r.encode() for r in a["records"].split(",")])
        elif verb == "resign":
            ctx.client.resign(ctx.node.epoch)
        else:
            raise ValueError(f"unknown command {verb!r}")
        ctx = self.ctx
        lines = [describe(e) for e in ctx.writes[before:]]
        ctx.responses.clear()
        return lines + [state(ctx)]


# ------------------------------------------------------------------ the test
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_scenario(script: Path):
    text = script.read_text()
    header = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            header.append(line)
        else:
            break
    blocks = parse(text)
    story = Story()
    actual = [(command, story.run(command)) for command, _ in blocks]
    if REWRITE:
        script.write_text(render(actual, header))
        return
    for (command, expected), (_, got) in zip(blocks, actual):
        assert got == expected, f"{script.name}: {command}\nexpected:\n" + "\n".join(expected) + \
            "\ngot:\n" + "\n".join(got)


def test_the_scripts_are_there():
    assert {p.stem for p in SCRIPTS} >= {"election", "vote", "replication", "follower", "observer", "snapshot"}


def test_a_wrong_transcript_fails(tmp_path, monkeypatch):
    """The runner compares: a transcript with one line changed does not pass."""
    monkeypatch.setattr(sys.modules[__name__], "REWRITE", False)
    story = Story()
    right = story.run("start local=1 voters=1")
    assert right[-1].startswith("state: Leader epoch=1 leader=1")
    wrong = right[:-1] + [right[-1].replace("Leader", "Follower")]
    script = tmp_path / "wrong.txt"
    script.write_text(render([("start local=1 voters=1", wrong)], []))
    with pytest.raises(AssertionError):
        test_scenario(script)
    script.write_text(render([("start local=1 voters=1", right)], []))
    test_scenario(script)
    with pytest.raises(ValueError):
        parse("start local=1\nno separator\n")
