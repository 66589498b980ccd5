"""What a node advertises in ApiVersions, and the version negotiation both ways.

As server: :func:`advertised_versions` is the table a KRaft node answers with
(the KRaft APIs at the ranges kraft serves: Kafka 4.4's, with Fetch from v0).  As client, :func:`sendable_versions` is the table a
node negotiates with: every version kraft can write (Vote v2 included).  As client: :class:`ApiVersionsHandshake`
is the first exchange on every outbound connection, as Kafka's NetworkClient
does it: ApiVersions at our highest version; on UNSUPPORTED_VERSION, again at
the highest version the peer listed (or 0); then each request goes at
``min(our max, peer's max)``.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Mapping

from kraft._version import __version__
from kraft.net.errors import NetworkError
from kraft.protocol.api_keys import (
    ADD_RAFT_VOTER, API_VERSIONS, BEGIN_QUORUM_EPOCH, DESCRIBE_QUORUM, END_QUORUM_EPOCH, FETCH, FETCH_SNAPSHOT,
    REMOVE_RAFT_VOTER, UPDATE_RAFT_VOTER, VOTE,
)
from kraft.protocol.errors import Errors, error_name
from kraft.protocol.exceptions import ProtocolError
from kraft.protocol.messages import API_MESSAGES, ApiVersionsRequest, ApiVersionsResponse

#: The highest versions before KIP-853 (Kafka 3.7/3.8): what a node limited to
#: the original KRaft RPCs advertises and sends.
ORIGINAL_MAX_VERSIONS = {FETCH: 16, VOTE: 0, BEGIN_QUORUM_EPOCH: 0, END_QUORUM_EPOCH: 0,
                         DESCRIBE_QUORUM: 1, FETCH_SNAPSHOT: 0}
# APIs that did not exist before KIP-853.
_KIP_853_ONLY = (ADD_RAFT_VOTER, REMOVE_RAFT_VOTER, UPDATE_RAFT_VOTER)

#: Versions kraft writes but does not serve (api key -> highest served).  Empty: since the
#: core answers pre-votes (issue 13), Vote v2 is served, so Kafka 4.x nodes run their pre-vote
#: round with kraft voters as with their own kind.
SERVED_MAX_VERSIONS: dict[int, int] = {}

CLIENT_SOFTWARE_NAME = "kraft-python"


@dataclass(frozen=True)
class VersionRange:
    min_version: int
    max_version: int

    def __contains__(self, version: int) -> bool:
        return self.min_version <= version <= self.max_version


class UnsupportedApiError(NetworkError):
    """The peer does not support any version of an API that we do."""

    def __init__(self, message: str, api_key: int):
        super().__init__(message)
        self.api_key = api_key


def advertised_versions(rpc_v0_only: bool = False) -> dict[int, VersionRange]:
    """api key -> versions this node serves, in api-key order.

    With ``rpc_v0_only`` the node is limited to the original KRaft RPCs
    (version 0 of Vote, BeginQuorumEpoch, EndQuorumEpoch, FetchSnapshot;
    Fetch up to 16; DescribeQuorum up to 1; no voter-change APIs).
    """
    table = sendable_versions(rpc_v0_only)
    for api_key, high in SERVED_MAX_VERSIONS.items():
        if api_key in table:
            table[api_key] = VersionRange(table[api_key].min_version, min(high, table[api_key].max_version))
    return table


def sendable_versions(rpc_v0_only: bool = False) -> dict[int, VersionRange]:
    """api key -> versions this node can write, for the negotiation with a peer.

    The served table (:func:`advertised_versions`) without :data:`SERVED_MAX_VERSIONS`:
    as in Kafka's NetworkClient, a request goes at the newest version the peer
    advertises that the sender can build, whatever the sender itself serves.
    """
    table = {}
    for api_key in sorted(API_MESSAGES):
        request_class = API_MESSAGES[api_key][0]
        low, high = request_class.valid_versions.low, request_class.valid_versions.high
        if rpc_v0_only:
            if api_key in _KIP_853_ONLY:
                continue
            high = min(high, ORIGINAL_MAX_VERSIONS.get(api_key, high))
        table[api_key] = VersionRange(low, high)
    return table


#: The kraft.version levels a node supports (KIP-853), listed in SupportedFeatures as a Kafka
#: controller does: a leader adding this node as a voter checks the finalized level is in it.
KRAFT_VERSION_FEATURE = "kraft.version"
SUPPORTED_KRAFT_VERSIONS = VersionRange(0, 1)


def api_versions_response(table: Mapping[int, VersionRange]) -> ApiVersionsResponse:
    """The full answer to a supported ApiVersions request (kraft.version in SupportedFeatures when the
    node serves the voter-change APIs)."""
    features = []
    if ADD_RAFT_VOTER in table:
        features.append(ApiVersionsResponse.SupportedFeatureKey(
            name=KRAFT_VERSION_FEATURE, min_version=SUPPORTED_KRAFT_VERSIONS.min_version,
            max_version=SUPPORTED_KRAFT_VERSIONS.max_version))
    return ApiVersionsResponse(
        error_code=Errors.NONE,
        api_keys=[ApiVersionsResponse.ApiVersion(api_key=k, min_version=r.min_version, max_version=r.max_version)
                  for k, r in table.items()],
        throttle_time_ms=0,
        supported_features=features,
    )


def unsupported_api_versions_response(table: Mapping[int, VersionRange]) -> ApiVersionsResponse:
    """Kafka's answer to an ApiVersions request above our highest version (sent as v0)."""
    own = table[API_VERSIONS]
    return ApiVersionsResponse(
        error_code=Errors.UNSUPPORTED_VERSION,
        api_keys=[ApiVersionsResponse.ApiVersion(api_key=API_VERSIONS, min_version=own.min_version,
                                                 max_version=own.max_version)],
    )


def negotiate(ours: Mapping[int, VersionRange], theirs: Mapping[int, VersionRange]) -> dict[int, int]:
    """api key -> the version to send: the highest both sides support (absent if none)."""
    versions = {}
    for api_key, mine in ours.items():
        peer = theirs.get(api_key)
        if peer is None:
            continue
        high = min(mine.max_version, peer.max_version)
        if high >= max(mine.min_version, peer.min_version):
            versions[api_key] = high
    return versions


def decode_api_versions_response(body: bytes, request_version: int) -> ApiVersionsResponse:
    """Read an ApiVersions response body; an UNSUPPORTED_VERSION answer is read as v0, as Kafka does."""
    if len(body) >= 2 and struct.unpack_from(">h", body)[0] == Errors.UNSUPPORTED_VERSION:
        return ApiVersionsResponse.decode(body, 0)
    try:
        return ApiVersionsResponse.decode(body, request_version)
    except ProtocolError:
        if request_version == 0:
            raise
        # Kafka's client (ApiVersionsResponse.parse) reads an answer that does not parse at the request's
        # version again as v0: a peer too old for the request's version may answer in v0's layout
        return ApiVersionsResponse.decode(body, 0)


@dataclass(frozen=True)
class PeerVersions:
    """What the handshake learnt: the peer's table and the version to send per API."""

    advertised: Mapping[int, VersionRange]
    negotiated: Mapping[int, int]

    def version_for(self, api_key: int) -> int:
        try:
            return self.negotiated[api_key]
        except KeyError:
            raise UnsupportedApiError(f"the peer supports no version of API key {api_key} that we do",
                                      api_key) from None


class ApiVersionsHandshake:
    """The handshake of :class:`~kraft.net.client.OutboundConnection`: negotiate, store :class:`PeerVersions`.

    ``send_api_versions(connection, version, request, timeout_ms)`` sends one
    ApiVersions request on ``connection`` and returns the response body (see
    :class:`kraft.net.channel.PeerChannel`).
    """

    def __init__(self, table: Mapping[int, VersionRange], send_api_versions, timeout_ms: float):
        self.table = table
        self._send = send_api_versions
        self._timeout_ms = timeout_ms

    async def __call__(self, connection) -> None:
        version = self.table[API_VERSIONS].max_version
        request = ApiVersionsRequest(client_software_name=CLIENT_SOFTWARE_NAME,
                                     client_software_version=__version__)
        while True:
            body = await self._send(connection, version, request, self._timeout_ms)
            response = decode_api_versions_response(body, version)
            if response.error_code == Errors.UNSUPPORTED_VERSION and version > 0:
                theirs = [k.max_version for k in response.api_keys if k.api_key == API_VERSIONS]
                version = min(theirs[0], version - 1) if theirs else 0
                version = max(version, 0)
                continue
            if response.error_code != Errors.NONE:
                raise NetworkError(f"ApiVersions v{version} to {connection.address} failed: "
                                   f"{error_name(response.error_code)}")
            break
        advertised = {k.api_key: VersionRange(k.min_version, k.max_version) for k in response.api_keys}
        connection.peer_info = PeerVersions(advertised, negotiate(self.table, advertised))
