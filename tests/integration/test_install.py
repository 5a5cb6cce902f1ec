"""What `pip install .` puts in site-packages: one package, tinyagent, holding every source folder.

The wheel is built from a copy of the project (a build writes build/ and *.egg-info beside the
sources), with the setuptools of the running Python when it is new enough, else in pip's
isolated build environment, which needs PyPI.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[2]
SOURCE_FOLDERS = ("core", "tools", "tui", "models", "applescripts")
# what a build reads: pyproject.toml names the readme; NOTICE goes into the wheel's metadata
BUILD_INPUTS = ("pyproject.toml", "README.md", "NOTICE", "package", *SOURCE_FOLDERS)
# pip's words when the isolated build environment cannot be fetched
OFFLINE = re.compile(r"No matching distribution found for setuptools|Could not find a version that satisfies"
                     r"|NewConnectionError|Network is unreachable|Temporary failure in name resolution")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _setuptools_here() -> bool:
    try:
        major = int(metadata.version("setuptools").split(".")[0])
    except metadata.PackageNotFoundError:
        return False
    return major >= 70  # bdist_wheel built in (no `wheel` package needed), package-dir as pyproject has it


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-w", str(out), "-q"]
    if _setuptools_here():
        cmd.append("--no-build-isolation")
    built = subprocess.run(cmd, cwd=src, capture_output=True, text=True, timeout=600)
    if built.returncode != 0 and "--no-build-isolation" not in cmd and OFFLINE.search(built.stderr):
        pytest.skip(f"cannot build the wheel: pip's build environment needs PyPI: {built.stderr.strip()[-300:]}")
    assert built.returncode == 0, built.stderr
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


@pytest.mark.slow
def test_the_wheel_holds_one_top_level_package_and_its_metadata(wheel):
    version = _pyproject()["project"]["version"]
    assert _pyproject()["project"]["name"] == "tinyagent-tui"
    assert {name.split("/")[0] for name in _names(wheel)} == {"tinyagent", f"tinyagent_tui-{version}.dist-info"}


@pytest.mark.slow
def test_every_source_file_is_in_the_wheel_under_tinyagent(wheel):
    names = _names(wheel)
    expected = {f"tinyagent/{folder}/{p.relative_to(ROOT / folder).as_posix()}"
                for folder in SOURCE_FOLDERS for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts}
    expected |= {"tinyagent/__init__.py", "tinyagent/__main__.py"}
    assert len(expected) > 130
    assert expected - names == set()


@pytest.mark.slow
def test_the_package_data_is_in_the_wheel_under_tinyagent(wheel):
    names = _names(wheel)
    package_dir = _pyproject()["tool"]["setuptools"]["package-dir"]
    expected = set()
    for package, patterns in _pyproject()["tool"]["setuptools"]["package-data"].items():
        folder = ROOT / package_dir[package]
        inside = package.replace(".", "/")
        expected |= {f"{inside}/{p.relative_to(folder).as_posix()}"
                     for pattern in patterns for p in folder.glob(pattern) if p.is_file()}
    assert {"tinyagent/models/manifest.yaml", "tinyagent/tui/app.tcss"} <= expected
    assert any(name.endswith(".applescript") for name in expected)
    assert any(name.endswith(".onnx") for name in expected)
    assert expected - names == set()


@pytest.mark.slow
def test_the_entry_point_is_the_cli_in_the_package(wheel):
    with zipfile.ZipFile(wheel) as zf:
        text = next(zf.read(n).decode() for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt"))
    points = configparser.ConfigParser()
    points.read_string(text)
    assert dict(points["console_scripts"]) == {"tinyagent": "tinyagent.core.cli:run"}
