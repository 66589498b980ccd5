"""Two processes claiming one node.id: the one that finds out stops with one line naming the addresses."""
from __future__ import annotations

import re

import pytest

from quorum_util import NodeProcess, free_ports

pytestmark = pytest.mark.integration

WAIT_S = 60


def test_a_second_process_with_the_same_node_id_stops_with_one_line(tmp_path):
    # The copy-paste mistake: node 2's config made from node 1's, listener changed, node.id not.
    p1, p2 = free_ports(2)
    voters = f"1@127.0.0.1:{p1},2@127.0.0.1:{p2}"
    nodes = []
    for name, port in (("first", p1), ("copy", p2)):
        config = tmp_path / f"{name}.properties"
        config.write_text(f"node.id=1\nlisteners=PLAINTEXT://127.0.0.1:{port}\ncontroller.listener.names=PLAINTEXT\n"
                          f"controller.quorum.voters={voters}\nlog.dirs={tmp_path / name}\n")
        nodes.append(NodeProcess(1, config))
    first, copy = nodes
    try:
        first.start()
        assert first.stderr.wait_for(re.compile("started on"), WAIT_S), first.stderr_text()
        copy.start()
        assert copy.wait(WAIT_S) == 1, copy.stderr_text()
        text = copy.stderr_text()
        assert "Traceback" not in text, text
        lines = [line for line in text.splitlines() if "another process uses node.id 1" in line]
        assert len(lines) == 1, text
        assert f"listens on 127.0.0.1:{p2}" in lines[0] and f"node 1 at 127.0.0.1:{p1}" in lines[0], lines[0]
        assert len([line for line in text.splitlines() if " ERROR " in line or "error:" in line]) == 1, text
    finally:
        for node in nodes:
            node.kill()
