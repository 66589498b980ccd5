"""The replica's side of each raft RPC, one module per RPC.

Each module holds plain functions that take a :class:`~kraft.core.context.Context`
(the quorum state, the log view, the outbox, the transitions and the replica's
identity) as their first argument: building the request, handling it on the
receiving side and handling the response.  They never see the node, and hold no
state of their own.

* ``common`` — checks and response shapes shared by every RPC.
* ``vote`` — Vote.
* ``quorum_epoch`` — BeginQuorumEpoch and EndQuorumEpoch.
* ``fetch`` — Fetch: the leader's answer, parked fetches and the high watermark; the follower's appends.
* ``fetch_snapshot`` — FetchSnapshot: serving and downloading snapshots.
* ``describe_quorum`` — DescribeQuorum.
* ``update_voter`` — UpdateRaftVoter (receiving side).
"""
