"""A bug is not a network error: it is raised at once, never retried until the request times out."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap

import pytest

from kraft.net.client import OutboundConnection
from kraft.net.errors import RequestTimeoutError
from kraft.net.server import ListenerAddress, RequestServer

from netutil import run
from test_outbound import HOST, echo, req


@pytest.mark.parametrize("error", [AttributeError, KeyError, TypeError])
def test_a_failing_handshake_that_is_not_a_network_error_is_raised_not_retried(error):
    async def scenario():
        server = RequestServer([ListenerAddress("PLAINTEXT", HOST, 0)], echo)
        await server.start()
        calls = []

        async def handshake(connection):
            calls.append(1)
            raise error("a bug in the handshake")
        conn = OutboundConnection(HOST, server.bound["PLAINTEXT"][1], handshake=handshake)
        try:
            # 20 s would pass in retries if the error were taken for a network failure.
            with pytest.raises(error):
                await asyncio.wait_for(conn.send(req(b"x"), 20_000), 15)
            assert calls == [1]
        finally:
            await conn.close()
            await server.close()
    run(scenario())


def test_a_refused_connection_is_still_retried_until_the_timeout():
    async def scenario():
        server = RequestServer([ListenerAddress("PLAINTEXT", HOST, 0)], echo)
        await server.start()
        port = server.bound["PLAINTEXT"][1]
        await server.close()
        conn = OutboundConnection(HOST, port)
        try:
            with pytest.raises(RequestTimeoutError, match="cannot connect"):
                await conn.send(req(b"x"), 300)
            assert conn.consecutive_failures >= 2  # retried, with backoff
        finally:
            await conn.close()
    run(scenario())


def test_a_script_beside_a_clone_named_kraft_still_talks_to_a_node(tmp_path):
    """``import kraft`` from the parent of a clone finds the clone's root as a namespace package;
    the library must not depend on the top-level package's attributes (the ApiVersions handshake
    did, and its AttributeError was retried for the whole request timeout), and it says what is wrong."""
    (tmp_path / "kraft" / "docs").mkdir(parents=True)   # a clone's root: no __init__.py
    script = textwrap.dedent("""
        import asyncio, sys, warnings
        warnings.simplefilter("always")
        import kraft
        try:
            import kraft.net.channel
        except ModuleNotFoundError:
            print("SKIP kraft is not installed in a way that finds submodules past the shadow")
            sys.exit(0)
        from kraft.net.api_versions import advertised_versions
        from kraft.net.channel import PeerChannel
        from kraft.net.dispatch import RequestDispatcher
        from kraft.net.server import ListenerAddress, RequestServer
        print("TOP", getattr(kraft, "__file__", None))

        async def main():
            table = advertised_versions(False)
            server = RequestServer([ListenerAddress("PLAINTEXT", "127.0.0.1", 0)], RequestDispatcher(table, {}))
            await server.start()
            channel = PeerChannel("127.0.0.1", server.bound["PLAINTEXT"][1], client_id="c", advertised=table,
                                  request_timeout_ms=20_000)
            try:
                await asyncio.wait_for(channel.connection._wait_ready(asyncio.get_running_loop().time() + 20), 15)
                print("CONNECTED", channel.peer_versions is not None)
            finally:
                await channel.close()
                await server.close()
        asyncio.run(main())
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    if proc.stdout.startswith("SKIP"):
        pytest.skip(proc.stdout.strip())
    if "TOP None" not in proc.stdout:
        pytest.skip("this interpreter imported the real kraft package (no shadowing to reproduce here)")
    assert "CONNECTED True" in proc.stdout, proc.stdout + proc.stderr
    assert "namespace package" in proc.stderr and str(tmp_path / "kraft") in proc.stderr, proc.stderr
