"""Pure numpy audio helpers: mono mix-down, resampling, levels, WAV files.

whisper.cpp wants 16 kHz mono float32 in [-1, 1]; microphones deliver 44.1 or 48 kHz,
often stereo, so everything that reaches the transcriber goes through `to_mono` and
`resample` first.
"""

from __future__ import annotations

import math
import struct
from functools import lru_cache
from pathlib import Path

import numpy as np

WHISPER_RATE = 16000

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
MIN_RATE, MAX_RATE = 1000, 768_000  # what audio hardware and files really use; others are broken headers
MAX_CHANNELS = 64
MAX_WAV_BYTES = 256 << 20  # 25 minutes of 44.1 kHz stereo 16-bit audio, 2 hours at 16 kHz stereo
MAX_UP = 640  # the largest polyphase bank used (11,025 Hz -> 16 kHz); odd rates are snapped to 25 Hz


class AudioFileError(ValueError):
    """A WAV file that cannot be used; the message names the file and the problem."""


# -- signal helpers ----------------------------------------------------------------------------
def to_mono(x: np.ndarray) -> np.ndarray:
    """Average the channels of a (frames, channels) block; 1-D input passes through."""
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 2:
        a = a.mean(axis=1, dtype=np.float32) if a.shape[1] > 1 else a[:, 0]
    elif a.ndim != 1:
        raise ValueError(f"expected audio of shape (frames,) or (frames, channels), got {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def levels(block: np.ndarray) -> tuple[float, float]:
    """(RMS, peak) of a block, both in 0..1; (0, 0) for an empty block."""
    a = np.asarray(block, dtype=np.float32)
    if a.size == 0:
        return 0.0, 0.0
    rms = float(np.sqrt(np.mean(np.square(a, dtype=np.float64))))
    peak = float(np.max(np.abs(a)))
    return min(rms, 1.0), min(peak, 1.0)


# Windowed-sinc design: 16 zero crossings each side and a Kaiser window (beta 8.6, about
# -90 dB stop band) keep the aliasing of 48 kHz -> 16 kHz far below a microphone's noise.
_ZEROS = 16
_BETA = 8.6
_ROLLOFF = 0.945  # cutoff a little under Nyquist, so the transition band lands below it
_CHUNK = 8192  # output samples per vectorised step (bounds the temporary (chunk, taps) array)


@lru_cache(maxsize=16)
def _filter_bank(up: int, down: int) -> tuple[np.ndarray, int]:
    """Polyphase filters: row p interpolates at input offset p/up; returns (bank, half-width)."""
    cutoff = _ROLLOFF * min(1.0, up / down)  # as a fraction of the input Nyquist
    half = int(math.ceil(_ZEROS / cutoff))
    k = np.arange(-half + 1, half + 1, dtype=np.float64)  # taps relative to floor(position)
    phases = np.arange(up, dtype=np.float64)[:, None] / up
    t = k[None, :] - phases  # distance from the exact position, in input samples
    window = np.i0(_BETA * np.sqrt(np.clip(1.0 - (t / half) ** 2, 0.0, None))) / np.i0(_BETA)
    bank = cutoff * np.sinc(cutoff * t) * window
    bank /= bank.sum(axis=1, keepdims=True)  # unit gain at DC for every phase
    return bank.astype(np.float32), half


def resample(x: np.ndarray, src_rate: int, dst_rate: int = WHISPER_RATE) -> np.ndarray:
    """Band-limited resampling (polyphase windowed sinc) of a mono signal to `dst_rate`."""
    a = to_mono(x)
    src_rate, dst_rate = int(src_rate), int(dst_rate)
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} and {dst_rate}")
    if src_rate == dst_rate or a.size == 0:
        return a.copy()
    g = math.gcd(src_rate, dst_rate)
    if dst_rate // g > MAX_UP:  # e.g. 44,101 Hz would need a 16,000-row filter bank: snap to 25 Hz steps
        src_rate = max(25, round(src_rate / 25) * 25)
        g = math.gcd(src_rate, dst_rate)
    up, down = dst_rate // g, src_rate // g
    bank, half = _filter_bank(up, down)
    n_out = int(math.ceil(a.size * up / down))
    padded = np.concatenate([np.zeros(half, np.float32), a, np.zeros(half + 1, np.float32)])
    taps = np.arange(-half + 1, half + 1)
    out = np.empty(n_out, dtype=np.float32)
    for start in range(0, n_out, _CHUNK):
        n = np.arange(start, min(start + _CHUNK, n_out))
        base, phase = np.divmod(n * down, up)  # output n sits at input base + phase/up
        window = padded[(base + half)[:, None] + taps[None, :]]
        out[start:start + n.size] = np.einsum("ij,ij->i", window, bank[phase])
    return out


# -- WAV files --------------------------------------------------------------------------------
def write_wav(path: str | Path, audio: np.ndarray, rate: int = WHISPER_RATE) -> Path:
    """Write mono 16-bit PCM (values are clipped to [-1, 1])."""
    import wave

    p = Path(path)
    pcm = (np.clip(to_mono(audio), -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(p), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(int(rate))
        fh.writeframes(pcm.tobytes())
    return p


def read_wav(path: str | Path, rate: int = WHISPER_RATE) -> np.ndarray:
    """A WAV file (PCM 8/16/24/32-bit or float) as float32 mono at `rate` (16 kHz)."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(12)
            _check_riff(p, head)  # /dev/zero or a huge non-WAV file fails here, before a big read
            data = head + fh.read(MAX_WAV_BYTES + 1 - len(head))
        if len(data) > MAX_WAV_BYTES:
            raise AudioFileError(f"{p} is larger than {MAX_WAV_BYTES >> 20} MiB; cut it into shorter files")
    except FileNotFoundError:
        raise AudioFileError(f"no such audio file: {p}") from None
    except IsADirectoryError:
        raise AudioFileError(f"{p} is a directory, not a WAV file") from None
    except OSError as exc:
        raise AudioFileError(f"cannot read {p}: {exc.strerror or exc}") from None
    fmt, body = _parse_riff(p, data)
    audio, src_rate = _decode(p, fmt, body)
    if audio.size == 0:
        raise AudioFileError(f"{p} contains no audio")
    return resample(audio, src_rate, rate)


def _check_riff(p: Path, data: bytes) -> None:
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX") or data[8:12] != b"WAVE":
        raise AudioFileError(f"{p} is not a WAV file (no RIFF/WAVE header); convert it, e.g. "
                             f"`ffmpeg -i INPUT -ar 16000 -ac 1 out.wav`")
    if data[:4] == b"RIFX":
        raise AudioFileError(f"{p} is a big-endian WAV (RIFX), which is not supported")


def _parse_riff(p: Path, data: bytes) -> tuple[bytes, bytes]:
    """The 'fmt ' and 'data' chunks of a RIFF/WAVE file."""
    _check_riff(p, data)
    fmt = body = None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        chunk = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt = chunk
        elif cid == b"data":
            body = chunk  # a truncated file keeps what it has
            break
        pos += 8 + size + (size & 1)  # chunks are padded to even sizes
    if fmt is None or len(fmt) < 16:
        raise AudioFileError(f"{p} is not a usable WAV file (no format chunk)")
    if body is None:
        raise AudioFileError(f"{p} contains no audio (no data chunk)")
    return fmt, body


def _decode(p: Path, fmt: bytes, body: bytes) -> tuple[np.ndarray, int]:
    tag, channels, src_rate, _, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]  # first two bytes of the sub-format GUID
    if not 1 <= channels <= MAX_CHANNELS or bits not in (8, 16, 24, 32, 64):
        raise AudioFileError(f"{p} has an invalid format header ({channels} channels, {src_rate} Hz, {bits} bits)")
    if not MIN_RATE <= src_rate <= MAX_RATE:
        raise AudioFileError(f"{p} claims a sample rate of {src_rate} Hz; only {MIN_RATE} to {MAX_RATE} Hz "
                             f"are supported (is the header damaged?)")
    width = bits // 8
    frames = len(body) // (width * channels)
    raw = body[:frames * width * channels]
    if tag == _PCM and bits == 8:
        samples = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif tag == _PCM and bits == 16:
        samples = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif tag == _PCM and bits == 24:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8  # sign-extend 24 bits
        samples = ints.astype(np.float32) / 8388608.0
    elif tag == _PCM and bits == 32:
        samples = (np.frombuffer(raw, "<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    elif tag == _FLOAT and bits in (32, 64):
        with np.errstate(over="ignore", invalid="ignore"):  # out-of-range floats are clipped next
            samples = np.frombuffer(raw, "<f4" if bits == 32 else "<f8").astype(np.float32)
        samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    else:
        raise AudioFileError(f"{p} uses an unsupported sample format (format tag {tag}, {bits} bits); "
                             f"convert it to 16-bit PCM, e.g. `ffmpeg -i {p.name} -ar 16000 -ac 1 out.wav`")
    return to_mono(samples.reshape(-1, channels)), src_rate
