"""kraft-metadata-quorum's option checks and errors: one line, status 1 (2 for unparseable options)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
