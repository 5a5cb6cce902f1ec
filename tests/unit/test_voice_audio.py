"""Audio helpers against known signals: mix-down, levels, resampling quality, WAV files."""

from __future__ import annotations

import struct
import wave

import numpy as np
import pytest

from tinyagent.core.voice.audio import AudioFileError, levels, read_wav, resample, to_mono, write_wav


def tone(freq: float, rate: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)).astype(np.float32)


def test_to_mono_averages_channels_and_passes_mono_through():
    stereo = np.array([[1.0, 0.0], [0.5, 0.5], [-1.0, 1.0]], dtype=np.float32)
    assert to_mono(stereo).tolist() == [0.5, 0.5, 0.0]
    assert to_mono(stereo[:, :1]).tolist() == [1.0, 0.5, -1.0]
    mono = np.array([0.1, 0.2], dtype=np.float64)
    out = to_mono(mono)
    assert out.dtype == np.float32 and out.tolist() == pytest.approx([0.1, 0.2])
    with pytest.raises(ValueError, match="shape"):
        to_mono(np.zeros((2, 2, 2)))


def test_levels_of_known_signals():
    rms, peak = levels(tone(440, 16000, amp=0.5))
    assert rms == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)
    assert peak == pytest.approx(0.5, rel=1e-3)
    assert levels(np.zeros(1000, np.float32)) == (0.0, 0.0)
    assert levels(np.zeros(0, np.float32)) == (0.0, 0.0)
    assert levels(np.full(10, -0.25, np.float32)) == pytest.approx((0.25, 0.25))
    assert levels(np.full(10, 3.0, np.float32)) == (1.0, 1.0)  # clipped to the meter's range


@pytest.mark.parametrize("src", [48000, 44100, 22050, 8000])
def test_resample_keeps_a_tone_exact(src):
    out = resample(tone(440, src, seconds=2.0), src)
    assert out.dtype == np.float32 and len(out) == 32000
    expected = tone(440, 16000, seconds=2.0)
    edge = 100  # the zero padding at the ends softens the first and last few samples
    assert np.max(np.abs(out[edge:-edge] - expected[edge:-edge])) < 1e-3


def test_resample_removes_what_16k_cannot_hold():
    # 15 kHz at 48 kHz would alias to 1 kHz if the resampler did not filter first.
    aliased = resample(tone(15000, 48000), 48000)
    assert levels(aliased[100:-100])[0] < 1e-3
    speech_band = resample(tone(3000, 48000), 48000)
    assert levels(speech_band[100:-100])[0] == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_resample_keeps_dc_and_handles_trivial_cases():
    out = resample(np.full(4800, 0.3, np.float32), 48000)
    assert np.allclose(out[50:-50], 0.3, atol=1e-5)
    same = np.arange(5, dtype=np.float32)
    assert resample(same, 16000).tolist() == same.tolist()
    assert resample(np.zeros(0, np.float32), 48000).size == 0
    assert resample(np.ones((4800, 2), np.float32), 48000).shape == (1600,)
    with pytest.raises(ValueError, match="positive"):
        resample(same, 0)


def test_wav_round_trip(tmp_path):
    audio = tone(440, 16000, seconds=0.5)
    path = write_wav(tmp_path / "a.wav", audio)
    back = read_wav(path)
    assert back.dtype == np.float32 and back.shape == audio.shape
    assert np.max(np.abs(back - audio)) <= 1.0 / 32767


def test_read_wav_stereo_48k_16bit_is_mixed_and_resampled(tmp_path):
    left, right = tone(440, 48000, amp=0.4), tone(440, 48000, amp=0.2)
    pcm = (np.stack([left, right], axis=1) * 32767).astype("<i2")
    with wave.open(str(tmp_path / "s.wav"), "wb") as fh:
        fh.setnchannels(2)
        fh.setsampwidth(2)
        fh.setframerate(48000)
        fh.writeframes(pcm.tobytes())
    out = read_wav(tmp_path / "s.wav")
    assert len(out) == 16000
    assert levels(out[100:-100])[1] == pytest.approx(0.3, abs=0.005)


def _riff(fmt_tag: int, channels: int, rate: int, bits: int, data: bytes) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_read_wav_float32_and_24bit(tmp_path):
    audio = tone(440, 16000, seconds=0.25, amp=0.6)
    (tmp_path / "f.wav").write_bytes(_riff(3, 1, 16000, 32, audio.astype("<f4").tobytes()))
    assert np.allclose(read_wav(tmp_path / "f.wav"), audio, atol=1e-7)
    ints = np.round(audio * 8388607).astype("<i4")
    raw = b"".join(int(v).to_bytes(4, "little", signed=True)[:3] for v in ints)
    (tmp_path / "24.wav").write_bytes(_riff(1, 1, 16000, 24, raw))
    assert np.allclose(read_wav(tmp_path / "24.wav"), audio, atol=1e-6)


def test_read_wav_errors_are_clear(tmp_path):
    with pytest.raises(AudioFileError, match="no such audio file"):
        read_wav(tmp_path / "missing.wav")
    with pytest.raises(AudioFileError, match="is a directory"):
        read_wav(tmp_path)
    (tmp_path / "text.wav").write_text("hello, not audio")
    with pytest.raises(AudioFileError, match="not a WAV file"):
        read_wav(tmp_path / "text.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioFileError, match="not a WAV file"):
        read_wav(tmp_path / "empty.wav")
    (tmp_path / "silent.wav").write_bytes(_riff(1, 1, 16000, 16, b""))
    with pytest.raises(AudioFileError, match="contains no audio"):
        read_wav(tmp_path / "silent.wav")
    (tmp_path / "adpcm.wav").write_bytes(_riff(2, 1, 16000, 16, b"\0" * 64))
    with pytest.raises(AudioFileError, match="unsupported sample format"):
        read_wav(tmp_path / "adpcm.wav")
    header_only = _riff(1, 1, 16000, 16, b"\0" * 64)[:20]
    (tmp_path / "cut.wav").write_bytes(header_only)
    with pytest.raises(AudioFileError, match="no format chunk"):
        read_wav(tmp_path / "cut.wav")


def test_truncated_data_chunk_keeps_what_is_there(tmp_path):
    audio = tone(440, 16000, seconds=0.5)
    data = write_wav(tmp_path / "a.wav", audio).read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:-2001])  # cut mid-sample too
    assert len(read_wav(tmp_path / "cut.wav")) == len(audio) - 1001
