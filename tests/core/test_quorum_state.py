"""QuorumState and VoterSetHistory on their own: the one owner of the role and of the voter sets."""
import pytest

from kraft.core.effects import PersistElection
from kraft.core.errors import FatalRaftError, IllegalTransitionError
from kraft.core.quorum_state import QuorumState, VoterSetHistory
from kraft.core.roles import Candidate, Follower, Leader, Resigned, Unattached
from kraft.core.types import Endpoint, Endpoints, ReplicaKey, Voter, VoterSet


def voters(*ids):
    return VoterSet(Voter(ReplicaKey(i), Endpoints([Endpoint("CONTROLLER", "h", 9000 + i)])) for i in ids)


def test_history_starts_with_the_bootstrap_set_and_follows_the_log():
    bootstrap = voters(1, 2, 3)
    history = VoterSetHistory(bootstrap)
    assert history.latest() is bootstrap and history.last_offset() is None
    four, five = voters(1, 2, 3, 4), voters(1, 2, 3, 4, 5)
    history.add_at(10, four)
    history.add_at(20, five)
    assert history.latest() is five  # the latest set is in force, committed or not
    assert history.value_at_or_before(9) is bootstrap
    assert history.value_at_or_before(10) is four and history.value_at_or_before(19) is four
    assert history.value_at_or_before(25) is five
    with pytest.raises(FatalRaftError):
        history.add_at(20, four)  # offsets only grow
    history.truncate_new_entries(20)  # the record at 20 is gone with the log's end
    assert history.latest() is four and history.last_offset() == 10
    history.truncate_new_entries(5)
    assert history.latest() is bootstrap


def test_history_keeps_the_set_in_force_at_the_log_start():
    history = VoterSetHistory(voters(1))
    sets = {offset: voters(1, offset) for offset in (10, 20, 30)}
    for offset, s in sets.items():
        history.add_at(offset, s)
    history.truncate_old_entries(25)
    assert history.value_at_or_before(25) is sets[20] and history.latest() is sets[30]
    history.clear()
    assert history.latest() is history.bootstrap


def test_every_durable_transition_writes_the_election_before_the_swap():
    effects = []
    state = QuorumState(ReplicaKey(1), voters(1, 2, 3), lambda e: effects.append((e, state.role)))
    first = Unattached(0, 100)
    state.initialize(first)
    assert state.role is first and effects[0][0] == PersistElection(first.election())
    candidate = Candidate(1, ReplicaKey(1), frozenset({1, 2, 3}), 1, 200)
    assert state.transition(candidate) is first
    effect, role_when_emitted = effects[-1]
    assert effect == PersistElection(candidate.election()) and role_when_emitted is first
    assert state.role is candidate and state.epoch == 1


def test_an_illegal_transition_writes_nothing_and_keeps_the_role():
    effects = []
    state = QuorumState(ReplicaKey(1), voters(1, 2, 3), effects.append)
    follower = Follower(3, 2, voters(2).endpoints(2), 100)
    state.initialize(follower)
    with pytest.raises(IllegalTransitionError):
        state.transition(Leader(epoch=3, local_key=ReplicaKey(1), epoch_start_offset=0, voters={},
                                granting_voters=frozenset(), check_quorum_deadline_ms=None,
                                begin_quorum_deadline_ms=0))
    assert state.role is follower and len(effects) == 1
    with pytest.raises(FatalRaftError):
        state.initialize(follower)


def test_an_observer_cannot_stand_and_a_resignation_is_not_written():
    effects = []
    observer = QuorumState(ReplicaKey(9), voters(1, 2, 3), effects.append)
    observer.initialize(Unattached(0, None))
    assert not observer.is_voter
    with pytest.raises(IllegalTransitionError):
        observer.transition(Candidate(1, ReplicaKey(9), frozenset({1, 2, 3}), 1, 200))
    leader_state = QuorumState(ReplicaKey(1), voters(1), effects.append)
    leader_state.initialize(Leader(epoch=2, local_key=ReplicaKey(1), epoch_start_offset=0, voters={},
                                   granting_voters=frozenset({1}), check_quorum_deadline_ms=None,
                                   begin_quorum_deadline_ms=0))
    before = len(effects)
    leader_state.transition(Resigned(2, 1, 300, set(), (), Endpoints([])), durable=False)
    assert len(effects) == before and leader_state.role.name == "Resigned"
