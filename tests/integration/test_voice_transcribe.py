"""Transcription through the real whisper.cpp runtime (pywhispercpp) on a tiny random-weight
model written by the test: loading and decoding run end to end; the text is noise."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.support.whisper_model import HPARAMS, write_random_whisper_model
from tinyagent.core.config import Config
from tinyagent.core.voice.audio import write_wav
from tinyagent.core.voice.transcribe import ModelFileError, Transcriber, Transcript, check_whisper_model, resolve_whisper_model

ROOT = Path(__file__).resolve().parents[2]
FAST = {"temperature_inc": 0.0}  # a random model always "fails" quality checks: no retries


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return write_random_whisper_model(tmp_path_factory.mktemp("whisper") / "ggml-random.bin")


@pytest.fixture(scope="module")
def transcriber(model):
    t = Transcriber(model, threads=2, **FAST)
    yield t
    t.close()


def noise(seconds: float, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(16000 * seconds)) * 0.1).astype(np.float32)


def cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinyagent.core.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})


# -- model file checks ----------------------------------------------------------------------------
def test_check_accepts_the_random_model(model):
    assert check_whisper_model(model) == HPARAMS


def _corrupt(model: Path, tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("cut", [2, 30, 60_000, 300_000, 4_000_000, -1])
def test_truncated_models_are_rejected(model, tmp_path, cut):
    data = model.read_bytes()
    path = _corrupt(model, tmp_path, "cut.bin", data[:cut])
    with pytest.raises(ModelFileError, match="truncated|not a valid whisper.cpp model"):
        check_whisper_model(path)


def test_bad_model_files_are_rejected_with_reasons(model, tmp_path):
    data = model.read_bytes()
    cases = {
        "missing.bin": (None, "no such whisper model file"),
        "empty.bin": (b"", "wrong magic"),
        "text.bin": (b"this is not a model at all" * 10, "wrong magic"),
        "gguf.bin": (b"GGUF" + b"\0" * 100, "GGUF file"),
        "vocab.bin": (data[:4] + struct.pack("<i", 100) + data[8:], "n_vocab = 100 is out of range"),
        "widths.bin": (data[:28] + struct.pack("<i", 32) + data[32:], "text and audio widths differ"),
        "extra.bin": (data + struct.pack("<iii", 1, 4, 0) + struct.pack("<i", 8) + b"junk" + b"\0" * 32,
                      "incomplete|tensors"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(ModelFileError, match=message):
            check_whisper_model(path)
    with pytest.raises(ModelFileError, match="is not a file"):
        check_whisper_model(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of permissions")
def test_unreadable_model_is_rejected(model, tmp_path):
    path = tmp_path / "locked.bin"
    shutil.copy(model, path)
    path.chmod(0)
    with pytest.raises(ModelFileError, match="permission denied"):
        check_whisper_model(path)


def test_model_that_passes_the_walk_but_whisper_rejects(model, tmp_path):
    # Same layout, one tensor renamed: only whisper.cpp knows the names. Its logged load
    # error must become ModelFileError instead of a dead context that crashes on first use.
    # In a subprocess so a regression crashes that, not the test run.
    bad = tmp_path / "renamed.bin"
    bad.write_bytes(model.read_bytes().replace(b"encoder.ln_post.bias", b"encoder.ln_post.bia_"))
    check_whisper_model(bad)  # structurally fine
    code = ("import numpy as np\nfrom tinyagent.core.voice.transcribe import Transcriber, ModelFileError\n"
            f"t = Transcriber({str(bad)!r}, temperature_inc=0.0)\n"
            "try:\n    t.transcribe(np.zeros(16000, np.float32))\nexcept ModelFileError as exc:\n    print(exc)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-1000:]
    assert "whisper.cpp could not load" in result.stdout and "ln_post" in result.stdout
    assert result.stderr == ""


# -- model resolution ------------------------------------------------------------------------------
def test_resolution_of_paths_and_names(model, tmp_path):
    assert resolve_whisper_model(model) == model
    with pytest.raises(ModelFileError, match="no such whisper model file"):
        resolve_whisper_model(tmp_path / "ggml-missing.bin")
    with pytest.raises(ModelFileError, match=r"models pull whisper-base\.en|--model PATH"):
        resolve_whisper_model("")  # default base.en, not downloaded in the test's empty home
    with pytest.raises(ModelFileError, match="no whisper model 'huge-v9'"):
        resolve_whisper_model("huge-v9")


def test_from_config_uses_model_language_and_threads(model):
    cfg = Config()
    cfg.models.whisper = str(model)
    cfg.voice.language, cfg.voice.threads = "auto", 3
    t = Transcriber.from_config(cfg)
    assert (t.model_spec, t.language, t.threads) == (str(model), "", 3)
    assert not t.loaded  # lazy: nothing loads until first use


# -- transcription through whisper.cpp -------------------------------------------------------------
def test_transcribes_with_real_whisper_cpp(transcriber, model):
    result = transcriber.transcribe(noise(3.0))
    assert isinstance(result, Transcript) and isinstance(result.text, str)
    assert result.audio_seconds == pytest.approx(3.0) and result.seconds > 0
    assert all(0 <= s.start <= s.end for s in result.segments)
    assert result.text == " ".join(s.text for s in result.segments if s.text).strip()
    assert transcriber.loaded and transcriber.model_path == model
    json.dumps(result.to_json())


def test_model_loads_once_and_short_or_empty_audio_is_fine(transcriber):
    transcriber.load()
    first = transcriber._model
    short = transcriber.transcribe(noise(0.3))  # padded to whisper's 1 s minimum
    assert short.audio_seconds == pytest.approx(0.3)
    assert transcriber.transcribe(np.zeros(0, np.float32)) == Transcript("", 0.0, (), 0.0)
    stereo = np.stack([noise(1.5), noise(1.5, seed=1)], axis=1)
    assert transcriber.transcribe(stereo).audio_seconds == pytest.approx(1.5)
    assert transcriber._model is first


def test_check_then_preload_in_the_background(model):
    t = Transcriber(model, threads=1, **FAST)
    assert t.check() == model and not t.loaded
    assert t.preload().result(timeout=60) is t and t.loaded
    assert t.submit(noise(1.0)).result(timeout=60).audio_seconds == pytest.approx(1.0)
    t.close()
    assert not t.loaded


def test_submit_runs_in_a_worker_thread_and_serialises_calls(transcriber):
    futures = [transcriber.submit(noise(2.0, seed=i)) for i in range(3)]
    results = [f.result(timeout=120) for f in futures]
    assert all(isinstance(r, Transcript) for r in results)
    # and concurrent direct calls from several threads do not crash whisper.cpp
    errors: list[BaseException] = []

    def run(seed: int) -> None:
        try:
            transcriber.transcribe(noise(1.5, seed=seed))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors


def test_whisper_cpp_prints_nothing_and_exit_is_clean(model):
    code = ("import numpy as np\nfrom tinyagent.core.voice.transcribe import Transcriber\n"
            f"t = Transcriber({str(model)!r}, temperature_inc=0.0)\n"
            "print(repr(t.transcribe(np.zeros(32000, np.float32)).text))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-1000:]  # the log hook is removed before shutdown
    assert result.stderr == "" and len(result.stdout.splitlines()) == 1


# -- the transcribe command ------------------------------------------------------------------------
def test_cli_transcribe_json_end_to_end(model, tmp_path):
    wav = write_wav(tmp_path / "clip.wav", noise(2.0), rate=16000)
    result = cli("transcribe", str(wav), "--model", str(model), "--no-fallback", "--json", "--threads", "2")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = json.loads(result.stdout)
    assert out["file"] == str(wav) and out["model"] == str(model)
    assert isinstance(out["text"], str) and out["audio_seconds"] == pytest.approx(2.0)
    assert set(out) >= {"segments", "seconds"}


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_cli_transcribe_plain_text_of_a_22k_speech_file(model, tmp_path):
    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "send an email to Sid"], check=True, timeout=30)
    result = cli("transcribe", str(wav), "--model", str(model), "--no-fallback")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_cli_transcribe_errors_are_one_line(model, tmp_path):
    (tmp_path / "notes.txt").write_text("not audio")
    wav = write_wav(tmp_path / "ok.wav", noise(1.0))
    corrupt = tmp_path / "corrupt.bin"
    corrupt.write_bytes(model.read_bytes()[:1_000_000])
    cases = [
        (["transcribe", str(tmp_path / "missing.wav"), "--model", str(model)], "no such audio file"),
        (["transcribe", str(tmp_path / "notes.txt"), "--model", str(model)], "not a WAV file"),
        (["transcribe", str(wav), "--model", str(corrupt)], "truncated"),
        (["transcribe", str(wav), "--model", str(tmp_path / "nope.bin")], "no such whisper model file"),
        (["transcribe", str(wav)], "tinyagent models pull whisper-base.en"),
        (["listen", "--model", str(corrupt)], "truncated"),  # checked before recording starts
    ]
    for argv, message in cases:
        result = cli(*argv)
        assert result.returncode == 2, (argv, result.stderr)
        assert result.stderr.startswith("tinyagent: ") and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert result.stdout == ""


def test_cli_beam_width_is_checked_before_anything_loads(model, tmp_path):
    wav = write_wav(tmp_path / "clip.wav", noise(1.0), rate=16000)
    for bad in ("0", "9", "wide"):
        result = cli("transcribe", str(wav), "--model", str(model), "--beam", bad)
        assert result.returncode == 2 and "--beam" in result.stderr and "Traceback" not in result.stderr, result.stderr
    greedy = cli("transcribe", str(wav), "--model", str(model), "--beam", "1", "--no-fallback", "--json")
    widest = cli("transcribe", str(wav), "--model", str(model), "--beam", "8", "--no-fallback", "--json")
    assert greedy.returncode == 0 and widest.returncode == 0, (greedy.stderr, widest.stderr)


def test_cli_listen_refuses_seconds_that_are_not_a_finite_length(model, tmp_path):
    """`--seconds nan` / `inf` reached the recorder (nan passed its `<= 0` check) and ended in a
    traceback; they, a length too large to count in samples, and a config's 0 are usage errors."""
    config = tmp_path / "config.yaml"
    config.write_text("voice: {max_seconds: 0}\n")
    cases = [["--seconds", bad] for bad in ("nan", "inf", "-inf", "1e308", "NaN")]
    cases += [["--silence", bad] for bad in ("nan", "inf")]
    cases += [["--config", str(config)]]
    for extra in cases:
        argv = ["listen", "--model", str(model), *extra] if extra[0] != "--config" else [*extra, "listen",
                                                                                          "--model", str(model)]
        result = cli(*argv)
        assert result.returncode == 2, (argv, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert ("--seconds" if "--seconds" in argv else "--silence" if "--silence" in argv else "max_seconds") \
            in result.stderr, result.stderr
