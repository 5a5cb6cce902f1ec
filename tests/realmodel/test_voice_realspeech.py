"""Real speech on real weights: espeak-ng says typical requests, whisper tiny.en (the published
weights, converted by core.voice.ct2ggml) transcribes them through `tinyagent transcribe`, and
`tinyagent listen --ask --dry-run` hears one through a private PulseAudio server and plans it
with a real planner model.

espeak-ng is synthetic speech: clearer than a person in some ways, stranger in others (its
"text" sounds like "next" to tiny.en). The word error rates printed here (pytest -s) measure
this pipeline on that voice, not on people.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from statistics import fmean

import pytest

from tests.support.pulse import pulse_server
from tests.support.realmodels import real_model
from tests.support.speech_requests import REQUESTS, missing_key_words, speak
from tests.support.whisper_model import real_tiny_en_ggml
from tinyagent.core.voice.wer import word_error_rate

pytestmark = [pytest.mark.realmodel, pytest.mark.audio]
ROOT = Path(__file__).resolve().parents[2]

# Requests whose key words tiny.en misses on espeak-ng's voice (the defaults: beam search 5, the
# hint of the apps' phrases and the sandbox's contacts; 2 threads, no temperature fallback), with
# what it heard in bench/bench_voice.py on 2026-12-02. Not strict: whisper.cpp's arithmetic
# differs a little between CPUs (AVX2, AVX-512, AMX), enough to flip a borderline word; every
# run's summary lists these (pytest -rxX), so one that is heard shows as XPASS.
# espeak-ng clips the first word ("Text" sounds like "Thanks"); padding leading silence (0.3-1 s)
# did not help, nor did whisper base. With greedy decoding and the same hint, 9/12 too, but
# "groceries" is lost with all that follows it ('Create a note called "').
KNOWN_MISSES = {
    "Text Sarah that I'm running late": "heard 'Thanks, Sarah, now time running late.'",
    "Create a note called groceries with milk and eggs": "heard 'Create a note called Broceries with milk and eggs.'",
    "Send an email to Anna about the budget meeting": "heard 'Send a email, turn them out to the budget meeting.'",
}


@pytest.fixture(scope="module")
def tiny_en() -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng (Debian: apt install espeak-ng)")
    return real_tiny_en_ggml()


def transcribe_cli(wav: Path, model: Path, *extra: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "tinyagent.core.cli", "transcribe", str(wav), "--model", str(model),
                           "--no-fallback", "--threads", "2", "--json", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def transcripts(tiny_en, tmp_path_factory) -> dict[str, dict]:
    """Each request spoken to a WAV and transcribed by `tinyagent transcribe`, with its WER."""
    folder = tmp_path_factory.mktemp("spoken")
    results = {}
    for i, (sentence, _) in enumerate(REQUESTS):
        out = transcribe_cli(speak(sentence, folder / f"request-{i:02d}.wav"), tiny_en)
        out["wer"] = word_error_rate(sentence, out["text"])
        results[sentence] = out
    print(f"\nwhisper tiny.en (converted from CTranslate2, default hint and beam) on espeak-ng {len(REQUESTS)} requests:")
    for sentence, out in results.items():
        print(f"  WER {out['wer']:.2f}  {out['seconds']:5.2f} s for {out['audio_seconds']:.2f} s  "
              f"{sentence!r} -> {out['text']!r}")
    print(f"  average WER {fmean(r['wer'] for r in results.values()):.3f}")
    return results


def test_word_error_rate_of_spoken_requests(transcripts):
    rates = [r["wer"] for r in transcripts.values()]
    assert len(rates) >= 10
    assert fmean(rates) < 0.20  # measured 0.13 (0.22 with the names alone, see README); far above: something broke
    assert sum(rate == 0.0 for rate in rates) >= 4  # several requests come out word for word


@pytest.mark.parametrize("sentence,key_words", [
    pytest.param(s, k, marks=pytest.mark.xfail(reason=KNOWN_MISSES[s], strict=False)) if s in KNOWN_MISSES
    else (s, k) for s, k in REQUESTS])
def test_key_words_are_heard(transcripts, sentence, key_words):
    heard = transcripts[sentence]["text"]
    assert not missing_key_words(key_words, heard), f"{sentence!r} heard as {heard!r}"


def test_the_hint_makes_a_clipped_command_heard(tiny_en, transcripts, tmp_path):
    # espeak-ng clips "Start"; without the hint tiny.en heard "Tarte Moo meeting" here
    # (bench/bench_voice.py measures the hints side by side); the apps' phrases include
    # "Start a Zoom meeting.", and with them the command is heard.
    request = "Start a Zoom meeting with the design team"
    plain = transcribe_cli(speak(request, tmp_path / "zoom.wav"), tiny_en, "--hint", "none")["text"]
    print(f"\nwithout the hint: {plain!r}; with it: {transcripts[request]['text']!r}")
    assert missing_key_words(("start", "zoom"), plain)
    assert not missing_key_words(("start", "zoom", "meeting", "design"), transcripts[request]["text"])


def test_the_same_audio_is_heard_the_same_every_time(tiny_en, tmp_path):
    # Beam search draws from a generator that whisper.cpp 1.5.1's state never re-seeds: this
    # request came out as "Broceries", then "call groceries", then "called bloated" from one
    # loaded model. Each transcription now gets a fresh state.
    from tinyagent.core.voice.audio import read_wav
    from tinyagent.core.voice.transcribe import Transcriber

    audio = read_wav(speak("Create a note called groceries with milk and eggs", tmp_path / "note.wav"))
    transcriber = Transcriber(tiny_en, threads=2, beam_size=5, temperature_inc=0.0)
    try:
        heard = [transcriber.submit(audio).result(timeout=120).text for _ in range(3)]
        heard.append(transcriber.transcribe(audio).text)
    finally:
        transcriber.close()
    assert len(set(heard)) == 1, heard


def test_listen_ask_dry_run_plans_a_spoken_request(tiny_en, tmp_path):
    planner = real_model("qwen2.5-coder-0.5b")
    request = "What's the phone number of John Carter"
    wav = speak(request, tmp_path / "request.wav")
    with pulse_server() as pulse:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tinyagent.core.cli", "listen", "--seconds", "20", "--silence", "1.0", "--model", str(tiny_en),
             "--no-fallback", "--threads", "2", "--ask", "--dry-run", "--planner", str(planner), "--json"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PULSE_SERVER": pulse.server})
        try:
            first = proc.stderr.readline()  # printed once the microphone delivers audio
            assert first.startswith("Recording"), first
            player = pulse.play(wav)
            out, err = proc.communicate(timeout=600)
            player.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    heard = next((line[2:] for line in err.splitlines() if line.startswith("> ")), "")
    # through a live capture tiny.en once heard "the only number of John Carter" (see the TUI test)
    assert not missing_key_words(("john", "carter"), heard), err
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    kinds = [e["event"] for e in events]
    assert "request_started" in kinds and "plan_finished" in kinds, err[-2000:]
    started = next(e for e in events if e["event"] == "request_started")
    assert started["request"] == heard and started["dry_run"]
    tools = [e["task"]["tool"] for e in events if e["event"] == "task_added"]
    assert {"get_phone_number", "get_email_address"} & set(tools), (tools, err[-2000:])  # a contact lookup
    assert proc.returncode in (0, 1), err[-2000:]


def test_ctrl_c_ends_a_long_transcription_at_once(tiny_en, tmp_path):
    """whisper.cpp's call cannot be interrupted: the command waits for it on another thread, so
    Ctrl-C ends it at once (it used to run on until the whole recording was transcribed)."""
    import signal
    import time

    import numpy as np

    from tinyagent.core.voice.audio import read_wav, write_wav

    speech = read_wav(speak("Create a note called groceries with milk and eggs", tmp_path / "one.wav"))
    write_wav(tmp_path / "long.wav", np.tile(speech, 60))  # ~3 minutes
    env = {**os.environ, "TINYAGENT_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-m", "tinyagent.core.cli", "transcribe", str(tmp_path / "long.wav"),
                             "--model", str(tiny_en), "--threads", "1"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(8)  # past start-up and loading: well into the minute-long transcription
    assert proc.poll() is None, proc.communicate()
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    # What is left of the transcription takes over a minute: ending within 30 s means it was
    # stopped, not finished (a bound loose enough for a loaded machine).
    assert time.monotonic() - sent < 30
    assert "interrupted" in err and "Traceback" not in err
