"""The first run: which planner the app loads when the default is missing, and what the app says.

Uses the real model store (the shipped manifest, in the per-test TINYAGENT_HOME) with model
files put in its cache by hand, as a user without a network would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.support.tui_helpers import make_app, sandbox_config, wait_for
from tinyagent.core import model_manifest, modelstore
from tinyagent.core.config import Config
from tinyagent.tui.widgets.chat import Chat

QWEN = "qwen2.5-coder-0.5b"
TUNED = "qwen2.5-coder-0.5b-tinyagent"  # the same file with the shipped adapter: the offline stand-in


@pytest.fixture
def untuned_store(monkeypatch):
    """A manifest without the adapter entry, for tests that load a random-weight GGUF under Qwen's
    file name (the real adapter fits only the real Qwen)."""
    entries = [e for e in modelstore.load_manifest() if e.name != TUNED]
    monkeypatch.setattr(model_manifest, "load_manifest", lambda: entries)


def place(name: str, source: Path | None = None) -> Path:
    """Put a model's file where the store looks for it (a copy of `source`, or a bare GGUF header)."""
    dest = modelstore.local_path(modelstore.find(name))
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source is not None:
        shutil.copyfile(source, dest)
    else:
        dest.write_bytes(b"GGUF" + b"\0" * 64)
    return dest


def test_the_default_planner_when_it_is_here():
    path = place("tinyagent-1.1b")
    place(QWEN)
    choice = modelstore.planner_choice("")
    assert (choice.name, choice.path, choice.notice) == ("tinyagent-1.1b", path, None)


def test_a_present_planner_stands_in_for_a_missing_default_with_one_line():
    path = place(QWEN)
    choice = modelstore.planner_choice("")
    # Qwen's file is here, so the tuned planner (that file + the adapter shipped in the repo) stands in.
    assert choice.name == TUNED and choice.path == path
    assert choice.adapter == modelstore.adapter_path(modelstore.find(TUNED)) and choice.adapter.is_file()
    assert choice.notice.startswith(f"tinyagent-1.1b is not downloaded, so {TUNED} plans instead")
    assert "\n" not in choice.notice
    assert modelstore.planner_choice("tinyagent-1.1b").path == path  # naming the default is the same
    assert modelstore.planner_choice(QWEN) == modelstore.PlannerChoice(QWEN, path)  # the bare model, no adapter


def test_a_planner_named_on_purpose_is_never_swapped(tmp_path):
    place(QWEN)
    assert modelstore.planner_choice("tinyagent-7b") == modelstore.PlannerChoice("tinyagent-7b", None)
    mine = tmp_path / "mine.gguf"
    assert modelstore.planner_choice(str(mine)) == modelstore.PlannerChoice("mine.gguf", None)
    mine.write_bytes(b"GGUF")
    assert modelstore.planner_choice(str(mine)).path == mine


def test_nothing_here_names_the_default_and_how_to_get_it():
    choice = modelstore.planner_choice("")
    assert (choice.name, choice.path) == ("tinyagent-1.1b", None)
    from tinyagent.core.planner.llm import ModelLoadError
    from tinyagent.core.planner_model import load_planner

    with pytest.raises(ModelLoadError, match="tinyagent-1.1b is not downloaded.*models pull tinyagent-1.1b"):
        load_planner(Config())


def test_the_planner_loads_the_stand_in_and_carries_the_notice(tiny_gguf, untuned_store):
    from tinyagent.core.planner_model import load_planner

    path = place(QWEN, tiny_gguf)  # a real (random-weight) GGUF under the stand-in's name
    llm = load_planner(Config())
    try:
        assert llm.model_path == path
        assert "plans instead" in llm.model_notice
    finally:
        llm.close()
    override = load_planner(Config(), str(tiny_gguf))  # --model is taken as given
    try:
        assert override.model_path == tiny_gguf and override.model_notice is None
    finally:
        override.close()


async def test_the_app_names_the_stand_in_and_does_not_call_the_planner_missing(tmp_path, untuned_store):
    place(QWEN)
    app = make_app(tmp_path, store=modelstore)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: "plans instead" in app.query_one(Chat).text())
        text = app.query_one(Chat).text()
        assert "Missing models: whisper-base.en (voice)" in text
        assert "tinyagent-1.1b (planner)" not in text
        await wait_for(pilot, lambda: app.query_one("#status").model == QWEN)


async def test_a_configured_planner_is_not_reported_missing(tmp_path):
    mine = tmp_path / "mine.gguf"
    mine.write_bytes(b"GGUF")
    config = sandbox_config()
    config.models.planner = str(mine)
    config.models.whisper = str(tmp_path / "voice.bin")
    app = make_app(tmp_path, config, store=modelstore)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()  # the start-up check of the models has run
        await pilot.pause()
        assert "Missing models" not in app.query_one(Chat).text()
        assert "tinyagent-1.1b" not in app.query_one(Chat).text()
        assert app.query_one("#status").model == "mine.gguf"


async def test_the_models_screen_says_which_model_tinyagent_is_built_for(tmp_path):
    app = make_app(tmp_path, store=modelstore)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ModelsScreen")
        about = str(app.screen.query_one("#models-about", Static).render())
        assert "TinyAgent-1.1B (tinyagent-1.1b) is the planner tinyagent is built for" in about
        await wait_for(pilot, lambda: bool(app.screen.query("#pull-qwen2-5-coder-0-5b")))


async def test_the_pipeline_says_which_planner_stands_in(tiny_gguf, untuned_store):
    from tinyagent.core.events import Notice
    from tinyagent.core.pipeline import Pipeline

    place(QWEN, tiny_gguf)
    config = Config(backend="sandbox")
    config.planner.max_tokens = 8  # random weights: the plan itself does not matter here
    pipeline = Pipeline(config)
    events: list = []
    try:
        await pipeline.plan_only("Text Sarah I'm late", emit=events.append)
    finally:
        if pipeline.llm is not None:
            pipeline.llm.close()
    notices = [e.message for e in events if isinstance(e, Notice) and "plans instead" in e.message]
    assert len(notices) == 1 and notices[0].startswith("tinyagent-1.1b is not downloaded, so qwen2.5-coder-0.5b")


def test_the_tuned_stand_in_loads_with_its_adapter_or_says_why_not(tiny_gguf):
    """A GGUF under Qwen's name that the adapter does not fit (here a random LLaMA) is one clear error."""
    from tinyagent.core.planner.llm import ModelLoadError
    from tinyagent.core.planner_model import load_planner

    place(QWEN, tiny_gguf)
    with pytest.raises(ModelLoadError, match="llama.cpp could not load"):
        load_planner(Config())


def test_verify_checks_the_shipped_adapter_too(monkeypatch):
    place(QWEN)  # a bare header: the base file's own size check fails, the adapter's checksum holds
    result = modelstore.verify(TUNED)
    assert not any(p.startswith("adapter ") for p in result.problems), result.problems
    entry = modelstore.find(TUNED)
    broken = [e if e.name != TUNED else modelstore.ModelEntry(**{**e.__dict__, "adapter_sha256": "0" * 64})
              for e in modelstore.load_manifest()]
    monkeypatch.setattr(model_manifest, "load_manifest", lambda: broken)
    problems = modelstore.verify(TUNED).problems
    assert any(p.startswith(f"adapter {entry.adapter}: sha256 is") for p in problems), problems
