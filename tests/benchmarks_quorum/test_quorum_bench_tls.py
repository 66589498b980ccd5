"""run_quorum_bench.py --tls: the certificates and keys it gives the kraft nodes make a valid mTLS config."""
from __future__ import annotations

import shutil
import ssl
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "quorum"))

import run_quorum_bench  # noqa: E402

from kraft.server.config import ServerConfig  # noqa: E402


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command-line tool")
def test_tls_properties_configure_a_mutual_tls_listener(tmp_path):
    props = run_quorum_bench.tls_properties(tmp_path / "pki")
    config = ServerConfig.from_properties({
        "node.id": "1", "listeners": "PLAINTEXT://127.0.0.1:0", "controller.listener.names": "PLAINTEXT",
        "controller.quorum.voters": "1@127.0.0.1:9093", "log.dirs": str(tmp_path / "logs"), **props})
    assert config.ssl_server_contexts()["PLAINTEXT"].verify_mode == ssl.CERT_REQUIRED
    assert config.ssl_client_context().check_hostname


def test_tls_option_is_parsed_without_running_the_full_benchmark(monkeypatch):
    seen = {}
    monkeypatch.setattr(run_quorum_bench.signal, "signal", lambda *args: None)
    monkeypatch.setattr(run_quorum_bench, "_tls_main", lambda options: seen.setdefault("options", options) and 0)
    assert run_quorum_bench.main(["--tls", "--tls-runs", "4", "--tls-offered", "1000"]) == 0
    assert seen["options"].tls_runs == 4 and seen["options"].tls_offered == 1000
