"""Running ``test-kraft-server-start`` in the background, and stopping it.

``bin/test-kraft-server-start.sh -daemon --config FILE`` starts the node in the
background, as Kafka's scripts do, and writes two files named after the node id:

* its output, ``$KRAFT_LOG_DIR/kraft-server-<node.id>.out``;
* its pid, ``$KRAFT_PID_DIR/kraft-server-<node.id>.pid``.

``KRAFT_LOG_DIR`` defaults to the parent of the node's log directory (``log.dirs=/tmp/kraft-logs``:
``/tmp``), so the output sits beside the data and never in a checkout; ``KRAFT_PID_DIR`` defaults
to ``KRAFT_LOG_DIR``.

``test-kraft-server-stop --config FILE`` (or ``bin/test-kraft-server-stop.sh``), Kafka's
``kafka-server-stop.sh``: sends SIGTERM to the node of that configuration (the node resigns if it
leads, flushes its log and exits), waits for it to exit and removes the pid file.  Unlike Kafka's
script, which signals every Kafka process it finds with ``ps``, it stops only the process named in
the pid file, and only if that process is still a kraft test server.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from kraft.errors import KraftError

STOP_PROG = "test-kraft-server-stop"


def daemon_files(node_id: int, log_dir: str, environ=os.environ) -> tuple[Path, Path]:
    """(output file, pid file) of a background node."""
    out_dir = Path(environ.get("KRAFT_LOG_DIR") or Path(os.path.abspath(log_dir)).parent)
    pid_dir = Path(environ.get("KRAFT_PID_DIR") or out_dir)
    return out_dir / f"kraft-server-{node_id}.out", pid_dir / f"kraft-server-{node_id}.pid"


def _files_for(config_arg: str) -> tuple[Path, Path]:
    from kraft.tools.test_server import load_config, resolve_config
    config = load_config(resolve_config(config_arg), warn=lambda message: None)
    return daemon_files(config.node_id, config.metadata_log_dir)


def _is_test_server(pid: int) -> Optional[bool]:
    """Whether ``pid`` runs the kraft test server (None: it does not exist)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return True  # no /proc to check: trust the pid file
    return b"kraft.tools.test_server" in cmdline or b"test-kraft-server-start" in cmdline


def stop(pid_file: Path, timeout_s: float, out=sys.stdout) -> int:
    """SIGTERM the node of ``pid_file`` and wait for it to exit; the exit status of the command."""
    try:
        pid = int(pid_file.read_text().strip())
    except FileNotFoundError:
        print(f"{STOP_PROG}: error: no pid file {pid_file}: no node was started in the background with this "
              f"configuration (or KRAFT_PID_DIR differs)", file=sys.stderr)
        return 1
    except ValueError:
        print(f"{STOP_PROG}: error: {pid_file} does not hold a pid", file=sys.stderr)
        return 1
    running = _is_test_server(pid)
    if not running:
        pid_file.unlink(missing_ok=True)
        why = "is not running" if running is None else "is no longer a kraft test server"
        print(f"{STOP_PROG}: error: the node of {pid_file} (pid {pid}) {why}; removed the stale pid file",
              file=sys.stderr)
        return 1
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _is_test_server(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _is_test_server(pid):
        print(f"{STOP_PROG}: error: the node (pid {pid}) did not exit within {timeout_s:g} s of SIGTERM; "
              f"send it a second signal to stop it at once", file=sys.stderr)
        return 1
    pid_file.unlink(missing_ok=True)
    print(f"Stopped the kraft node with pid {pid}", file=out)
    return 0


def stop_main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog=STOP_PROG, description="Stop a node started with test-kraft-server-start.sh -daemon (SIGTERM: a "
                                    "leader resigns, the log is flushed), as Kafka's kafka-server-stop.sh")
    parser.add_argument("--config", metavar="FILE", required=True,
                        help="The configuration the node was started with (it names the pid file)")
    parser.add_argument("--timeout", metavar="SECONDS", type=float, default=30.0,
                        help="How long to wait for the node to exit (default: %(default)s)")
    options = parser.parse_args(argv)
    try:
        _, pid_file = _files_for(options.config)
    except KraftError as e:
        print(f"{STOP_PROG}: error: {e}", file=sys.stderr)
        return 1
    return stop(pid_file, options.timeout)


def _paths_main(argv: Sequence[str]) -> int:
    """``paths <test-kraft-server-start options>``: print the output and pid files (for the shell script)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--config")
    parser.add_argument("--standalone", action="store_true")
    options, _ = parser.parse_known_args(argv)
    if options.config is None and not options.standalone:
        print("test-kraft-server-start: error: Missing configuration file. Should specify with '--config'",
              file=sys.stderr)
        return 1
    try:
        out_file, pid_file = _files_for(options.config or "kraft.properties")
    except KraftError as e:
        print(f"test-kraft-server-start: error: {e}", file=sys.stderr)
        return 1
    print(out_file)
    print(pid_file)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["paths"]:
        sys.exit(_paths_main(sys.argv[2:]))
    sys.exit(stop_main(sys.argv[1:]))
