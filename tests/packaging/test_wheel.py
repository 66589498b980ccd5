"""The wheel builds from the source tree and works without it.

Builds a wheel with ``pip wheel`` (isolated build, as on a fresh machine),
installs it into a new virtual environment and imports kraft there from an
unrelated working directory, so nothing can come from the checkout.
"""
from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, kraft, kraft.records
from kraft._native import crc32c as native_crc
print(json.dumps({
    "file": kraft.__file__,
    "crc": kraft.crc32c(b"123456789"),
    "native_crc": native_crc.__file__,
    "records": kraft.records.IMPLEMENTATION,
}))
"""


@pytest.mark.integration
def test_wheel_installs_and_imports_without_the_source_tree(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
    )
    (wheel,) = wheels.glob("kraft-*.whl")
    assert "linux" in wheel.name or "macos" in wheel.name or "win" in wheel.name, wheel.name

    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run(
        [str(python), "-c", PROBE], cwd=elsewhere, check=True, capture_output=True, text=True
    ).stdout
    info = json.loads(out)
    assert Path(info["file"]).is_relative_to(env_dir), info["file"]
    assert not Path(info["file"]).is_relative_to(ROOT)
    assert Path(info["native_crc"]).suffix == ".so"
    assert info["crc"] == 0xE3069283  # CRC-32C check value of "123456789"
    assert info["records"] == "native"
