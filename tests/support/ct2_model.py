"""Test helper: a small random-weight whisper model in CTranslate2's format (the layout of
faster-whisper's model.bin, see ../shared/notes/whisper-ctranslate2.md), for converter tests.

`ct2_variables()` gives the variables as numpy arrays, so a test can break one on purpose
before `write_ct2_folder()` writes model.bin and vocabulary.txt.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

N_VOCAB = 51864  # English-only whisper: whisper.cpp tells the kinds apart by this number
D, HEADS, LAYERS, MELS, AUDIO_CTX, TEXT_CTX = 64, 1, 1, 80, 1500, 448
_CODES = {np.dtype("float32"): 0, np.dtype("int8"): 1, np.dtype("int16"): 2, np.dtype("int32"): 3,
          np.dtype("float16"): 4}


def _linear(out: dict, name: str, rows: int, cols: int, rng: np.random.Generator) -> None:
    out[f"{name}/weight"] = (rng.standard_normal((rows, cols)) * 0.02).astype(np.float16)
    out[f"{name}/bias"] = (rng.standard_normal(rows) * 0.02).astype(np.float16)


def _norm(out: dict, name: str) -> None:
    out[f"{name}/gamma"] = np.ones(D, np.float16)
    out[f"{name}/beta"] = np.zeros(D, np.float16)


def _zero_key_bias(out: dict, name: str, lo: int, hi: int) -> None:
    out[f"{name}/bias"][lo:hi] = 0  # whisper's key projection has no bias


def ct2_variables(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    v: dict[str, np.ndarray] = {
        "decoder/activation": np.array(3, np.int8), "decoder/alibi": np.array(0, np.int8),
        "decoder/alignment_heads": np.array(1, np.int16), "decoder/alignment_layer": np.array(-1, np.int16),
        "decoder/num_heads": np.array(HEADS, np.int16), "decoder/pre_norm": np.array(1, np.int8),
        "decoder/scale_embeddings": np.array(0, np.int8), "decoder/start_from_zero_embedding": np.array(0, np.int8),
        "encoder/num_heads": np.array(HEADS, np.int16),
        "decoder/embeddings/weight": (rng.standard_normal((N_VOCAB, D)) * 0.02).astype(np.float16),
        "decoder/position_encodings/encodings": (rng.standard_normal((TEXT_CTX, D)) * 0.02).astype(np.float16),
        "encoder/position_encodings/encodings": (rng.standard_normal((AUDIO_CTX, D)) * 0.02).astype(np.float16),
        "encoder/conv1/weight": (rng.standard_normal((D, MELS, 3)) * 0.02).astype(np.float16),
        "encoder/conv1/bias": (rng.standard_normal(D) * 0.02).astype(np.float16),
        "encoder/conv2/weight": (rng.standard_normal((D, D, 3)) * 0.02).astype(np.float16),
        "encoder/conv2/bias": (rng.standard_normal(D) * 0.02).astype(np.float16),
    }
    _norm(v, "encoder/layer_norm")
    _norm(v, "decoder/layer_norm")
    for side in ("encoder", "decoder"):
        for i in range(LAYERS):
            layer = f"{side}/layer_{i}"
            _norm(v, f"{layer}/self_attention/layer_norm")
            _linear(v, f"{layer}/self_attention/linear_0", 3 * D, D, rng)
            _zero_key_bias(v, f"{layer}/self_attention/linear_0", D, 2 * D)
            _linear(v, f"{layer}/self_attention/linear_1", D, D, rng)
            _norm(v, f"{layer}/ffn/layer_norm")
            _linear(v, f"{layer}/ffn/linear_0", 4 * D, D, rng)
            _linear(v, f"{layer}/ffn/linear_1", D, 4 * D, rng)
            if side == "decoder":
                _norm(v, f"{layer}/attention/layer_norm")
                _linear(v, f"{layer}/attention/linear_0", D, D, rng)
                _linear(v, f"{layer}/attention/linear_1", 2 * D, D, rng)
                _zero_key_bias(v, f"{layer}/attention/linear_1", 0, D)
                _linear(v, f"{layer}/attention/linear_2", D, D, rng)
    return v


def gpt2_alphabet() -> list[str]:
    """GPT-2's 256 byte characters in byte order, built the way GPT-2's tokenizer describes it."""
    printable = set(range(33, 127)) | set(range(161, 173)) | set(range(174, 256))
    out, moved = [], 0
    for b in range(256):
        if b in printable:
            out.append(chr(b))
        else:
            out.append(chr(256 + moved))
            moved += 1
    return out


def vocabulary() -> list[str]:
    """51,864 byte-level tokens: the 256 single bytes, made-up words, then the special tokens."""
    tokens = gpt2_alphabet()
    tokens += [f"Ġw{i}" for i in range(50256 - len(tokens))]
    tokens += ["<|endoftext|>", "<|startoftranscript|>"]
    tokens += [f"<|t{i}|>" for i in range(N_VOCAB - len(tokens))]
    return tokens


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def write_ct2_folder(folder: str | Path, variables: dict[str, np.ndarray] | None = None,
                     tokens: list[str] | None = None, *, version: int = 6, spec: str = "WhisperSpec",
                     aliases: dict[str, str] | None = None) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    variables = ct2_variables() if variables is None else variables
    aliases = {"decoder/projection/weight": "decoder/embeddings/weight"} if aliases is None else aliases
    out = [struct.pack("<I", version), _string(spec), struct.pack("<II", 3, len(variables))]
    for name, array in sorted(variables.items()):
        out += [_string(name), struct.pack("<B", array.ndim), struct.pack(f"<{array.ndim}I", *array.shape),
                struct.pack("<BI", _CODES[array.dtype], array.nbytes), np.ascontiguousarray(array).tobytes()]
    out.append(struct.pack("<I", len(aliases)))
    for alias, target in aliases.items():
        out += [_string(alias), _string(target)]
    (folder / "model.bin").write_bytes(b"".join(out))
    (folder / "vocabulary.txt").write_text("\n".join(vocabulary() if tokens is None else tokens) + "\n",
                                           encoding="utf-8")
    return folder
