"""bin/test-kraft-server-start.sh: the checkout's virtual environment, a one-line build hint, and -daemon
with a pid file and a stop command."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_cli import ROOT, free_port, write_config

START = ROOT / "bin" / "test-kraft-server-start.sh"
STOP = ROOT / "bin" / "test-kraft-server-stop.sh"
WAIT_S = 60


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("KRAFT_PYTHON", "KRAFT_LOG_DIR", "KRAFT_PID_DIR")}
    env.update(extra)
    return env


def _wait_for(predicate, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is not alive (it exited; its parent, the shell's nohup, is gone)
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_daemon_writes_beside_the_log_directory_keeps_a_pid_file_and_stops_gracefully(tmp_path):
    data = tmp_path / "data"
    config = write_config(tmp_path, free_port(), data / "logs")
    env = _env(KRAFT_PYTHON=sys.executable)
    started = subprocess.run([str(START), "-daemon", "--config", str(config)], env=env, capture_output=True,
                             text=True, timeout=WAIT_S)
    assert started.returncode == 0, started.stderr
    pid_file, out_file = data / "kraft-server-1.pid", data / "kraft-server-1.out"
    pid = None
    try:
        assert pid_file.is_file(), started.stdout
        pid = int(pid_file.read_text())
        assert str(pid_file) in started.stdout and str(out_file) in started.stdout
        assert _wait_for(lambda: out_file.is_file() and "started on" in out_file.read_text()), \
            out_file.read_text() if out_file.exists() else "no output file"
        assert not (ROOT / "logs").exists() or not list((ROOT / "logs").glob("kraft-server*"))

        again = subprocess.run([str(START), "-daemon", "--config", str(config)], env=env, capture_output=True,
                               text=True, timeout=WAIT_S)
        assert again.returncode == 1 and f"already runs with pid {pid}" in again.stderr

        stopped = subprocess.run([str(STOP), "--config", str(config)], env=env, capture_output=True, text=True,
                                 timeout=WAIT_S)
        assert stopped.returncode == 0, stopped.stderr
        assert f"Stopped the kraft node with pid {pid}" in stopped.stdout
        assert not _alive(pid)
        assert not pid_file.exists()
        assert "shut down cleanly" in out_file.read_text(), out_file.read_text()  # SIGTERM: graceful

        # Nothing left to stop: one line, status 1.
        missing = subprocess.run([str(STOP), "--config", str(config)], env=env, capture_output=True, text=True,
                                 timeout=WAIT_S)
        assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "no pid file" in missing.stderr
    finally:
        if pid is not None and _alive(pid):
            os.kill(pid, 9)


def _checkout_copy(tmp_path: Path) -> Path:
    """The start script (and the environment script it sources) in a checkout with no kraft and,
    so far, no .venv."""
    checkout = tmp_path / "checkout"
    (checkout / "bin").mkdir(parents=True)
    shutil.copy2(START, checkout / "bin" / START.name)
    shutil.copy2(START.parent / "kraft-env.sh", checkout / "bin" / "kraft-env.sh")
    return checkout


def test_the_script_runs_the_checkouts_virtual_environment(tmp_path):
    checkout = _checkout_copy(tmp_path)
    (checkout / ".venv" / "bin").mkdir(parents=True)
    marker = tmp_path / "used"
    wrapper = checkout / ".venv" / "bin" / "python"
    wrapper.write_text(f"#!/bin/sh\ntouch {marker}\nexec {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    result = subprocess.run([str(checkout / "bin" / START.name), "--version"], env=_env(), capture_output=True,
                            text=True, timeout=WAIT_S)
    assert result.returncode == 0, result.stderr
    assert "test-kraft-server-start (kraft " in result.stdout
    assert marker.exists()


def test_without_a_built_kraft_the_script_says_how_to_build_in_one_line(tmp_path):
    checkout = _checkout_copy(tmp_path)
    bare = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=WAIT_S)
    probe = subprocess.run([str(bare / "bin" / "python"), "-c", "import kraft.tools.test_server"],
                           capture_output=True, cwd=tmp_path, env=_env())
    if probe.returncode == 0:
        pytest.skip("the base interpreter has kraft installed system-wide")
    result = subprocess.run([str(checkout / "bin" / START.name), "--config", "x.properties"],
                            env=_env(KRAFT_PYTHON=str(bare / "bin" / "python")), capture_output=True, text=True,
                            timeout=WAIT_S, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "pip install -e" in lines[0] and "C compiler" in lines[0] and "python3-venv" in lines[0]
