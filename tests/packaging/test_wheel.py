"""The wheel builds from the source tree, is complete, and works without the source tree.

Builds one wheel with ``pip wheel`` (isolated build, as on a fresh machine) from a clean copy of the
working tree (no ``build/`` left over from an earlier build can leak into it), checks its contents
and metadata, installs it into a new virtual environment and runs kraft there from an unrelated
working directory, so nothing can come from the checkout.
"""
from __future__ import annotations

import email
import json
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, kraft, kraft.records
from kraft._native import crc32c as native_crc
from kraft.tools.test_server import resolve_config
print(json.dumps({
    "file": kraft.__file__,
    "crc": kraft.crc32c(b"123456789"),
    "native_crc": native_crc.__file__,
    "records": kraft.records.IMPLEMENTATION,
    "standalone_config": resolve_config("kraft.properties"),
}))
"""

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "*.so"))
    wheels = tmp / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
                   check=True)
    (built,) = wheels.glob("kraft-*.whl")
    return built


def test_the_wheel_holds_the_license_the_configs_and_no_build_sources(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.endswith((".c", ".pyx", ".h"))], "build inputs shipped"
    assert {f"kraft/tools/config/{n}" for n in ("kraft.properties", "kraft-quorum-1.properties",
                                                "kraft-quorum-2.properties", "kraft-quorum-3.properties")} <= set(names)
    assert sum(n.startswith("kraft/_native/") and n.endswith(".so") for n in names) == 3
    (license_file,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    text = zipfile.ZipFile(wheel).read(license_file).decode()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text


def test_the_wheel_metadata_uses_pep_639_and_names_the_project(wheel):
    archive = zipfile.ZipFile(wheel)
    (meta_name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    meta = email.message_from_bytes(archive.read(meta_name))
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["License"] is None  # the legacy field is gone
    classifiers = meta.get_all("Classifier")
    assert "Programming Language :: Python :: 3" in classifiers and not any("License ::" in c for c in classifiers)
    assert meta.get_all("Project-URL")
    entry_points = archive.read(meta_name.replace("METADATA", "entry_points.txt")).decode()
    assert "test-kraft-server-start = kraft.tools.test_server:main" in entry_points
    assert "test-kraft-server-stop = kraft.tools.daemon:stop_main" in entry_points


def test_wheel_installs_and_imports_without_the_source_tree(wheel, tmp_path):
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
    # --standalone's configuration comes from the installed package, not a checkout
    assert Path(info["standalone_config"]).is_relative_to(env_dir) and Path(info["standalone_config"]).is_file()
    usage = subprocess.run([str(env_dir / "bin" / "test-kraft-server-start"), "--help"], cwd=elsewhere,
                           capture_output=True, text=True, check=True).stdout
    assert "--standalone" in usage and "kraft-quorum-1.properties" in usage
