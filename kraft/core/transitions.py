"""The role transitions: every change of the local role, and what it means beyond the role.

:class:`~kraft.core.quorum_state.QuorumState` swaps the role in and writes the
election state durably first; :class:`Transitions` decides which role comes next
(Kafka's preconditions on epochs and identities) and does what the change means for
the rest of the replica: failing the fetches a leader held, resetting the request
manager, starting or dropping the leader's accumulator and its appended batches,
abandoning a snapshot download.  The node and the RPC modules change the role only
through it.
"""
from __future__ import annotations

from typing import Optional

from kraft.core import quorum as q
from kraft.core import voter_change
from kraft.core.accumulator import BatchAccumulator
from kraft.core.batches import encoded_control_batch
from kraft.core.context import Context
from kraft.core.effects import AbandonSnapshotDownload, Flush, InitializeLeaderEpoch, LeaderBatch, LeaderChangeMessage
from kraft.core.errors import FatalRaftError, IllegalTransitionError
from kraft.core.roles import (
    FOLLOWER, LEADER, Candidate, Follower, Leader, Prospective, ReplicaProgress, Resigned, Unattached,
)
from kraft.core.rpcs import fetch, vote
from kraft.core.types import EMPTY_ENDPOINTS, ElectionState, Endpoints, ReplicaKey
from kraft.protocol.errors import Errors

__all__ = ["Transitions"]

_NEVER = None


class Transitions:
    """The one way the local role changes (see the module docstring)."""

    __slots__ = ("_ctx", "_quorum", "_max_batch_size", "accumulator", "appended")

    def __init__(self, ctx: Context, max_batch_size: int):
        self._ctx = ctx
        self._quorum = ctx.quorum
        self._max_batch_size = max_batch_size
        #: the leader's batch accumulator (``None`` unless leading)
        self.accumulator: Optional[BatchAccumulator] = None
        #: batches appended in the current leader epoch, by base offset, until listeners are past them
        self.appended: dict[int, LeaderBatch] = {}

    def _random_election_timeout(self) -> int:
        return q.random_election_timeout_ms(self._ctx.config.election_timeout_ms, self._ctx.rng)

    # ---------------------------------------------------------------- start
    def start(self, stored: ElectionState, now: int) -> None:
        """Choose the initial role from the stored election state and the log, as Kafka does."""
        ctx, quorum = self._ctx, self._quorum
        node_id, voters = quorum.node_id, quorum.voters
        log_epoch = ctx.log_view.end.epoch
        deadline = now + self._random_election_timeout() if quorum.is_voter else _NEVER
        # what the new role does once it is in force (a candidate may win at once; a sole voter stands)
        then = self._stand_if_sole_voter
        if stored.epoch < log_epoch:
            role = Unattached(log_epoch, deadline)
        elif stored.leader_id == node_id:
            role = Resigned(stored.epoch, node_id, now + self._random_election_timeout(),
                            set(voters.ids - {node_id}), (), quorum.endpoints)
        elif stored.voted_key is not None and stored.has_leader:
            # Only Kafka 4.x's rules write a vote beside a leader (3.9 writes one or the other), so the
            # node wrote this file with 4.x peers and starts as 4.x does (QuorumState.initialize, 4.3.1
            # :204-243): following the leader, the vote kept (3.9.2 starts voted, without the leader,
            # :200).  Its own vote included: 4.x stands again in that epoch (:191), though it followed
            # someone there and its Vote, whose log may end in that epoch, is refused (INVALID_REQUEST).
            role = self._initial_follower(stored, deadline, now)
            if role.name == FOLLOWER:
                then = self._start_following
        elif stored.voted_key is not None and stored.voted_key.id == node_id and (
                stored.voted_key.directory_id is None or stored.voted_key.directory_id == quorum.local_key.directory_id
        ) and log_epoch < stored.epoch:
            # A vote for ourselves with the log already holding that epoch's batches (the file keeps
            # only the vote) means we followed someone in that epoch: standing again in it would send a
            # Vote whose log ends in its own epoch, which every voter refuses as INVALID_REQUEST.  Such
            # a node starts unattached with its vote, below, and stands in the next epoch.
            role = Candidate(stored.epoch, quorum.local_key, voters.ids, 1, now + self._random_election_timeout())
            then = self._on_become_candidate
        elif stored.voted_key is not None:
            role = Unattached(stored.epoch, deadline, voted_key=stored.voted_key)
        elif stored.has_leader:
            role = self._initial_follower(stored, deadline, now)
            if role.name == FOLLOWER:
                then = self._start_following
        else:
            role = Unattached(stored.epoch, deadline)
        quorum.initialize(role)
        then(now)

    def _initial_follower(self, stored: ElectionState, deadline: Optional[int], now: int):
        """Follow the stored leader with the stored vote, or wait unattached knowing both when the
        leader's endpoints are unknown (it is not in the voter set)."""
        endpoints = self._quorum.voters.endpoints(stored.leader_id)
        if endpoints:
            return Follower(stored.epoch, stored.leader_id, endpoints, now + self._ctx.config.fetch_timeout_ms,
                            voted_key=stored.voted_key)
        return Unattached(stored.epoch, deadline, voted_key=stored.voted_key, leader_id=stored.leader_id)

    def _start_following(self, now: int) -> None:
        self._ctx.request_manager.reset_all()
        self._stand_if_sole_voter(now)

    def _stand_if_sole_voter(self, now: int) -> None:
        if self._quorum.is_voter and len(self._quorum.voters) == 1:
            self.to_candidate(now)

    # ---------------------------------------------------------------- moves
    def _durable(self, new_role) -> None:
        self._left(self._quorum.transition(new_role))

    def _left(self, old) -> None:
        leave = _ON_LEAVE.get(old.name)
        if leave is not None:
            leave(self, old)

    def _left_leader(self, old: Leader) -> None:
        voter_change.leader_left(self._ctx, old)
        self.accumulator = None
        self.appended.clear()

    def _left_follower(self, old: Follower) -> None:
        if old.snapshot_id is not None:
            self._ctx.outbox.emit(AbandonSnapshotDownload(old.snapshot_id))

    def to_unattached(self, epoch: int, now: int, leader_id: Optional[int] = None) -> None:
        """Enter ``epoch`` with no leader, or (``leader_id``) with a leader whose endpoints are unknown.

        Only a prospective node stays in its epoch (a lost pre-vote round); it keeps its vote."""
        quorum = self._quorum
        role = quorum.role
        prospective = quorum.prospective_state()
        same_epoch = epoch == role.epoch and prospective is not None
        if epoch <= role.epoch and not same_epoch:
            raise IllegalTransitionError(f"cannot become Unattached in epoch {epoch} from {role}")
        if not quorum.is_voter:
            deadline = _NEVER
        elif (quorum.candidate_state() is not None or quorum.unattached_state() is not None
              or (prospective is not None and not prospective.is_vote_rejected())):
            deadline = role.election_deadline_ms
        else:
            deadline = now + self._random_election_timeout()
        was_leader_like = role.leader_like
        voted_key = role.voted_key if same_epoch else None
        self._durable(Unattached(epoch, deadline, voted_key=voted_key, leader_id=leader_id))
        if was_leader_like:
            fetch.fail_parked(self._ctx, Errors.NOT_LEADER_OR_FOLLOWER)
        self._ctx.request_manager.reset_all()

    def to_voted(self, epoch: int, candidate: ReplicaKey, now: int) -> None:
        if candidate.id == self._quorum.node_id:
            raise IllegalTransitionError("cannot vote for the local node as another candidate")
        role = self._quorum.role
        if epoch < role.epoch or (epoch == role.epoch and not role.may_vote):
            raise IllegalTransitionError(f"cannot vote in epoch {epoch} from {role}")
        prospective = self._quorum.prospective_state()
        if prospective is not None and epoch == prospective.epoch:
            # Kafka 4.x: a prospective node that votes stays prospective, its vote now recorded
            p = prospective
            self._durable(Prospective(p.epoch, p.local_key, p.voter_ids, now + self._random_election_timeout(),
                                      p.leader_id, p.leader_endpoints, candidate,
                                      set(p.granted), set(p.rejected), set(p.unreachable)))
            return
        self._durable(Unattached(epoch, now + self._random_election_timeout(), voted_key=candidate))

    def to_follower(self, epoch: int, leader_id: int, endpoints: Endpoints, now: int) -> None:
        quorum = self._quorum
        role = quorum.role
        if not endpoints:
            raise FatalRaftError(f"leader {leader_id} of epoch {epoch} has no known endpoints")
        if leader_id == quorum.node_id:
            raise IllegalTransitionError(f"cannot follow the local node {leader_id}")
        if epoch < role.epoch:
            raise IllegalTransitionError(f"cannot follow {leader_id} in epoch {epoch} < {role.epoch}")
        if epoch == role.epoch:
            follower = quorum.follower_state()
            if follower is not None and len(follower.endpoints) >= len(endpoints):
                raise IllegalTransitionError(f"already following {follower.leader_id} in epoch {epoch}")
            if quorum.leader_state() is not None:
                raise IllegalTransitionError(f"cannot follow {leader_id} while leading epoch {epoch}")
        was_leader_like = role.leader_like
        # Kafka 4.x keeps the vote given within an epoch, a candidate's own included (it may not be
        # given again after a lost pre-vote), and writes it next to the leader (QuorumState
        # .transitionToFollower, 4.3.1 :580-583); 3.9's follower holds none
        keeps_vote = epoch == role.epoch and vote.runs_pre_vote(self._ctx)
        voted_key = role.election().voted_key if keeps_vote else None
        self._durable(Follower(epoch, leader_id, endpoints, now + self._ctx.config.fetch_timeout_ms,
                               voted_key=voted_key))
        self._ctx.request_manager.reset_all()
        if was_leader_like:
            fetch.fail_parked(self._ctx, Errors.NOT_LEADER_OR_FOLLOWER)

    def to_candidate(self, now: int, force: bool = False) -> None:
        """Stand in the next epoch (``force``: a prospective node without a majority of pre-votes,
        because a voter cannot answer one: Kafka 4.x's rule for UNSUPPORTED_VERSION)."""
        quorum = self._quorum
        if not quorum.is_voter:
            raise IllegalTransitionError("an observer cannot become a candidate")
        role = quorum.role
        if quorum.leader_state() is not None:
            raise IllegalTransitionError("a leader cannot become a candidate")
        prospective = quorum.prospective_state()
        if prospective is not None and not prospective.is_vote_granted() and not force:
            raise IllegalTransitionError("a prospective node stands only with a majority of pre-votes")
        candidate = quorum.candidate_state()
        retries = candidate.retries + 1 if candidate is not None else 1
        was_leader_like = role.leader_like  # a leader raised above: this is Resigned
        self._durable(Candidate(role.epoch + 1, quorum.local_key, quorum.voters.ids, retries,
                                now + self._random_election_timeout()))
        if was_leader_like:
            fetch.fail_parked(self._ctx, Errors.NOT_LEADER_OR_FOLLOWER)
        self._on_become_candidate(now)

    def _on_become_candidate(self, now: int) -> None:
        if not self.maybe_become_leader(now):
            self._ctx.request_manager.reset_all()

    def to_prospective(self, now: int) -> None:
        """Ask for pre-votes in the current epoch (Kafka 4.x): nothing is persisted, the known
        leader and the vote given are kept."""
        quorum = self._quorum
        if not quorum.is_voter:
            raise IllegalTransitionError("an observer cannot become prospective")
        role = quorum.role
        if quorum.leader_state() is not None or quorum.prospective_state() is not None:
            raise IllegalTransitionError(f"cannot become prospective from {role}")
        election = role.election()
        leader_id = election.leader_id
        was_leader_like = role.leader_like
        self._left(quorum.transition(
            Prospective(role.epoch, quorum.local_key, quorum.voters.ids, now + self._random_election_timeout(),
                        leader_id, role.current_leader_endpoints(quorum.endpoints) if leader_id is not None else
                        EMPTY_ENDPOINTS, election.voted_key), durable=False))
        if was_leader_like:
            fetch.fail_parked(self._ctx, Errors.NOT_LEADER_OR_FOLLOWER)
        if quorum.role.is_vote_granted():
            self.to_candidate(now)
        else:
            self._ctx.request_manager.reset_all()

    def after_lost_pre_vote(self, now: int) -> None:
        """A prospective node that lost its round (or ran out of time) follows the leader it knew,
        or waits in its epoch (Kafka 4.x)."""
        role = self._quorum.prospective_state()
        if role.leader_id is not None and role.leader_endpoints:
            self.to_follower(role.epoch, role.leader_id, role.leader_endpoints, now)
        else:
            self.to_unattached(role.epoch, now, role.leader_id)

    def maybe_become_prospective_candidate(self, now: int) -> bool:
        """Stand once a majority granted the pre-vote."""
        role = self._quorum.prospective_state()
        if role is not None and role.is_vote_granted():
            self.to_candidate(now)
            return True
        return False

    def maybe_become_leader(self, now: int) -> bool:
        """Lead once the candidate holds a majority: the LeaderChange batch opens the epoch."""
        ctx, quorum = self._ctx, self._quorum
        role = quorum.candidate_state()
        if role is None or not role.is_vote_granted():
            return False
        start = ctx.log_view.end.offset
        voters = quorum.voters
        leader = Leader(
            epoch=role.epoch, local_key=quorum.local_key, epoch_start_offset=start,
            voters={k.id: ReplicaProgress(k) for k in voters.keys()}, granting_voters=frozenset(role.granted),
            check_quorum_deadline_ms=None if len(voters) == 1 else now + ctx.config.check_quorum_timeout_ms,
            begin_quorum_deadline_ms=now, endpoints=quorum.endpoints,
        )
        leader.acknowledged.add(quorum.node_id)
        self._durable(leader)
        ctx.outbox.emit(InitializeLeaderEpoch(role.epoch))
        change = LeaderChangeMessage(quorum.node_id, tuple(sorted(voters.ids)), tuple(sorted(role.granted)))
        # at kraft.version 1, KRaftVersion and Voters follow in the same batch when due (Kafka's
        # LeaderState.appendStartOfEpochControlRecords)
        control = encoded_control_batch(LeaderBatch(start, role.epoch, now, (), change,
                                                    control_records=voter_change.epoch_start_records(ctx)))
        self.accumulator = BatchAccumulator(role.epoch, control.last_offset + 1, ctx.config.append_linger_ms,
                                            self._max_batch_size)
        self.append_as_leader([control], now)
        ctx.request_manager.reset_all()
        return True

    def to_resigned(self, successors: list[ReplicaKey], now: int) -> None:
        ctx, quorum = self._ctx, self._quorum
        fetch.fail_parked(ctx, Errors.NOT_LEADER_OR_FOLLOWER)
        new_role = Resigned(quorum.role.epoch, quorum.node_id, now + self._random_election_timeout(),
                            set(quorum.voters.ids - {quorum.node_id}), tuple(successors), quorum.endpoints)
        self._left(quorum.transition(new_role, durable=False))
        ctx.request_manager.reset_all()

    def maybe_transition(self, leader_id: Optional[int], epoch: int, endpoints: Endpoints, now: int) -> None:
        """Follow (or enter the epoch of) the leader a request or response reports, if it is news."""
        quorum = self._quorum
        local_leader = quorum.leader_id()
        if leader_id is not None and leader_id == quorum.node_id:
            consistent = quorum.leader_state() is not None
        else:
            consistent = (epoch != quorum.role.epoch or leader_id is None or local_leader is None
                          or leader_id == local_leader)
        if not consistent:
            raise FatalRaftError(
                f"leader {leader_id} in epoch {epoch} is inconsistent with the local view "
                f"(leader {local_leader}, epoch {quorum.role.epoch})")
        if epoch > quorum.role.epoch:
            if leader_id is not None and endpoints:
                self.to_follower(epoch, leader_id, endpoints, now)
            else:
                self.to_unattached(epoch, now, leader_id)
        elif leader_id is not None and endpoints and (
                local_leader is None or len(endpoints) > len(quorum.leader_endpoints())):
            self.to_follower(epoch, leader_id, endpoints, now)

    # ------------------------------------------------------ leader appends
    def append_as_leader(self, batches: list[LeaderBatch], now: int) -> None:
        """The leader's drained batches into the log (flushed), then its high watermark."""
        if not batches:
            return
        ctx = self._ctx
        leader: Leader = self._quorum.role
        view = ctx.log_view
        for batch in batches:
            if batch.base_offset != view.end.offset:
                raise FatalRaftError(f"batch at {batch.base_offset} does not continue the log end {view.end.offset}")
            view.append_as_leader(batch, leader.epoch)
            self.appended[batch.base_offset] = batch
            if batch.control_records:
                voter_change.on_leader_batch(ctx, leader, batch)
        if ctx.config.leader_flush_async:
            ctx.outbox.emit(Flush(background=True))   # counted once flushed (fetch.note_leader_flushed)
        else:
            ctx.outbox.emit(Flush())
            voter_change.local_progress(ctx, leader).end_offset = view.end.offset
        ctx.parked.wake = True
        fetch.maybe_update_leader_high_watermark(ctx, leader)


#: what leaving a role means beyond the role, for the roles it concerns (by role name)
_ON_LEAVE = {LEADER: Transitions._left_leader, FOLLOWER: Transitions._left_follower}
