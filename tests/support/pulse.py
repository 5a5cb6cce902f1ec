"""Test helper: a private, headless PulseAudio server whose microphone is a null sink's monitor.

Whatever `play()` sends into the sink comes back out of the default source, so real
PortAudio capture can be tested on a machine without a sound card. Recipe and traps:
/work/shared/notes/voice-testing.md. Tests skip (with the reason) when the binaries are
missing; .ci/run installs them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SINK = "vsink"
_CONFIG = """\
load-module module-native-protocol-unix auth-anonymous=1 socket={socket}
load-module module-null-sink sink_name={sink} rate=48000 channels=2
set-default-sink {sink}
set-default-source {sink}.monitor
"""


def missing_binaries() -> list[str]:
    return [b for b in ("pulseaudio", "paplay", "espeak-ng") if shutil.which(b) is None]


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, so a killed run leaves no server."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class PulseServer:
    def __init__(self, root: Path):
        self.root = root
        self.socket = root / "native"
        self.env = {"HOME": str(root), "XDG_RUNTIME_DIR": str(root), "PULSE_RUNTIME_PATH": str(root),
                    "PULSE_STATE_PATH": str(root), "PULSE_SERVER": f"unix:{self.socket}"}
        self._proc: subprocess.Popen | None = None

    @property
    def server(self) -> str:
        return self.env["PULSE_SERVER"]

    def start(self, timeout: float = 10.0) -> None:
        config = self.root / "default.pa"
        config.write_text(_CONFIG.format(socket=self.socket, sink=SINK))
        self._proc = subprocess.Popen(
            ["pulseaudio", "-n", "-F", str(config), "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
             "--use-pid-file=no", f"--log-target=file:{self.root / 'pulse.log'}"],
            env={**os.environ, **self.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                log = (self.root / "pulse.log").read_text(errors="replace")[-2000:] if (self.root / "pulse.log").exists() else ""
                self.stop()
                raise RuntimeError(f"PulseAudio did not start:\n{log}")
            time.sleep(0.05)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def play(self, wav: str | Path) -> subprocess.Popen:
        """Start playing a WAV into the sink (so into the microphone); returns the player."""
        return subprocess.Popen(["paplay", f"--device={SINK}", str(wav)], env={**os.environ, **self.env},
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def speak_wav(text: str, path: str | Path) -> Path:
    """A WAV of espeak-ng saying `text` (22.05 kHz mono)."""
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True, timeout=30)
    return Path(path)


@contextmanager
def pulse_server() -> Iterator[PulseServer]:
    """Start a private PulseAudio server, point PULSE_SERVER at it, stop it afterwards.

    sounddevice scans devices once (at import); `core.voice.capture.rescan_devices()` makes
    an already-imported sounddevice see this server."""
    missing = missing_binaries()
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (Debian: apt install pulseaudio pulseaudio-utils espeak-ng)")
    with tempfile.TemporaryDirectory(prefix="tinyagent-pulse-") as tmp:
        server = PulseServer(Path(tmp))
        server.start()
        old = {k: os.environ.get(k) for k in ("PULSE_SERVER",)}
        os.environ["PULSE_SERVER"] = server.server
        try:
            yield server
        finally:
            server.stop()
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
