"""A node's sockets: an acceptor per listener and one channel per peer it talks to."""
from __future__ import annotations

from typing import Callable, Mapping, Optional

from kraft.net.api_versions import advertised_versions, sendable_versions
from kraft.net.channel import PeerChannel
from kraft.net.dispatch import Handler, RequestDispatcher
from kraft.net.server import RequestServer
from kraft.server.config import ServerConfig


class NodeNetwork:
    """Everything network for one node, built from its :class:`ServerConfig`.

    Inbound: every listener of ``listeners`` accepts connections; ApiVersions is
    answered here and the KRaft APIs go to the handlers given to
    :meth:`set_handler` (each request's context names the listener it arrived
    on).  Outbound: :meth:`channel_to_voter` / :meth:`channel_to` return one
    :class:`PeerChannel` per address, reused and reconnected as needed, with
    client id ``raft-client-<node.id>`` as Kafka's nodes use.  A failed
    connection attempt to a voter's address is reported to
    :attr:`on_voter_unreachable` (voter id, and whether the connection was refused).
    """

    def __init__(self, config: ServerConfig, handlers: Optional[Mapping[int, Handler]] = None):
        self.config = config
        self.advertised = advertised_versions(config.rpc_v0_only)
        #: what outbound channels negotiate with: every version this node can write
        self.sendable = sendable_versions(config.rpc_v0_only)
        self.client_id = f"raft-client-{config.node_id}"
        self.dispatcher = RequestDispatcher(self.advertised, handlers or {})
        self.server = RequestServer(list(config.listeners), self.dispatcher,
                                    max_frame_bytes=config.socket_request_max_bytes,
                                    connections_max_idle_ms=config.connections_max_idle_ms,
                                    queued_max_request_bytes=config.queued_max_request_bytes or 2**62,
                                    partial_request_timeout_ms=config.partial_request_timeout_ms,
                                    ssl_contexts=config.ssl_server_contexts(),
                                    ssl_handshake_timeout_ms=config.connection_setup_timeout_ms)
        #: TLS for the connections to voters (the controller listener's security protocol), or None
        self.ssl_context = config.ssl_client_context()
        self._channels: dict[tuple[str, int], PeerChannel] = {}
        #: Called with a voter's id each time a connection attempt to it fails (refused, reset, timed out).
        self.on_voter_unreachable: Optional[Callable[[int, bool], None]] = None

    def set_handler(self, api_key: int, handler: Handler) -> None:
        """Route requests of ``api_key`` to ``handler`` (an advertised API)."""
        if api_key not in self.advertised:
            raise ValueError(f"API key {api_key} is not advertised by this node")
        self.dispatcher.handlers[api_key] = handler

    async def start(self) -> None:
        """Bind every listener (raises :class:`~kraft.net.errors.BindError`)."""
        await self.server.start()

    @property
    def bound(self) -> dict[str, tuple[str, int]]:
        """Listener name -> the (host, port) actually bound (useful with port 0)."""
        return dict(self.server.bound)

    def channel_to(self, host: str, port: int) -> PeerChannel:
        key = (host, port)
        channel = self._channels.get(key)
        if channel is None:
            voter_ids = [voter_id for voter_id, a in self.config.quorum.voters.items() if (a.host, a.port) == key]
            channel = self._channels[key] = PeerChannel(
                host, port, client_id=self.client_id, advertised=self.sendable,
                request_timeout_ms=self.config.quorum.request_timeout_ms,
                max_frame_bytes=self.config.socket_request_max_bytes,
                connection_setup_timeout_ms=self.config.connection_setup_timeout_ms,
                name=" / ".join(f"node {v}" for v in voter_ids) or None, ssl_context=self.ssl_context)
            if voter_ids:
                channel.connection.on_connect_failure = lambda error: self._voter_unreachable(
                    voter_ids, isinstance(error, ConnectionRefusedError))
        return channel

    def _voter_unreachable(self, voter_ids: list[int], refused: bool) -> None:
        if self.on_voter_unreachable is not None:
            for voter_id in voter_ids:
                self.on_voter_unreachable(voter_id, refused)

    def channel_to_voter(self, voter_id: int) -> PeerChannel:
        """The channel to a voter of ``controller.quorum.voters``."""
        address = self.config.quorum.voters[voter_id]
        return self.channel_to(address.host, address.port)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
        await self.server.close()
