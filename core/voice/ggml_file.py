"""Check a whisper.cpp ggml model file without loading it.

A broken model file does not make whisper.cpp raise: it logs an error, hands back a dead
context, and the next transcription crashes the whole process. So the file's structure is
walked here first (header, mel filters, vocabulary, every tensor's bytes), by the
transcriber before loading and by the converter after writing.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

GGML_MAGIC = 0x67676D6C

_HPARAM_NAMES = ("n_vocab", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer", "n_text_ctx",
                 "n_text_state", "n_text_head", "n_text_layer", "n_mels", "ftype")
# ggml tensor type -> (elements per block, bytes per block), for the types whisper models use.
_TYPE_SIZES = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
               9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210),
               15: (256, 292), 30: (1, 2)}


class TranscriptionError(Exception):
    """Transcription cannot run; the message says why and what to do."""


class ModelFileError(TranscriptionError):
    """A whisper model that is missing, unreadable or not a valid whisper.cpp ggml file."""


class _Reader:
    """Sequential reads that turn a short read into 'truncated'."""

    def __init__(self, fh: BinaryIO, path: Path, size: int):
        self.fh, self.path, self.size = fh, path, size

    def read(self, n: int, what: str) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise ModelFileError(f"{self.path} is truncated (ends inside the {what}); download it again")
        return data

    def ints(self, count: int, what: str, fmt: str = "i") -> tuple[int, ...]:
        return struct.unpack(f"<{count}{fmt}", self.read(4 * count, what))

    def skip(self, n: int, what: str) -> None:
        end = self.fh.tell() + n
        if end > self.size:
            raise ModelFileError(f"{self.path} is truncated (ends inside the {what}); download it again")
        self.fh.seek(end)


def _bad(path: Path, why: str) -> ModelFileError:
    return ModelFileError(f"{path} is not a valid whisper.cpp model ({why}); download it again or pick another")


def _check_hparams(path: Path, hp: dict[str, int]) -> None:
    limits = {"n_vocab": (51864, 60000), "n_audio_ctx": (1, 10000), "n_audio_state": (1, 16384),
              "n_audio_head": (1, 256), "n_audio_layer": (1, 256), "n_text_ctx": (1, 10000),
              "n_text_state": (1, 16384), "n_text_head": (1, 256), "n_text_layer": (1, 256),
              "n_mels": (1, 512)}
    for key, (lo, hi) in limits.items():
        if not lo <= hp[key] <= hi:
            raise _bad(path, f"{key} = {hp[key]} is out of range")
    if hp["n_text_state"] != hp["n_audio_state"]:
        raise _bad(path, "text and audio widths differ")
    if hp["ftype"] % 1000 not in _TYPE_SIZES and hp["ftype"] % 1000 not in (4, 5):
        raise _bad(path, f"unknown weight type {hp['ftype']}")


def check_whisper_model(path: str | Path) -> dict[str, int]:
    """Check a ggml whisper model without loading it: readable, right magic, sane header,
    and every tensor's bytes present. Returns the hyper-parameters; ModelFileError if not."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelFileError(f"no such whisper model file: {p}")
    if not p.is_file():
        raise ModelFileError(f"{p} is not a file; pass a whisper.cpp ggml model such as ggml-base.en.bin")
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            return _walk_model(_Reader(fh, p, size))
    except PermissionError:
        raise ModelFileError(f"cannot read {p}: permission denied") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read {p}: {exc.strerror or exc}") from None


def _walk_model(r: _Reader) -> dict[str, int]:
    p = r.path
    magic = r.fh.read(4)
    if magic == b"GGUF":
        raise ModelFileError(f"{p} is a GGUF file; whisper.cpp needs a ggml .bin model such as ggml-base.en.bin")
    if len(magic) < 4 or struct.unpack("<I", magic)[0] != GGML_MAGIC:
        raise _bad(p, "wrong magic number; not a ggml file")
    hp = dict(zip(_HPARAM_NAMES, r.ints(11, "header")))
    _check_hparams(p, hp)
    n_mel, n_fft = r.ints(2, "mel filters")
    if n_mel != hp["n_mels"] or not 1 <= n_fft <= 4096:
        raise _bad(p, "mel filter table does not match the header")
    r.skip(4 * n_mel * n_fft, "mel filters")
    (n_tokens,) = r.ints(1, "vocabulary")
    if not 0 <= n_tokens <= hp["n_vocab"]:
        raise _bad(p, f"vocabulary size {n_tokens} does not match n_vocab {hp['n_vocab']}")
    for _ in range(n_tokens):
        (length,) = r.ints(1, "vocabulary", "I")
        if length > 1024:
            raise _bad(p, "corrupt vocabulary")
        r.skip(length, "vocabulary")
    expected = 7 + 15 * hp["n_audio_layer"] + 4 + 24 * hp["n_text_layer"]
    found = 0
    while head := r.fh.read(12):
        if len(head) < 12:
            raise ModelFileError(f"{p} is truncated (ends inside a tensor header); download it again")
        n_dims, name_len, ttype = struct.unpack("<iii", head)
        if not 1 <= n_dims <= 4 or not 1 <= name_len <= 256 or ttype not in _TYPE_SIZES:
            raise _bad(p, f"corrupt header of tensor {found + 1}")
        dims = r.ints(n_dims, "tensor header")
        if min(dims) < 1:
            raise _bad(p, f"tensor {found + 1} has an empty dimension")
        r.skip(name_len, "tensor header")
        block, block_bytes = _TYPE_SIZES[ttype]
        r.skip(int(np.prod(dims, dtype=np.int64)) // block * block_bytes, "tensor data")
        found += 1
    if found != expected:
        raise ModelFileError(f"{p} is incomplete or damaged: {found} tensors where {expected} belong; download it again")
    return hp


