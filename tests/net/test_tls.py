"""TLS listeners and connections: Kafka's ssl.* keys, config errors, handshakes on real sockets."""
from __future__ import annotations

import asyncio
import logging
import ssl
import struct

import pytest

from kraft.errors import ConfigError
from kraft.net.client import OutboundConnection
from kraft.net.server import ListenerAddress, RequestServer
from kraft.server.config import ServerConfig

from netutil import request_payload, run
from tls_certs import Pki, inline, ssl_properties


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    ca = Pki(directory / "ca")
    nodes = {name: ca.issue(name) for name in ("node1", "node2", "wrong-host")}
    # a certificate for another host name only
    nodes["elsewhere"] = ca.issue("elsewhere", san="DNS:elsewhere.example")
    intruder_ca = Pki(directory / "intruder", name="intruder-ca")
    nodes["intruder"] = intruder_ca.issue("intruder")
    return ca, intruder_ca, nodes


def base(extra: dict) -> dict:
    props = {"node.id": "1", "listeners": "CONTROLLER://127.0.0.1:0", "controller.listener.names": "CONTROLLER",
             "controller.quorum.voters": "1@127.0.0.1:9093", "log.dirs": "/tmp/unused-kraft"}
    props.update(extra)
    return props


def test_pem_files_and_inline_pem_give_ssl_contexts(pki):
    ca, _, nodes = pki
    for inline_pem in (False, True):
        config = ServerConfig.from_properties(base(ssl_properties(nodes["node1"], ca, inline_pem=inline_pem)))
        assert dict(config.security_protocols) == {"CONTROLLER": "SSL"}
        server = config.ssl_server_contexts()["CONTROLLER"]
        assert server.verify_mode == ssl.CERT_REQUIRED
        client = config.ssl_client_context()
        assert client.check_hostname and client.verify_mode == ssl.CERT_REQUIRED


def test_listener_prefixed_keys_win_and_disable_hostname_check(pki):
    ca, _, nodes = pki
    props = base(ssl_properties(nodes["node1"], ca, client_auth="none"))
    props["listener.name.controller.ssl.client.auth"] = "requested"
    props["ssl.endpoint.identification.algorithm"] = ""
    config = ServerConfig.from_properties(props, warn=pytest.fail)
    assert config.ssl_server_contexts()["CONTROLLER"].verify_mode == ssl.CERT_OPTIONAL
    assert not config.ssl_client_context().check_hostname


def test_plaintext_listener_has_no_tls():
    config = ServerConfig.from_properties(base({"listener.security.protocol.map": "CONTROLLER:PLAINTEXT"}))
    assert config.ssl_server_contexts() == {} and config.ssl_client_context() is None


def test_encrypted_key_with_its_password(pki):
    ca, _, nodes = pki
    encrypted = ca.encrypted_key(nodes["node2"], "s3cret")
    props = base(ssl_properties(nodes["node2"], ca, inline_pem=True))
    props["ssl.keystore.key"] = inline(encrypted.read_text())
    props["ssl.key.password"] = "s3cret"
    assert ServerConfig.from_properties(props).ssl_server_contexts()


def _error(props: dict) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        ServerConfig.from_properties(base(props))
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return info.value


@pytest.mark.parametrize("change, key, words", [
    ({"ssl.keystore.location": "/nonexistent/key.pem"}, "ssl.keystore.location", "cannot read"),
    ({"ssl.truststore.location": "/nonexistent/ca.pem"}, "ssl.truststore.location", "cannot read"),
    ({"ssl.keystore.type": None}, "ssl.keystore.type", "JKS key stores are not supported"),
    ({"ssl.keystore.password": "x"}, "ssl.keystore.password", "PEM"),
    ({"ssl.truststore.password": "x"}, "ssl.truststore.password", "PEM"),
    ({"ssl.client.auth": "always"}, "ssl.client.auth", "required, requested or none"),
    ({"ssl.enabled.protocols": "TLSv1.1"}, "ssl.enabled.protocols", "TLSv1.1"),
    ({"ssl.endpoint.identification.algorithm": "ldaps"}, "ssl.endpoint.identification.algorithm", "https"),
    ({"ssl.keystore.location": None}, "ssl.keystore.location", "no key store"),
])
def test_config_errors_name_the_key(pki, change, key, words):
    ca, _, nodes = pki
    props = ssl_properties(nodes["node1"], ca)
    for k, v in change.items():
        if v is None:
            props.pop(k)
        else:
            props[k] = v
    error = _error(props)
    assert error.key == key and words in str(error), str(error)


def test_bad_pem_wrong_password_and_mismatched_key(pki, tmp_path):
    ca, _, nodes = pki
    good = ssl_properties(nodes["node1"], ca, inline_pem=True)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" + nodes["node1"].cert_pem())
    cases = [
        (dict(good, **{"ssl.keystore.key": "not a pem"}), "ssl.keystore.key", "no PRIVATE KEY PEM block"),
        (dict(good, **{"ssl.keystore.certificate.chain": nodes["node2"].cert_pem()}), "ssl.keystore.key",
         "does not match"),
        (dict(good, **{"ssl.truststore.certificates": "-----BEGIN CERTIFICATE----- QUJD -----END CERTIFICATE-----"}),
         "ssl.truststore.certificates", "cannot load"),
        ({**ssl_properties(nodes["node1"], ca), "ssl.keystore.location": str(garbage)}, "ssl.keystore.location",
         "cannot load"),
        ({k: v for k, v in good.items() if k != "ssl.keystore.certificate.chain"},
         "ssl.keystore.certificate.chain", "missing"),
    ]
    encrypted = ca.encrypted_key(nodes["node1"], "right")
    cases.append((dict(good, **{"ssl.keystore.key": encrypted.read_text(), "ssl.key.password": "wrong"}),
                  "ssl.key.password", "cannot decrypt"))
    cases.append((dict(good, **{"ssl.keystore.key": encrypted.read_text()}), "ssl.keystore.key", "encrypted"))
    for props, key, words in cases:
        error = _error(props)
        assert error.key == key and words in str(error), (key, str(error))


# -- handshakes on real sockets -------------------------------------------------------------


def _contexts(pki, name):
    ca, _, nodes = pki
    config = ServerConfig.from_properties(base(ssl_properties(nodes[name], ca)))
    return config.ssl_server_contexts()["CONTROLLER"], config.ssl_client_context()


def _intruder_client_context(pki) -> ssl.SSLContext:
    ca, _, nodes = pki
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(ca.ca_cert))        # it trusts the node ...
    context.load_cert_chain(str(nodes["intruder"].keystore))     # ... but the node does not trust it
    return context


async def _echo_server(server_context):
    def handler(request):
        body = request.payload[10:]   # after api key, version, correlation id, null client id
        return struct.pack(">ii", 4 + len(body), request.correlation_id) + body
    server = RequestServer([ListenerAddress("CONTROLLER", "127.0.0.1", 0)], handler,
                           ssl_contexts={"CONTROLLER": server_context}, log_interval_s=3600)
    await server.start()
    return server, server.bound["CONTROLLER"][1]


def _encoder(body: bytes):
    def encode(correlation_id):
        payload = request_payload(1, 0, correlation_id) + body
        return struct.pack(">i", len(payload)) + payload
    return encode


def test_mutual_tls_round_trip(pki):
    server_context, client_context = _contexts(pki, "node1")

    async def scenario():
        server, port = await _echo_server(server_context)
        connection = OutboundConnection("127.0.0.1", port, ssl_context=client_context)
        try:
            responses = [await connection.send(_encoder(b"hello %d" % i), 5000) for i in range(20)]
            # a request larger than one TLS record
            big = await connection.send(_encoder(b"x" * 300_000), 5000)
            return responses, big
        finally:
            await connection.close()
            await server.close()
    responses, big = run(scenario())
    assert [r[4:] for r in responses] == [b"hello %d" % i for i in range(20)]
    assert big[4:] == b"x" * 300_000


def test_untrusted_peer_is_refused_at_the_handshake_with_one_log_line(pki, caplog):
    server_context, _ = _contexts(pki, "node1")
    intruder = _intruder_client_context(pki)
    caplog.set_level(logging.INFO, "kraft.net")

    async def scenario():
        server, port = await _echo_server(server_context)
        outcomes = []
        try:
            for _ in range(3):
                connection = OutboundConnection("127.0.0.1", port, ssl_context=intruder,
                                                connection_setup_timeout_ms=1000)
                try:
                    # (over TLS 1.3 the client sees its handshake end before the server refuses its
                    # certificate: it reconnects, and fails, until the request's deadline)
                    outcomes.append(await connection.send(_encoder(b"vote"), 1000))
                except Exception as e:  # noqa: BLE001 - the failure is the point
                    outcomes.append(e)
                finally:
                    await connection.close()
            # the listener still serves a trusted peer
            _, good = _contexts(pki, "node2")
            connection = OutboundConnection("127.0.0.1", port, ssl_context=good)
            served = await connection.send(_encoder(b"ok"), 5000)
            await connection.close()
            return outcomes, served
        finally:
            await server.close()
    outcomes, served = run(scenario())
    assert all(isinstance(o, Exception) for o in outcomes), outcomes
    assert served[4:] == b"ok"
    failed = [r for r in caplog.records if "Failed authentication" in r.getMessage()]
    assert len(failed) == 1, [r.getMessage() for r in caplog.records]
    assert "SSL handshake failed" in failed[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)


def test_plaintext_client_on_ssl_listener_is_closed_cleanly(pki, caplog):
    server_context, _ = _contexts(pki, "node1")
    caplog.set_level(logging.DEBUG)

    async def scenario():
        server, port = await _echo_server(server_context)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            payload = request_payload(18, 0, 7)
            writer.write(struct.pack(">i", len(payload)) + payload)
            await writer.drain()
            data = await asyncio.wait_for(reader.read(), 10)   # the server closes: EOF (or reset)
            writer.close()
            return data
        finally:
            await server.close()
    try:
        data = run(scenario())
    except ConnectionResetError:
        data = b""
    assert not data.startswith(b"\x00\x00"), data          # no Kafka response frame
    messages = [r.getMessage() for r in caplog.records]
    assert any("Failed authentication" in m for m in messages), messages
    assert not any(r.exc_info for r in caplog.records), messages


def test_hostname_check_refuses_a_certificate_for_another_host(pki, caplog):
    ca, _, nodes = pki
    config = ServerConfig.from_properties(base(ssl_properties(nodes["elsewhere"], ca)))
    _, client_context = _contexts(pki, "node1")

    async def scenario():
        server, port = await _echo_server(config.ssl_server_contexts()["CONTROLLER"])
        connection = OutboundConnection("127.0.0.1", port, ssl_context=client_context)
        try:
            await connection.send(_encoder(b"x"), 1000)
        except Exception as e:  # noqa: BLE001
            return e
        finally:
            await connection.close()
            await server.close()
    error = run(scenario())
    assert error is not None
    assert any("could not be established" in r.getMessage() and "127.0.0.1" in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]
