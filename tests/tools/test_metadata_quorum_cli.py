"""kraft-metadata-quorum's option checks and errors: one line, status 1 (2 for unparseable options)."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quorum_util import free_ports  # noqa: E402

SCRIPT = Path(sys.executable).parent / "kraft-metadata-quorum"


def run(*args):
    return subprocess.run([str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=60)


def test_option_errors_are_kafkas_messages():
    (port,) = free_ports(1)
    address = f"127.0.0.1:{port}"
    both = run("--bootstrap-controller", address, "describe", "--status", "--replication")
    assert both.returncode == 1
    assert both.stderr.strip() == "Only one of --status or --replication should be specified with describe sub-command"
    neither = run("--bootstrap-controller", address, "describe")
    assert neither.returncode == 1
    assert neither.stderr.strip() == "One of --status or --replication must be specified with describe sub-command"
    human = run("--bootstrap-controller", address, "describe", "--status", "--human-readable")
    assert human.stderr.strip() == "The option --human-readable is only supported along with --replication"
    assert run("describe", "--status").returncode == 2                 # no bootstrap option
    assert run("--bootstrap-controller", address).returncode == 2     # no command
    bad = run("--bootstrap-controller", "nohostport", "describe", "--status")
    assert bad.returncode == 1 and "expected host:port" in bad.stderr
    helped = run("describe", "--help")
    assert helped.returncode == 0 and "--human-readable" in helped.stdout


def test_unreachable_nodes_one_line():
    ports = free_ports(2)
    result = run("--bootstrap-controller", ",".join(f"127.0.0.1:{p}" for p in ports), "--timeout-ms", "500",
                 "describe", "--replication")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("No leader found among") and "Traceback" not in result.stderr
    for port in ports:
        assert f"127.0.0.1:{port}" in lines[0]


def test_retries_print_no_library_lines():
    """Long enough for the channel to retry and its rate-limited 'could not be established' warnings to fire:
    none reaches stderr, only the tool's own line."""
    (port,) = free_ports(1)
    result = run("--bootstrap-controller", f"127.0.0.1:{port}", "--timeout-ms", "1500", "describe", "--status")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"No leader found among 127.0.0.1:{port}")


@pytest.mark.parametrize("behaviour", ["close", "garbage"])
def test_a_port_that_is_not_a_kafka_node_one_line(behaviour):
    """A listener that hangs up at once, or answers with something that is no Kafka frame (an HTTP reply)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                if behaviour == "garbage":
                    connection.recv(1024)
                    connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        result = run("--bootstrap-controller", f"127.0.0.1:{port}", "--timeout-ms", "1000", "describe", "--status")
    finally:
        listener.close()
    assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and f"127.0.0.1:{port}" in result.stderr
    if behaviour == "garbage":
        assert "bad response frame" in result.stderr


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "host:port", ":9093"])
def test_bad_addresses_one_line(address):
    result = run("--bootstrap-controller", address, "describe", "--status")
    assert result.returncode == 1
    assert result.stderr == f"Invalid bootstrap address {address!r}: expected host:port\n"


@pytest.mark.parametrize("command", [["kraft-metadata-quorum"], ["kraft-metadata-quorum", "describe"],
                                     ["kraft-storage"], ["kraft-storage", "format"], ["kraft-storage", "info"],
                                     ["kraft-dump-log"]])
def test_every_help_documents_the_exit_status(command):
    result = subprocess.run([str(SCRIPT.parent / command[0]), *command[1:], "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == ""
    text = " ".join(result.stdout.split())
    assert "Exit status: 0 when" in text and "; 2 when the options do not parse." in text
