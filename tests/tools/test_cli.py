"""test-kraft-server-start as a real process: options, and one clear line for every startup error."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import loopback_ports

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "test-kraft-server-start"
SHELL_SCRIPT = ROOT / "bin" / "test-kraft-server-start.sh"
TIMEOUT_S = 60


def run_cli(*args, script=SCRIPT, env=None):
    command = [str(script), *map(str, args)]
    environment = dict(os.environ, **(env or {}))
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, env=environment)


def free_port() -> int:
    return loopback_ports.reserve(1)[0]


def write_config(tmp_path: Path, port: int, log_dir: Path, extra: str = "") -> Path:
    path = tmp_path / "node.properties"
    path.write_text(
        "node.id=1\n"
        f"listeners=PLAINTEXT://127.0.0.1:{port}\n"
        "controller.listener.names=PLAINTEXT\n"
        f"controller.quorum.voters=1@127.0.0.1:{port}\n"
        f"log.dirs={log_dir}\n" + extra)
    return path


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if "error:" in line]


@pytest.fixture(scope="module", autouse=True)
def console_script_installed():
    if not SCRIPT.exists():
        pytest.fail(f"console script missing at {SCRIPT}: pip install -e . declares it")


def test_help_describes_every_option():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "Standalone raft server for performance testing" in result.stdout
    for option in ("--config", "--throughput", "--record-size", "--replica-directory-id"):
        assert option in result.stdout
    assert "default: 5000" in result.stdout and "default: 256" in result.stdout


def test_missing_config_is_kafkas_message():
    result = run_cli()
    assert result.returncode == 1
    assert error_lines(result) == [
        "test-kraft-server-start: error: Missing configuration file. Should specify with '--config'"]


@pytest.mark.parametrize("args, fragment", [
    (["--throughput", "0"], "--throughput: must be positive"),
    (["--throughput", "many"], "--throughput: expected an integer"),
    (["--record-size", "-3"], "--record-size: must be positive"),
    (["--replica-directory-id", "not-a-uuid"], "is not a Kafka Uuid"),
    (["--replica-directory-id", "AAAAAAAAAAAAAAAAAAAAAA"], "zero Uuid"),
    (["--no-such-option"], "unrecognized arguments"),
])
def test_bad_options_exit_with_usage(args, fragment, tmp_path):
    result = run_cli("--config", tmp_path / "x.properties", *args)
    assert result.returncode == 2
    lines = error_lines(result)
    assert len(lines) == 1 and fragment in lines[0]


def test_unreadable_config_file(tmp_path):
    result = run_cli("--config", tmp_path / "absent.properties")
    assert result.returncode == 1
    assert error_lines(result) == [
        f"test-kraft-server-start: error: cannot read configuration file {tmp_path / 'absent.properties'}: "
        "No such file or directory"]


@pytest.mark.parametrize("extra, key", [
    ("node.id=x\n", "node.id"),
    ("controller.quorum.fetch.timeout.ms=-1\n", "controller.quorum.fetch.timeout.ms"),
    ("controller.listener.names=CONTROLLER\n", "controller.listener.names"),
])
def test_invalid_config_names_the_key(tmp_path, extra, key):
    config = write_config(tmp_path, free_port(), tmp_path / "logs", extra)
    result = run_cli("--config", config)
    assert result.returncode == 1
    lines = error_lines(result)
    assert len(lines) == 1 and f"Invalid value for configuration {key}" in lines[0]


def test_port_in_use(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = write_config(tmp_path, port, tmp_path / "logs")
        result = run_cli("--config", config)
    assert result.returncode == 1
    lines = error_lines(result)
    assert len(lines) == 1 and f"listener PLAINTEXT cannot bind 127.0.0.1:{port}" in lines[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_log_dir(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        config = write_config(tmp_path, free_port(), locked / "logs")
        result = run_cli("--config", config)
    finally:
        locked.chmod(0o700)
    assert result.returncode == 1
    lines = error_lines(result)
    assert len(lines) == 1 and "log directory" in lines[0] and "not usable" in lines[0]


def test_log_dir_that_is_a_file(tmp_path):
    # Works as root too: nothing can be created under a regular file.
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    config = write_config(tmp_path, free_port(), blocker / "logs")
    result = run_cli("--config", config)
    assert result.returncode == 1
    lines = error_lines(result)
    assert len(lines) == 1 and f"log directory {blocker / 'logs'} is not usable" in lines[0]


def test_shell_script_runs_the_same_program(tmp_path):
    result = run_cli("--config", tmp_path / "absent.properties", script=SHELL_SCRIPT,
                     env={"KRAFT_PYTHON": sys.executable})
    assert result.returncode == 1
    assert "cannot read configuration file" in error_lines(result)[0]


def test_directory_id_generated_once_and_kept(tmp_path):
    from kraft.protocol.uuid import Uuid
    from kraft.server.config import ServerConfig
    from kraft.server.raft_manager import StartupError, prepare_log_dir

    config = ServerConfig.load(write_config(tmp_path, free_port(), tmp_path / "logs"))
    log_dir, first = prepare_log_dir(config, None)
    log_dir.unlock()
    assert first.node_id == 1 and first.directory_id != Uuid.ZERO
    assert first.cluster_id == "AAAAAAAAAAAAAAAAAAAAAA"
    assert (tmp_path / "logs" / "meta.properties").is_file()
    assert (tmp_path / "logs" / "__raft_performance_test-0").is_dir()

    log_dir, again = prepare_log_dir(config, None)
    log_dir.unlock()
    assert again.directory_id == first.directory_id

    log_dir, same = prepare_log_dir(config, first.directory_id)
    log_dir.unlock()
    with pytest.raises(StartupError, match="directory.id"):
        prepare_log_dir(config, Uuid.from_string("b8tRS7h4TJ2Vt43Dp85v2A"))


def test_given_directory_id_is_stored(tmp_path):
    from kraft.protocol.uuid import Uuid
    from kraft.server.config import ServerConfig
    from kraft.server.raft_manager import prepare_log_dir

    config = ServerConfig.load(write_config(tmp_path, free_port(), tmp_path / "logs"))
    wanted = Uuid.from_string("Nkij_D9XRiYKNb41SiJo7Q")
    log_dir, meta = prepare_log_dir(config, wanted)
    log_dir.unlock()
    assert meta.directory_id == wanted
    assert "directory.id=Nkij_D9XRiYKNb41SiJo7Q" in (tmp_path / "logs" / "meta.properties").read_text()


def test_log_dir_used_by_another_node_process(tmp_path):
    from kraft.server.config import ServerConfig
    from kraft.server.raft_manager import StartupError, prepare_log_dir

    config = ServerConfig.load(write_config(tmp_path, free_port(), tmp_path / "logs"))
    (tmp_path / "logs").mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
         str(tmp_path / "logs" / ".lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StartupError, match="locked by another process"):
            prepare_log_dir(config, None)
    finally:
        holder.kill()
        holder.wait(TIMEOUT_S)


def test_corrupt_quorum_state_is_a_startup_error_naming_the_file(tmp_path):
    config = write_config(tmp_path, free_port(), tmp_path / "logs")
    from kraft.storage.log_dir import LogDirectory
    LogDirectory(tmp_path / "logs").ensure_meta_properties(1, "AAAAAAAAAAAAAAAAAAAAAA")  # a formatted directory
    partition = tmp_path / "logs" / "__raft_performance_test-0"
    (partition / "quorum-state").write_text("{not json")
    result = run_cli("--config", config)
    assert result.returncode == 1
    lines = error_lines(result)
    assert len(lines) == 1 and str(partition / "quorum-state") in lines[0]


def test_config_accepts_the_name_of_a_shipped_config_and_standalone_is_the_single_node_one(tmp_path, monkeypatch):
    from kraft.server.config import ServerConfig
    from kraft.tools.test_server import PACKAGED_CONFIG_DIR, resolve_config
    monkeypatch.chdir(tmp_path)  # no config/ here
    assert resolve_config("kraft.properties") == str(PACKAGED_CONFIG_DIR / "kraft.properties")
    assert resolve_config("kraft-quorum-2") == str(PACKAGED_CONFIG_DIR / "kraft-quorum-2.properties")
    (tmp_path / "kraft.properties").write_text("node.id=5\n")
    assert resolve_config("kraft.properties") == "kraft.properties"  # a file of that name wins
    assert resolve_config("no-such.properties") == "no-such.properties"  # reported as unreadable later
    assert ServerConfig.load(PACKAGED_CONFIG_DIR / "kraft.properties").node_id == 0
    # The checkout's config/ is the same directory.
    assert (ROOT / "config").resolve() == PACKAGED_CONFIG_DIR
    result = run_cli("--standalone", "--config", "kraft.properties")
    assert result.returncode == 2 and "not allowed with" in result.stderr
