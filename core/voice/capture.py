"""Microphone capture through PortAudio (sounddevice), delivered as 16 kHz mono float32.

The stream runs at the device's own rate (asking PortAudio for 16 kHz fails or resamples
badly on many devices); `Recorder.stop` mixes down and resamples once at the end.
PortAudio calls `_on_audio` on its own thread, so that callback only copies the block,
updates a few counters and, at most ~20 times a second, reports a level.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tinyagent.core.config import MAX_NUMBER
from tinyagent.core.events import AudioLevel
from tinyagent.core.voice.audio import WHISPER_RATE, levels, resample, to_mono

LevelCallback = Callable[[AudioLevel], None]

LEVEL_INTERVAL = 0.05  # seconds between level reports (~20/s is plenty for a meter)
SILENCE_RMS = 0.01  # blocks quieter than this count as silence for auto-stop
STALL_SECONDS = 2.0  # audio stopped coming for this long: the device has gone away
STARTUP_SECONDS = 6.0  # a device may take a while to deliver its first block (PulseAudio: ~2 s)
BLOCK_SECONDS = 0.05

_PORTAUDIO_HELP = ("install PortAudio (Debian/Ubuntu: `sudo apt install libportaudio2`, "
                   "Fedora: `sudo dnf install portaudio`, macOS: `brew install portaudio`)")
_MAC_PERMISSION_HELP = ("on macOS, allow microphone access for your terminal app in System Settings > "
                        "Privacy & Security > Microphone, then restart the terminal")


class VoiceUnavailable(Exception):
    """Recording cannot work here; the message says why and what to do."""


class NoSuchDevice(VoiceUnavailable):
    """The configured or requested input device does not exist (a usage error)."""


def _sounddevice() -> Any:
    """Import sounddevice on first use; a missing PortAudio becomes VoiceUnavailable."""
    try:
        import sounddevice
    except (OSError, ImportError) as exc:
        raise VoiceUnavailable(f"voice input needs PortAudio, which could not be loaded ({exc}): "
                               f"{_PORTAUDIO_HELP}") from None
    except Exception as exc:
        # Pa_Initialize fails inside the import, so its PortAudioError cannot be named here
        if type(exc).__name__ != "PortAudioError":
            raise
        raise VoiceUnavailable(f"PortAudio failed to start ({exc}); check your audio system") from None
    _silence_alsa()
    return sounddevice


_alsa_handler: Any = None  # kept alive: ALSA holds a pointer to it


def _silence_alsa() -> None:
    """Stop libasound printing its errors (e.g. "ALSA lib pulse.c: Unable to connect") on
    stderr, where they would garble a terminal UI; our own messages say what went wrong."""
    global _alsa_handler
    if _alsa_handler is not None or not sys.platform.startswith("linux"):
        return
    import ctypes
    import ctypes.util

    try:
        name = ctypes.util.find_library("asound")
        if not name:
            return
        lib = ctypes.CDLL(name)
        handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                        ctypes.c_char_p)
        _alsa_handler = handler_type(lambda *args: None)
        lib.snd_lib_error_set_handler(_alsa_handler)
    except (OSError, AttributeError):
        pass  # no libasound: nothing to silence


# Open streams, held here so a Recorder dropped while recording cannot be garbage-collected
# with its stream: PortAudio would go on calling a freed callback and crash the process.
_open_streams: set[Any] = set()
_wedged = False  # a stream could not be closed: PortAudio is stuck, restarting it would hang too


def rescan_devices() -> None:
    """Make PortAudio list devices again (it scans only once, at start, so a microphone
    plugged in later, or a sound server started later, is otherwise invisible)."""
    sd = _sounddevice()
    if _open_streams:
        return  # restarting PortAudio would kill a recording in progress
    if _wedged:
        raise VoiceUnavailable("the audio system stopped responding after a device went away; "
                               "restart tinyagent to record again")
    try:
        restart_portaudio(sd)
    except sd.PortAudioError as exc:
        raise VoiceUnavailable(f"PortAudio failed to restart ({exc}); check your audio system") from None


def restart_portaudio(sd: Any) -> None:
    """Pa_Terminate then Pa_Initialize, the only way PortAudio rescans its devices.

    sounddevice has no public call for it (its maintainers point users at these two private
    functions), so this is the one place that touches them; tests/integration/test_voice_capture.py
    checks the installed sounddevice still has them, and a release without them becomes a
    clear VoiceUnavailable here rather than an AttributeError."""
    terminate, initialize = getattr(sd, "_terminate", None), getattr(sd, "_initialize", None)
    if not callable(terminate) or not callable(initialize):
        raise VoiceUnavailable(f"this sounddevice ({getattr(sd, '__version__', '?')}) cannot rescan devices; "
                               "restart tinyagent to see a new microphone")
    terminate()
    initialize()


def list_input_devices() -> list[dict[str, Any]]:
    """Devices that can record: index, name, channels, default rate, and which is the default."""
    sd = _sounddevice()
    try:
        default_in = sd.default.device[0]
        return [{"index": d["index"], "name": d["name"], "channels": d["max_input_channels"],
                 "rate": int(d["default_samplerate"]), "default": d["index"] == default_in}
                for d in sd.query_devices() if d["max_input_channels"] > 0]
    except sd.PortAudioError as exc:
        raise VoiceUnavailable(f"cannot list audio devices ({exc})") from None


def parse_device(spec: str | int | None) -> str | int | None:
    """Config/CLI device text: '' -> system default, digits -> PortAudio index, else a name."""
    if spec is None or isinstance(spec, int):
        return spec
    spec = str(spec).strip()
    if not spec:
        return None
    return int(spec) if spec.isdigit() else spec


def _describe_devices(sd: Any) -> str:
    try:
        names = [f"{d['index']}: {d['name']}" for d in sd.query_devices() if d["max_input_channels"] > 0]
    except sd.PortAudioError:
        return ""  # only a hint for an error message already on its way
    return "; input devices: " + ", ".join(names) if names else ""


def _resolve_input(sd: Any, device: str | int | None) -> dict[str, Any]:
    """PortAudio's description of the input device, or VoiceUnavailable saying what to do."""
    try:
        return sd.query_devices(device, "input")
    except (ValueError, sd.PortAudioError) as exc:
        reason = str(exc)
    if device is None:
        hint = ("no microphone found: connect one, or pick a device with --device / `voice.device` "
                "in config (list them with `tinyagent listen --list-devices`)")
        if sys.platform == "darwin":
            hint += f"; {_MAC_PERMISSION_HELP}"
        raise VoiceUnavailable(f"{hint} ({reason})")
    raise NoSuchDevice(f"no input device matches {device!r} ({reason}); set `voice.device` in config or "
                       f"pass --device with a name or index{_describe_devices(sd)}")


def _close_stream(stream: Any, timeout: float = 2.0) -> None:
    """Abort and close a stream. Abort, not stop: Pa_StopStream waits for buffers a vanished
    device never delivers (seen with PulseAudio going away: it hangs for good). The work
    runs on a helper thread so a wedged driver cannot freeze the caller."""
    def close() -> None:
        stream.abort(ignore_errors=True)
        stream.close(ignore_errors=True)
        _open_streams.discard(stream)

    global _wedged
    worker = threading.Thread(target=close, name="portaudio-close", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        _wedged = True


class Recorder:
    """Start/stop (or toggle) recording; `stop()` returns 16 kHz mono float32.

    Recording ends by itself after `max_seconds`, or after `silence_seconds` of trailing
    silence once something was heard (0 turns that off); `wait()` blocks until then.
    """

    def __init__(self, device: str | int | None = None, max_seconds: float = 30.0,
                 silence_seconds: float = 0.0, on_level: LevelCallback | None = None):
        if not 0 < max_seconds <= MAX_NUMBER:  # nan fails this too; inf would overflow the sample count
            raise ValueError(f"max_seconds must be more than 0 and at most {MAX_NUMBER}, not {max_seconds!r}")
        self.device = parse_device(device)
        self.max_seconds = float(max_seconds)
        self.silence_seconds = max(0.0, float(silence_seconds))
        self.on_level = on_level
        self.stop_reason: str | None = None  # max_length, silence, device_lost, stopped
        self.problem: str | None = None  # a warning about the last recording, for the user
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._live = threading.Event()  # set by the first block of audio
        self._stream: Any = None
        self._reset(0)

    @classmethod
    def from_config(cls, voice: Any, on_level: LevelCallback | None = None) -> Recorder:
        return cls(device=voice.device, max_seconds=voice.max_seconds,
                   silence_seconds=voice.silence_seconds, on_level=on_level)

    def _reset(self, rate: int) -> None:
        self._rate = rate
        self._blocks: list[np.ndarray] = []
        self._frames = 0
        self._silent_frames = 0
        self._heard = False
        self._last_level = 0.0
        self._last_audio = time.monotonic()
        self._done.clear()
        self._live.clear()

    @property
    def recording(self) -> bool:
        return self._stream is not None

    @property
    def seconds(self) -> float:
        """Length of the recording so far."""
        return self._frames / self._rate if self._rate else 0.0

    # -- control ------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the input stream and start recording; VoiceUnavailable if that cannot work."""
        sd = _sounddevice()
        with self._lock:
            if self._stream is not None:
                return
            try:
                stream = self._open(sd)
            except VoiceUnavailable:
                rescan_devices()  # a device plugged in, or gone, since PortAudio last looked
                stream = self._open(sd)
            self._stream = stream

    def _open(self, sd: Any) -> Any:
        info = _resolve_input(sd, self.device)
        rate = int(info["default_samplerate"]) or 48000
        self._reset(rate)
        self.stop_reason = self.problem = None
        stream = None
        try:
            stream = sd.InputStream(device=info["index"], samplerate=rate, channels=1, dtype="float32",
                                    blocksize=int(rate * BLOCK_SECONDS), callback=self._on_audio,
                                    finished_callback=self._on_finished)
            _open_streams.add(stream)
            stream.start()
        except sd.PortAudioError as exc:
            if stream is not None:
                _close_stream(stream)
            hint = _MAC_PERMISSION_HELP if sys.platform == "darwin" else \
                "check that it is connected and that no other program holds it"
            raise VoiceUnavailable(f"cannot open input device {info['name']!r} ({exc}); {hint}") from None
        return stream

    def stop(self) -> np.ndarray:
        """Stop recording; the audio (16 kHz mono float32), empty if nothing was recording."""
        with self._lock:
            stream, self._stream = self._stream, None
            if stream is None:
                return np.zeros(0, dtype=np.float32)
            _close_stream(stream)
            if self.stop_reason is None:
                self.stop_reason = "stopped"
            self._done.set()
            blocks, self._blocks = self._blocks, []
        if not blocks:
            return np.zeros(0, dtype=np.float32)
        audio = resample(np.concatenate(blocks), self._rate, WHISPER_RATE)
        audio = audio[: int(self.max_seconds * WHISPER_RATE)]
        if self.problem is None and audio.size and not np.any(audio):
            self.problem = "recorded only digital silence: check the microphone" + (
                f" ({_MAC_PERMISSION_HELP})" if sys.platform == "darwin" else "")
        return audio

    def toggle(self) -> np.ndarray | None:
        """Start if idle (returns None), stop if recording (returns the audio)."""
        if self.recording:
            return self.stop()
        self.start()
        return None

    def wait_for_audio(self, timeout: float = STARTUP_SECONDS) -> bool:
        """Block until the device delivers its first audio (when speaking starts to count)."""
        return self._live.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until recording ends by itself (max length, silence, lost device) or is
        stopped; True if it ended, False on timeout. Call `stop()` afterwards for the audio."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if remaining <= 0:
                return self._done.is_set()
            if self._done.wait(remaining):
                return True
            self._check_stalled()

    def _check_stalled(self) -> None:
        if self._stream is None:
            return
        quiet_for = time.monotonic() - self._last_audio
        if self._frames and quiet_for > STALL_SECONDS:
            self._finish("device_lost", "the input device stopped delivering audio (unplugged?)")
        elif not self._frames and quiet_for > STARTUP_SECONDS:
            self._finish("device_lost", f"the input device delivered no audio in {STARTUP_SECONDS:.0f} s")

    # -- PortAudio thread ---------------------------------------------------------------------
    def _finish(self, reason: str, problem: str | None = None) -> None:
        if not self._done.is_set():
            self.stop_reason = reason
            if problem:
                self.problem = problem
            self._done.set()

    def _on_audio(self, indata: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
        self._last_audio = time.monotonic()
        self._live.set()
        if self._done.is_set():
            return  # full or auto-stopped: ignore the rest until stop()
        block = indata[:, 0].copy() if indata.ndim == 2 else to_mono(indata)
        self._blocks.append(block)
        self._frames += frames
        rms, peak = levels(block)
        self._track_silence(rms, frames)
        now = time.monotonic()
        if self.on_level is not None and now - self._last_level >= LEVEL_INTERVAL:
            self._last_level = now
            try:
                self.on_level(AudioLevel(rms=rms, peak=peak, seconds=self.seconds))
            except Exception as exc:  # noqa: BLE001 - any bug in a meter must not kill the recording
                self.on_level = None
                self.problem = self.problem or f"the level meter failed and was turned off ({exc!r})"
        if self._frames >= self.max_seconds * self._rate:
            self._finish("max_length")

    def _track_silence(self, rms: float, frames: int) -> None:
        if not self.silence_seconds:
            return
        if rms >= SILENCE_RMS:
            self._heard, self._silent_frames = True, 0
            return
        self._silent_frames += frames
        if self._heard and self._silent_frames >= self.silence_seconds * self._rate:
            self._finish("silence")

    def _on_finished(self) -> None:
        # PortAudio ended the stream without us asking: the device went away.
        if self._stream is not None:
            self._finish("device_lost", "the input device stopped (unplugged or taken away?)")
