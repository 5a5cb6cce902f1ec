"""Real capture: PortAudio (sounddevice) recording a private PulseAudio server's null sink,
into which the test plays an espeak-ng WAV. No mocks of PortAudio or the sound server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.pulse import pulse_server, speak_wav
from tests.support.whisper_model import write_random_whisper_model
from tinyagent.core.voice.audio import levels, read_wav
from tinyagent.core.voice.capture import NoSuchDevice, Recorder, VoiceUnavailable, list_input_devices, rescan_devices

pytestmark = pytest.mark.audio
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    with pulse_server() as server:
        rescan_devices()  # sounddevice may have scanned before PULSE_SERVER was set
        server.speech = speak_wav("hello world, please schedule a meeting tomorrow",
                                  tmp_path_factory.mktemp("speech") / "speech.wav")
        yield server
    rescan_devices()


def started(recorder: Recorder) -> Recorder:
    recorder.start()
    assert recorder.wait_for_audio(10), "the PulseAudio monitor delivered no audio"
    return recorder


def test_lists_the_pulse_input_devices(pulse):
    devices = list_input_devices()
    names = [d["name"] for d in devices]
    assert "pulse" in names and "default" in names
    assert sum(d["default"] for d in devices) == 1
    assert all(d["channels"] > 0 and d["rate"] > 0 for d in devices)


def test_records_speech_until_trailing_silence(pulse):
    events = []
    recorder = started(Recorder(max_seconds=15, silence_seconds=0.8, on_level=events.append))
    player = pulse.play(pulse.speech)
    assert recorder.wait(20)
    audio = recorder.stop()
    player.wait(10)
    assert recorder.stop_reason == "silence"
    assert not recorder.recording
    assert audio.dtype == np.float32 and audio.ndim == 1
    spoken = len(read_wav(pulse.speech)) / 16000
    assert spoken < len(audio) / 16000 < spoken + 6
    rms, peak = levels(audio)
    assert rms > 0.03 and peak > 0.3  # espeak through the sink: RMS ~0.08, peak ~0.85
    # the level meter: real levels, at most ~20 reports a second, seconds increasing
    assert len(events) >= 5 and max(e.rms for e in events) > 0.02
    gaps = np.diff([e.ts for e in events])
    assert gaps.min() >= 0.045
    assert all(b.seconds >= a.seconds for a, b in zip(events, events[1:]))


def test_silence_records_zeros_and_stops_at_max_length(pulse):
    recorder = started(Recorder(max_seconds=1.0))
    assert recorder.wait(10)
    audio = recorder.stop()
    assert recorder.stop_reason == "max_length"
    assert len(audio) == 16000 and levels(audio) == (0.0, 0.0)
    assert "silence" in recorder.problem


def test_toggle_and_stop_when_idle(pulse):
    recorder = Recorder(max_seconds=5)
    assert recorder.stop().size == 0  # nothing recording: empty, no error
    assert recorder.toggle() is None and recorder.recording
    assert recorder.wait_for_audio(10)
    audio = recorder.toggle()
    assert not recorder.recording and recorder.stop_reason == "stopped"
    assert isinstance(audio, np.ndarray) and audio.size > 0


def test_from_config_and_named_device(pulse):
    from tinyagent.core.config import VoiceConfig

    recorder = Recorder.from_config(VoiceConfig(device="pulse", max_seconds=0.5, silence_seconds=0.0))
    assert (recorder.device, recorder.max_seconds) == ("pulse", 0.5)
    started(recorder)
    assert recorder.wait(10) and len(recorder.stop()) == 8000


@pytest.mark.parametrize("device", ["no-such-mic", "97"])
def test_unknown_device_says_what_to_do(pulse, device):
    with pytest.raises(NoSuchDevice) as info:
        Recorder(device=device).start()
    message = str(info.value)
    assert "voice.device" in message and "--device" in message and "pulse" in message


def test_device_that_disappears_ends_the_recording_cleanly(pulse):
    # Like unplugging a USB microphone: the source vanishes while the sound server stays up.
    with pulse_server() as own:
        rescan_devices()
        recorder = started(Recorder(max_seconds=20))
        unload = subprocess.run(["pactl", "unload-module", "module-null-sink"], env={**os.environ, **own.env},
                                capture_output=True, text=True, timeout=30)
        assert unload.returncode == 0, unload.stderr
        assert recorder.wait(10)
        assert recorder.stop_reason == "device_lost" and "input device" in recorder.problem
        assert recorder.stop().ndim == 1  # what was recorded, no exception
        with pytest.raises(VoiceUnavailable, match="cannot open input device"):
            Recorder(max_seconds=1).start()
    rescan_devices()
    again = started(Recorder(max_seconds=0.3))  # the module's server records again
    assert again.wait(10) and again.stop().size == 4800


def test_recorder_dropped_while_recording_does_not_crash(pulse):
    # The stream's callback refers back to the recorder; if that cycle were collected while
    # PortAudio still runs, the next callback would jump into freed memory (SIGILL/SIGSEGV).
    code = ("import gc, time\nfrom tinyagent.core.voice.capture import Recorder\n"
            "r = Recorder(max_seconds=0.3)\nr.start()\nassert r.wait_for_audio(10) and r.wait(10)\n"
            "del r\nfor _ in range(4):\n    gc.collect()\n    time.sleep(0.25)\nprint('alive')\n")
    result = _run_python(code)
    assert result.returncode == 0 and result.stdout.strip() == "alive", result.stderr[-500:]


def _run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, **env})


def test_no_input_device_at_all():
    code = ("from tinyagent.core.voice.capture import Recorder, VoiceUnavailable\n"
            "try:\n    Recorder().start()\nexcept VoiceUnavailable as exc:\n    print(exc)\n")
    result = _run_python(code, PULSE_SERVER="unix:/nonexistent/socket")
    assert result.returncode == 0, result.stderr
    assert "no microphone found" in result.stdout and "--list-devices" in result.stdout
    assert "Traceback" not in result.stderr


def test_missing_portaudio_library_is_explained():
    # sounddevice finds PortAudio only through ctypes.util.find_library: make that fail.
    code = ("import ctypes.util\nctypes.util.find_library = lambda name: None\n"
            "from tinyagent.core.voice.capture import Recorder, VoiceUnavailable, list_input_devices\n"
            "for call in (Recorder().start, list_input_devices):\n"
            "    try:\n        call()\n    except VoiceUnavailable as exc:\n        print(exc)\n")
    result = _run_python(code)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and all("PortAudio" in line and "libportaudio2" in line for line in lines)


def test_cli_without_portaudio_fails_cleanly(tmp_path):
    model = write_random_whisper_model(tmp_path / "ggml-random.bin")
    code = ("import ctypes.util, sys\nctypes.util.find_library = lambda name: None\n"
            f"from tinyagent.core.cli import main\nsys.exit(main(['listen', '--seconds', '1', '--model', {str(model)!r}]))\n")
    result = _run_python(code)
    assert result.returncode == 1
    assert result.stderr.startswith("tinyagent: cannot record: voice input needs PortAudio")
    assert "Traceback" not in result.stderr


def test_cli_listen_records_and_transcribes(pulse, tmp_path):
    model = write_random_whisper_model(tmp_path / "ggml-random.bin")
    saved = tmp_path / "heard.wav"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinyagent.core.cli", "listen", "--seconds", "12", "--silence", "0.8", "--model", str(model),
         "--no-fallback", "--json", "--save", str(saved)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stderr.readline()  # printed once the microphone delivers audio
    assert first.startswith("Recording (up to 12 s"), first
    player = pulse.play(pulse.speech)
    out, err = proc.communicate(timeout=60)
    player.wait(10)
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert result["stop_reason"] == "silence" and result["problem"] is None
    assert isinstance(result["text"], str) and result["audio_seconds"] > 1.0
    assert levels(read_wav(saved))[0] > 0.03


def test_cli_listen_list_devices_and_bad_device(pulse, tmp_path):
    model = write_random_whisper_model(tmp_path / "ggml-random.bin")
    env = {**os.environ}
    listed = subprocess.run([sys.executable, "-m", "tinyagent.core.cli", "listen", "--list-devices", "--json"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert {"pulse", "default"} <= {d["name"] for d in json.loads(listed.stdout)["devices"]}
    bad = subprocess.run([sys.executable, "-m", "tinyagent.core.cli", "listen", "--device", "no-such-mic", "--model", str(model)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.startswith("tinyagent: cannot record: no input device matches 'no-such-mic'")


def test_cli_listen_ask_with_nothing_heard(pulse, tmp_path):
    model = write_random_whisper_model(tmp_path / "ggml-random.bin")
    result = subprocess.run(
        [sys.executable, "-m", "tinyagent.core.cli", "listen", "--seconds", "1", "--model", str(model), "--no-fallback",
         "--ask", "--dry-run"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "digital silence" in result.stderr and "heard nothing to ask" in result.stderr
