"""add-controller / remove-controller options and their one-line errors (no quorum needed)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def tool(*args):
    return subprocess.run([str(BIN / "kraft-metadata-quorum"), "--bootstrap-controller", "127.0.0.1:1", *args],
                          capture_output=True, text=True, timeout=60)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.properties"
    path.write_text(text)
    return path


GOOD = "process.roles=controller\nnode.id=4\ncontroller.listener.names=CONTROLLER\n" \
       "listeners=CONTROLLER://127.0.0.1:9095\nadvertised.listeners=CONTROLLER://[::1]:9096\n"


def test_dry_run_add_prints_kafkas_line(tmp_path):
    logs = tmp_path / "logs"
    formatted = subprocess.run([str(BIN / "kraft-storage"), "format", "-t", "MkU3OEVBNTcwNTJENDM2Qg", "-c",
                                str(write(tmp_path, GOOD + f"log.dirs={logs}\n")), "--no-initial-controllers"],
                               capture_output=True, text=True, timeout=60)
    assert formatted.returncode == 0, formatted.stderr
    directory_id = (logs / "meta.properties").read_text().split("directory.id=")[1].split()[0]
    result = tool("--command-config", str(tmp_path / "c.properties"), "add-controller", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (f"DRY RUN of adding controller 4 with directory id {directory_id} and endpoints: "
                             f"CONTROLLER://[::1]:9096\n")


def test_dry_run_remove():
    result = tool("remove-controller", "-i", "3", "-d", "AAAAAAAAAAAAAAAAAAAAAQ", "--dry-run")
    assert result.returncode == 0
    assert result.stdout == "DRY RUN of removing KRaft controller 3 with directory id AAAAAAAAAAAAAAAAAAAAAQ\n"


@pytest.mark.parametrize("text, message", [
    ("node.id=1\n", "process.roles did not contain 'controller' in configuration file. Is this a valid "
                    "controller configuration file?"),
    ("process.roles=controller\n", "node.id not found in configuration file. Is this a valid controller "
                                   "configuration file?"),
    ("process.roles=controller\nnode.id=1\n", "Neither metadata.log.dir nor log.dirs were found. Is this a valid "
                                              "controller configuration file?"),
    (GOOD + "log.dirs={tmp}/nothing\n", "Unable to read meta.properties from {tmp}/nothing"),
])
def test_add_bad_config(tmp_path, text, message):
    result = tool("--command-config", str(write(tmp_path, text.format(tmp=tmp_path))), "add-controller")
    assert result.returncode == 1
    assert result.stderr == message.format(tmp=tmp_path) + "\n"


def test_add_needs_command_config_and_remove_checks_ids():
    assert tool("add-controller").stderr == ("You must supply the configuration file of the controller you are "
                                             "adding when using add-controller.\n")
    negative = tool("remove-controller", "-i", "-1", "-d", "AAAAAAAAAAAAAAAAAAAAAQ")
    assert (negative.returncode, negative.stderr) == (1, "Invalid negative --controller-id: -1\n")
    bad = tool("remove-controller", "-i", "1", "-d", "nope")
    assert bad.returncode == 1 and bad.stderr.startswith("Failed to parse --controller-directory-id: ")
    assert bad.stderr.count("\n") == 1
