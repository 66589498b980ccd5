"""A three-node quorum of test-kraft-server-start processes over mutual TLS (issue 18).

The nodes elect and commit over SSL controller listeners; a peer whose
certificate no node trusts is refused at the handshake (its Vote with a high
epoch never reaches the Raft layer) and a plaintext client is closed, each with
one rate-limited line on the server, while the quorum keeps committing.
"""
from __future__ import annotations

import asyncio
import re
import socket
import ssl
import struct
import time

import pytest

from kraft.net.api_versions import advertised_versions
from kraft.net.channel import PeerChannel
from kraft.protocol.messages import VoteRequest

from net.tls_certs import Pki, ssl_properties
from quorum_util import HIGH_WATERMARK, LEADER, Quorum

pytestmark = pytest.mark.integration

WAIT_S = 60
FAILED_AUTH = re.compile(r"Failed authentication with 127\.0\.0\.1:\d+ on listener PLAINTEXT \(SSL handshake failed")


def highest_watermark(node) -> int:
    return max((int(m.group(1)) for m in node.stderr.matches(HIGH_WATERMARK)), default=-1)


def wait_for_watermark_above(node, value, timeout=WAIT_S) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and highest_watermark(node) <= value:
        time.sleep(0.2)
    return highest_watermark(node)


def current_leader(quorum, timeout=WAIT_S):
    """(leader, epoch) once every node's latest line names the same leader and epoch."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        latest = {(int(m[-1].group(1)), int(m[-1].group(2))) if m else None
                  for m in (node.stderr.matches(LEADER) for node in quorum.nodes.values())}
        if len(latest) == 1 and None not in latest:
            return latest.pop()
        time.sleep(0.1)
    return None


@pytest.fixture
def mtls_quorum(tmp_path):
    ca = Pki(tmp_path / "pki")
    intruder_ca = Pki(tmp_path / "intruder", name="intruder-ca")
    extra = {}
    for node_id in (1, 2, 3):
        # node 1 takes its PEM inline, the others from files; the listener is named PLAINTEXT (the
        # test helper's name) and mapped to SSL, as Kafka allows
        props = ssl_properties(ca.issue(f"node{node_id}"), ca, inline_pem=node_id == 1)
        props["listener.security.protocol.map"] = "PLAINTEXT:SSL"
        extra[node_id] = props
    quorum = Quorum(tmp_path, 3, extra=extra, args=("--throughput", "2000", "--record-size", "100"))
    try:
        yield quorum, ca, intruder_ca.issue("intruder")
    finally:
        quorum.kill_all()


async def _intruder_vote(port: int, context: ssl.SSLContext):
    channel = PeerChannel("127.0.0.1", port, client_id="raft-client-2", advertised=advertised_versions(False),
                          request_timeout_ms=2000, connection_setup_timeout_ms=2000, ssl_context=context)
    vote = VoteRequest(cluster_id=None, topics=[VoteRequest.TopicData(
        topic_name="__raft_performance_test", partitions=[VoteRequest.PartitionData(
            partition_index=0, candidate_epoch=1000, candidate_id=2, last_offset_epoch=999,
            last_offset=1 << 40)])])
    try:
        return await channel.request(52, vote)
    except Exception as e:  # noqa: BLE001 - refusal is the expected outcome
        return e
    finally:
        await channel.close()


def _plaintext_api_versions(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(struct.pack(">ihhih", 10, 18, 0, 7, -1))
        received = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                received += chunk
        except ConnectionResetError:
            pass
        return received


def test_mtls_quorum_commits_and_refuses_untrusted_and_plaintext_peers(mtls_quorum):
    quorum, ca, intruder = mtls_quorum
    quorum.start()
    found = current_leader(quorum)
    assert found is not None, quorum.diagnostics()
    leader, _ = found
    followers = [n for n in quorum.nodes if n != leader]
    marks = {f: wait_for_watermark_above(quorum.nodes[f], 500) for f in followers}
    assert all(hw > 500 for hw in marks.values()), quorum.diagnostics()

    leader_port = quorum.ports[leader - 1]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(ca.ca_cert))
    context.load_cert_chain(str(intruder.keystore))
    outcome = asyncio.run(_intruder_vote(leader_port, context))
    assert isinstance(outcome, Exception), outcome
    reply = _plaintext_api_versions(leader_port)
    assert not reply.startswith(struct.pack(">i", len(reply) - 4)) or not reply, reply

    # the quorum keeps committing, and the intruder's epoch 1000 reached no node
    for f in followers:
        assert wait_for_watermark_above(quorum.nodes[f], marks[f] + 1000) > marks[f] + 1000, quorum.diagnostics()
    for node in quorum.nodes.values():
        assert all(int(m.group(2)) < 1000 for m in node.stderr.matches(LEADER)), quorum.diagnostics()
    lines = quorum.nodes[leader].stderr.matches(FAILED_AUTH)
    assert len(lines) == 1, quorum.diagnostics()          # both refusals, one line (rate-limited per host)
    for node_id, node in quorum.nodes.items():
        assert node.stop() == 0, quorum.diagnostics()
        assert "Traceback" not in node.stderr_text(), node.stderr_text()
