"""Shared fixtures. Data in ../shared/data is optional: tests that need it skip with a reason."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
PLANS_FILE = SHARED_DATA / "tinyagent_plans.jsonl"
VOCAB_FILE = SHARED_DATA / "ggml-vocab-llama-spm.gguf"


# The source folders, installed as tinyagent.core, tinyagent.tools, ... (pyproject's package-dir).
SOURCE_FOLDERS = ("core", "tools", "tui", "models", "applescripts")


@pytest.fixture(scope="session", autouse=True)
def one_name_per_module():
    """After the run, no module of ours was loaded under its bare folder name (`core.plan` beside
    `tinyagent.core.plan` would be one file as two modules, with two sets of globals)."""
    yield
    bare = sorted(m for m in sys.modules if m.split(".")[0] in SOURCE_FOLDERS)
    assert bare == [], f"loaded under a bare name, not as tinyagent.<folder>: {bare}"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own config/data/cache dirs: nothing touches the user's files."""
    home = tmp_path_factory.mktemp("tinyagent-home")
    monkeypatch.setenv("TINYAGENT_HOME", str(home))
    monkeypatch.delenv("TINYAGENT_CONFIG", raising=False)
    return home


def load_shared_plans() -> list[dict]:
    if not PLANS_FILE.exists():
        pytest.skip(f"shared data not found at {PLANS_FILE} (../shared/data beside the project)")
    with PLANS_FILE.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="session")
def shared_plans() -> list[dict]:
    return load_shared_plans()


@pytest.fixture(scope="session")
def vocab_file() -> Path:
    if not VOCAB_FILE.exists():
        pytest.skip(f"shared vocab not found at {VOCAB_FILE}")
    return VOCAB_FILE


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory) -> Path:
    """A random-weight LLaMA GGUF (f32, 64-dim) with the real 32k vocab when it is there."""
    from tests.support.gguf_model import write_random_llama_gguf

    vocab = VOCAB_FILE if VOCAB_FILE.exists() else None
    return write_random_llama_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf", vocab_file=vocab)


@pytest.fixture(scope="session")
def vocab_llm(vocab_file):
    """The LLaMA vocabulary as a vocab-only LocalLLM: tokenizes, and checks texts against grammars."""
    from tinyagent.core.planner.llm import LocalLLM

    model = LocalLLM(vocab_file, vocab_only=True)
    yield model
    model.close()
