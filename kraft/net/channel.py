"""Typed requests to one peer: ApiVersions first, then each API at the negotiated version."""
from __future__ import annotations

from typing import Mapping, Optional

from kraft.net import messages
from kraft.net.api_versions import (
    API_VERSIONS,
    ApiVersionsHandshake,
    PeerVersions,
    UnsupportedApiError,
    VersionRange,
)
from kraft.net.client import ExponentialBackoff, OutboundConnection
from kraft.net.framing import DEFAULT_MAX_FRAME_BYTES


class PeerChannel:
    """Sends KRaft requests to ``host:port`` and returns ``(version, response message)``.

    The connection is made on first use and remade after failures with
    backoff; on each new connection the ApiVersions handshake runs first, and
    every request then goes at ``min(our max, the peer's max)`` of its API.
    """

    def __init__(self, host: str, port: int, *, client_id: str, advertised: Mapping[int, VersionRange],
                 request_timeout_ms: float = 2000, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
                 connection_setup_timeout_ms: int = 10_000, backoff: Optional[ExponentialBackoff] = None,
                 name: Optional[str] = None, ssl_context=None):
        self.client_id = client_id
        self.request_timeout_ms = request_timeout_ms
        handshake = ApiVersionsHandshake(advertised, self._send_api_versions, request_timeout_ms)
        self.connection = OutboundConnection(host, port, handshake=handshake, max_frame_bytes=max_frame_bytes,
                                             connection_setup_timeout_ms=connection_setup_timeout_ms,
                                             backoff=backoff, name=name, ssl_context=ssl_context)

    @property
    def peer_versions(self) -> Optional[PeerVersions]:
        """What the last handshake learnt (``None`` before the first connection)."""
        info = self.connection.peer_info
        return info if isinstance(info, PeerVersions) else None

    async def _send_api_versions(self, connection: OutboundConnection, version: int, message,
                                 timeout_ms: float) -> bytes:
        payload = await connection.send(
            lambda cid: messages.encode_request(API_VERSIONS, version, cid, self.client_id, message), timeout_ms)
        return payload[4:]  # the ApiVersions response header is always v0: just the correlation id

    async def request(self, api_key: int, message, timeout_ms: Optional[float] = None,
                      version: Optional[int] = None):
        """Send ``message`` (a request of ``api_key``); return ``(version, response)``.

        ``version`` asks for that version instead of the negotiated one (it
        must be in the peer's advertised range).  ``message`` may be a callable
        taking the version chosen (once the handshake is done) and returning the
        message to send at it, for messages whose fields depend on the version.

        Raises :class:`~kraft.net.api_versions.UnsupportedApiError` if the peer
        shares no version of the API, and the connection's
        :class:`~kraft.net.errors.DisconnectedError` /
        :class:`~kraft.net.errors.RequestTimeoutError`.
        """
        chosen = []

        def encode(correlation_id: int) -> bytes:
            peer = self.connection.peer_info
            chosen_version = peer.version_for(api_key)
            if version is not None:
                if api_key not in peer.advertised or version not in peer.advertised[api_key]:
                    raise UnsupportedApiError(f"the peer does not support version {version} of API key "
                                              f"{api_key}", api_key)
                chosen_version = version
            chosen.append(chosen_version)
            body = message(chosen_version) if callable(message) else message
            return messages.encode_request(api_key, chosen_version, correlation_id, self.client_id, body)

        payload = await self.connection.send(encode, timeout_ms if timeout_ms is not None
                                             else self.request_timeout_ms)
        return chosen[0], messages.decode_response(payload, api_key, chosen[0])

    async def close(self) -> None:
        await self.connection.close()
