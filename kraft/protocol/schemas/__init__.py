"""Kafka's message schemas for the KRaft layer, as data (one module per API or family)."""
from kraft.protocol.schemas import (
    add_raft_voter,
    api_versions,
    begin_quorum_epoch,
    control_records,
    describe_cluster,
    describe_quorum,
    end_quorum_epoch,
    fetch,
    fetch_snapshot,
    headers,
    quorum_state,
    remove_raft_voter,
    update_raft_voter,
    vote,
)

#: Every request/response pair, in API-key order.
API_SCHEMAS = (
    (fetch.FETCH_REQUEST, fetch.FETCH_RESPONSE),
    (api_versions.API_VERSIONS_REQUEST, api_versions.API_VERSIONS_RESPONSE),
    (vote.VOTE_REQUEST, vote.VOTE_RESPONSE),
    (begin_quorum_epoch.BEGIN_QUORUM_EPOCH_REQUEST, begin_quorum_epoch.BEGIN_QUORUM_EPOCH_RESPONSE),
    (end_quorum_epoch.END_QUORUM_EPOCH_REQUEST, end_quorum_epoch.END_QUORUM_EPOCH_RESPONSE),
    (describe_quorum.DESCRIBE_QUORUM_REQUEST, describe_quorum.DESCRIBE_QUORUM_RESPONSE),
    (fetch_snapshot.FETCH_SNAPSHOT_REQUEST, fetch_snapshot.FETCH_SNAPSHOT_RESPONSE),
    (describe_cluster.DESCRIBE_CLUSTER_REQUEST, describe_cluster.DESCRIBE_CLUSTER_RESPONSE),
    (add_raft_voter.ADD_RAFT_VOTER_REQUEST, add_raft_voter.ADD_RAFT_VOTER_RESPONSE),
    (remove_raft_voter.REMOVE_RAFT_VOTER_REQUEST, remove_raft_voter.REMOVE_RAFT_VOTER_RESPONSE),
    (update_raft_voter.UPDATE_RAFT_VOTER_REQUEST, update_raft_voter.UPDATE_RAFT_VOTER_RESPONSE),
)

#: Data schemas: control-record payloads and the quorum-state file.
DATA_SCHEMAS = (
    control_records.LEADER_CHANGE_MESSAGE,
    control_records.SNAPSHOT_HEADER_RECORD,
    control_records.SNAPSHOT_FOOTER_RECORD,
    control_records.KRAFT_VERSION_RECORD,
    control_records.VOTERS_RECORD,
    quorum_state.QUORUM_STATE_DATA,
)

HEADER_SCHEMAS = (headers.REQUEST_HEADER, headers.RESPONSE_HEADER)
