"""Startup errors are one line and exit status 1, whatever fails first: the log directory before the
port, a truncated or missing meta.properties, a full disk, a record size no batch can hold."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from pathlib import Path

import pytest

from test_cli import error_lines, free_port, run_cli, write_config


def one_error(result) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_log_directory_error_comes_before_the_port_is_bound(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    with socket.socket() as holder:  # the port is taken too: the log directory is reported, as Kafka does
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        config = write_config(tmp_path, holder.getsockname()[1], blocker / "logs")
        result = run_cli("--config", config)
    line = one_error(result)
    assert f"log directory {blocker / 'logs'} is not usable" in line
    assert "accepting connections" not in result.stderr  # nothing was bound


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs filled up to its last two pages (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True,
                            text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        stat = os.statvfs(mount)
        with open(mount / "filler", "wb") as f:
            f.write(bytes(stat.f_bavail * stat.f_frsize - 2 * stat.f_frsize))
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_at_start_is_one_line(tmp_path, full_disk):
    config = write_config(tmp_path, free_port(), full_disk / "logs")
    line = one_error(run_cli("--config", config))
    assert "No space left on device" in line and str(full_disk / "logs") in line, line


def test_a_full_disk_at_start_is_a_startup_error_for_raft_manager(tmp_path, full_disk):
    from kraft.server.raft_manager import RaftManager, StartupError
    config = write_config(tmp_path, free_port(), full_disk / "logs")

    async def start():
        manager = RaftManager(str(config))
        with pytest.raises(StartupError, match="No space left on device"):
            await manager.start()
    asyncio.run(asyncio.wait_for(start(), 60))


def test_a_log_without_its_meta_properties_is_refused(tmp_path):
    partition = tmp_path / "logs" / "__raft_performance_test-0"
    partition.mkdir(parents=True)
    (partition / "00000000000000000000.log").write_bytes(b"")
    (partition / "quorum-state").write_text("{}")
    line = one_error(run_cli("--config", write_config(tmp_path, free_port(), tmp_path / "logs")))
    assert "meta.properties: missing, but" in line and "restore meta.properties" in line, line
    assert not (tmp_path / "logs" / "meta.properties").exists()


def test_a_truncated_meta_properties_names_the_missing_key(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "meta.properties").write_text("#\n#Sun Dec 06 12:14:40 UTC 2026\nversion=1\nnode.id=1\ndirec")
    line = one_error(run_cli("--config", write_config(tmp_path, free_port(), tmp_path / "logs")))
    assert "missing directory.id" in line, line


def test_a_record_size_no_batch_can_hold_is_refused_at_start(tmp_path):
    from kraft.tools.workload import max_record_size
    config = write_config(tmp_path, free_port(), tmp_path / "logs")
    line = one_error(run_cli("--config", config, "--record-size", max_record_size() + 1))
    assert f"--record-size {max_record_size() + 1}" in line and "8388608" in line, line
    assert not (tmp_path / "logs").exists()  # refused before anything started


def test_big_records_at_any_offered_load_leave_the_node_responsive(tmp_path):
    """2 MB records at 5000/s (10 GB/s offered): the node commits, then stops at once on SIGTERM."""
    import re
    import signal
    from quorum_util import NodeProcess
    node = NodeProcess(1, write_config(tmp_path, free_port(), tmp_path / "logs"),
                       ("--record-size", "2000000")).start()
    try:
        assert node.stderr.wait_for(re.compile(r"First record of epoch \d+ committed"), 60), node.stderr_text()
        started = node.stderr.wait_for(re.compile(r"started on .*; log directory (\S+)"), 5)
        assert started and started.group(1) == str(tmp_path / "logs"), node.stderr_text()
        node.signal(signal.SIGTERM)
        assert node.wait(30) == 0, node.stderr_text()
        assert node.stderr.wait_for(re.compile("shut down cleanly"), 5), node.stderr_text()
    finally:
        node.kill()
