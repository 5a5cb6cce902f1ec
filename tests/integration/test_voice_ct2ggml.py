"""The CTranslate2 -> whisper.cpp converter: tensor names, the fused q/k/v split, vocabulary
bytes, mel filters, clear errors on bad input; then a real conversion of the published
tiny.en weights, loaded and run by real whisper.cpp."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.support import ct2_model
from tests.support.ct2_model import D, ct2_variables, vocabulary, write_ct2_folder
from tests.support.whisper_model import real_base_ggml, real_tiny_en_ggml, tensor_specs
from tinyagent.core.voice.audio import read_wav
from tinyagent.core.voice.ct2ggml import (
    GPT2_TOKENS,
    ConversionError,
    convert_ct2_whisper,
    gpt2_byte_decoder,
    hz_to_mel,
    iter_ggml_tensors,
    mel_filters,
    mel_to_hz,
    text_tokens,
    token_bytes,
)
from tinyagent.core.voice.transcribe import Transcriber, check_whisper_model, is_annotation

SMALL = dict(n_vocab=51864, n_audio_ctx=1500, n_audio_state=D, n_audio_head=1, n_audio_layer=1, n_text_ctx=448,
             n_text_state=D, n_text_head=1, n_text_layer=1, n_mels=80, ftype=1)


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[dict, Path]:
    """The small random model as CTranslate2 variables, and its conversion."""
    root = tmp_path_factory.mktemp("ct2")
    variables = ct2_variables()
    dest = root / "ggml-small.bin"
    convert_ct2_whisper(write_ct2_folder(root / "src", variables), dest)
    return variables, dest


def tensors(path: Path) -> dict[str, np.ndarray]:
    return {name: data for name, _, data in iter_ggml_tensors(path)}


# -- names and layout -----------------------------------------------------------------------------
def test_tensor_names_shapes_and_types_are_whisper_cpps(converted):
    _, dest = converted
    assert check_whisper_model(dest) == SMALL
    found = [(name, shape) for name, shape, _ in iter_ggml_tensors(dest)]
    assert sorted(found) == sorted(tensor_specs(SMALL))  # the list whisper.cpp's loader demands
    types = {name: data.dtype for name, _, data in iter_ggml_tensors(dest)}
    assert types["encoder.conv1.weight"] == types["decoder.blocks.0.mlp.0.weight"] == np.float16
    assert types["encoder.conv1.bias"] == types["decoder.positional_embedding"] == np.float32
    assert types["decoder.blocks.0.attn_ln.weight"] == np.float32


def test_values_are_carried_over(converted):
    variables, dest = converted
    out = tensors(dest)
    assert np.array_equal(out["decoder.token_embedding.weight"], variables["decoder/embeddings/weight"])
    assert np.array_equal(out["encoder.conv2.weight"], variables["encoder/conv2/weight"])
    assert np.array_equal(out["encoder.conv1.bias"][:, 0], variables["encoder/conv1/bias"].astype(np.float32))
    assert np.array_equal(out["encoder.ln_post.weight"], variables["encoder/layer_norm/gamma"].astype(np.float32))
    assert np.array_equal(out["decoder.blocks.0.mlp.2.weight"], variables["decoder/layer_0/ffn/linear_1/weight"])


# -- fused projections ----------------------------------------------------------------------------
def test_fused_self_attention_is_split_into_query_key_value(converted):
    variables, dest = converted
    out = tensors(dest)
    for side in ("encoder", "decoder"):
        w = variables[f"{side}/layer_0/self_attention/linear_0/weight"]
        b = variables[f"{side}/layer_0/self_attention/linear_0/bias"].astype(np.float32)
        attn = f"{side}.blocks.0.attn"
        assert np.array_equal(out[f"{attn}.query.weight"], w[:D])
        assert np.array_equal(out[f"{attn}.key.weight"], w[D:2 * D])
        assert np.array_equal(out[f"{attn}.value.weight"], w[2 * D:])
        assert np.array_equal(out[f"{attn}.query.bias"], b[:D])
        assert np.array_equal(out[f"{attn}.value.bias"], b[2 * D:])
        assert f"{attn}.key.bias" not in out


def test_fused_cross_attention_key_value_is_split(converted):
    variables, dest = converted
    out = tensors(dest)
    w = variables["decoder/layer_0/attention/linear_1/weight"]
    b = variables["decoder/layer_0/attention/linear_1/bias"].astype(np.float32)
    assert np.array_equal(out["decoder.blocks.0.cross_attn.key.weight"], w[:D])
    assert np.array_equal(out["decoder.blocks.0.cross_attn.value.weight"], w[D:])
    assert np.array_equal(out["decoder.blocks.0.cross_attn.value.bias"], b[D:])
    assert np.array_equal(out["decoder.blocks.0.cross_attn.query.weight"],
                          variables["decoder/layer_0/attention/linear_0/weight"])
    assert np.array_equal(out["decoder.blocks.0.cross_attn.out.weight"],
                          variables["decoder/layer_0/attention/linear_2/weight"])


# -- vocabulary -----------------------------------------------------------------------------------
def test_gpt2_byte_alphabet_inverts_to_all_256_bytes():
    decoder = gpt2_byte_decoder()
    assert sorted(decoder.values()) == list(range(256))
    assert [decoder[ch] for ch in ct2_model.gpt2_alphabet()] == list(range(256))
    assert token_bytes("Ġthe") == b" the"
    assert token_bytes("Ċ") == b"\n"
    assert token_bytes("Ã©") == "é".encode()
    assert token_bytes("âĢĻ") == "\u2019".encode()  # GPT-2's famous right single quote
    with pytest.raises(ConversionError, match="outside GPT-2's byte alphabet"):
        token_bytes("\u4e2d")


def test_vocabulary_is_written_as_raw_bytes(converted):
    _, dest = converted
    data = dest.read_bytes()
    pos = 4 + 44 + 8 + 80 * 201 * 4
    count = int.from_bytes(data[pos:pos + 4], "little")
    pos += 4
    tokens = []
    for _ in range(count):
        n = int.from_bytes(data[pos:pos + 4], "little")
        tokens.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    assert count == 50257  # the ordinary tokens and <|endoftext|>, as whisper.cpp's own files
    assert tokens[:256] == [bytes([b]) for b in range(256)]
    assert tokens[256] == b" w0" and tokens[-1] == b"<|endoftext|>"


def test_multilingual_vocabulary_lists_gpt2s_tokens_without_endoftext():
    # Multilingual whisper has 50,257 ordinary tokens and <|endoftext|> after them; whisper.cpp's
    # ggml-base.bin lists only the 50,257 (it names the special tokens itself).
    english = vocabulary()
    multilingual = english[:50256] + ["Ġextra"] + english[50256:]
    assert text_tokens(english)[-1] == b"<|endoftext|>" and len(text_tokens(english)) == GPT2_TOKENS
    listed = text_tokens(multilingual)
    assert len(listed) == GPT2_TOKENS and listed[-1] == b" extra" and b"<|endoftext|>" not in listed


def test_model_bin_split_in_pieces_converts_as_the_whole(tmp_path, converted):
    # Larger models come from PyPI with model.bin cut into pieces across wheels.
    _, whole = converted
    src = write_ct2_folder(tmp_path / "split")
    blob = (src / "model.bin").read_bytes()
    cut = [0, len(blob) // 3, 2 * len(blob) // 3, len(blob)]
    (src / "model.bin").unlink()
    for n in (3, 1, 2):  # written out of order: the part number decides, not the directory listing
        (src / f"model.bin.part{n}").write_bytes(blob[cut[n - 1]:cut[n]])
    dest = tmp_path / "ggml.bin"
    convert_ct2_whisper(src, dest)
    assert dest.read_bytes() == whole.read_bytes()
    (src / "model.bin.part2").unlink()
    _convert_fails(src, tmp_path, r"model.bin pieces \[1, 3\]; expected part1..part3 \(a wheel is missing\)")


# -- mel filters ----------------------------------------------------------------------------------
def test_slaney_mel_scale():
    # librosa's documented values of its default (Slaney) scale: linear to 1 kHz, then log
    assert hz_to_mel(60.0) == pytest.approx(0.9)
    assert np.allclose(hz_to_mel(np.array([110.0, 220.0, 440.0])), [1.65, 3.3, 6.6])
    assert hz_to_mel(1000.0) == pytest.approx(15.0)
    assert hz_to_mel(6400.0) == pytest.approx(15.0 + 27.0)  # 27 mels per factor 6.4 above 1 kHz
    hz = np.array([0.0, 100.0, 999.0, 1000.0, 2500.0, 8000.0])
    assert np.allclose(mel_to_hz(hz_to_mel(hz)), hz)


def test_mel_filters_are_whispers():
    f = mel_filters(80)
    assert f.shape == (80, 201) and f.dtype == np.float32
    assert (f >= 0).all()
    # values of whisper's own assets/mel_filters.npz ("mel_80"), read from openai-whisper 20250625
    assert np.nonzero(f[0])[0].tolist() == [1] and f[0, 1] == pytest.approx(0.02486259, abs=1e-8)
    assert f.sum() == pytest.approx(1.9990242, abs=1e-6)
    assert np.argmax(f, axis=1)[-5:].tolist() == [165, 172, 178, 185, 192]
    assert np.count_nonzero(f, axis=1)[-5:].tolist() == [13, 13, 14, 14, 14]
    peaks = np.argmax(f, axis=1)
    assert (np.diff(peaks) >= 0).all()  # centres climb with the mel index
    for row in f:  # each filter is one triangle: rises, then falls
        nz = row[row > 0]
        top = int(np.argmax(nz))
        assert (np.diff(nz[:top + 1]) > 0).all() and (np.diff(nz[top:]) < 0).all()
    # Slaney normalisation: every triangle has unit area over frequency (bins are 40 Hz apart;
    # sampling a narrow triangle at 40 Hz steps misses up to ~8% either way)
    areas = f.sum(axis=1) * 40.0
    assert np.allclose(areas, 1.0, atol=0.1) and areas.mean() == pytest.approx(1.0, abs=0.01)


def test_mel_filters_sit_in_the_file(converted):
    _, dest = converted
    data = dest.read_bytes()
    assert int.from_bytes(data[48:52], "little") == 80 and int.from_bytes(data[52:56], "little") == 201
    assert np.array_equal(np.frombuffer(data[56:56 + 80 * 201 * 4], "<f4").reshape(80, 201), mel_filters(80))


# -- broken input ---------------------------------------------------------------------------------
def _drop(name):
    def change(v):
        del v[name]
    return change


def _set(name, value):
    def change(v):
        v[name] = value
    return change


def _key_bias(v):
    v["decoder/layer_0/attention/linear_1/bias"][3] = 0.5


BROKEN_VARIABLES = {
    "missing variable": (_drop("encoder/layer_0/ffn/linear_0/bias"), "no variable encoder/layer_0/ffn/linear_0/bias"),
    "wrong shape": (_set("encoder/conv2/weight", np.zeros((D, D, 2), np.float16)),
                    r"encoder/conv2/weight has shape \[64, 64, 2\]"),
    "quantized": (_set("decoder/layer_0/ffn/linear_0/weight", np.zeros((4 * D, D), np.int8)), "quantized"),
    "key bias": (_key_bias, "key part of the fused bias is not zero"),
    "unknown variable": (_set("encoder/layer_0/extra/weight", np.zeros(3, np.float16)), "variables whisper does not"),
    "relu": (_set("decoder/activation", np.array(0, np.int8)), "decoder/activation = 0"),
    "missing layer": (lambda v: [v.pop(k) for k in list(v) if k.startswith("encoder/layer_0/")], "no encoder layers"),
    "heads": (_set("encoder/num_heads", np.array(5, np.int16)), "encoder/num_heads = 5 does not divide the width 64"),
    "widths differ": (_set("decoder/embeddings/weight", np.zeros((51864, 32), np.float16)), "text width 32"),
    # Settings that are no whole number: they raised IndexError, ValueError and OverflowError.
    "empty heads": (_set("encoder/num_heads", np.zeros(0, np.int16)), "encoder/num_heads holds 0 values"),
    "nan heads": (_set("decoder/num_heads", np.array(np.nan, np.float32)), "decoder/num_heads = nan"),
    "inf heads": (_set("encoder/num_heads", np.array(np.inf, np.float16)), "encoder/num_heads = inf"),
    "fractional heads": (_set("encoder/num_heads", np.array(2.5, np.float32)), "encoder/num_heads = 2.5"),
    "empty activation": (_set("decoder/activation", np.zeros(0, np.int8)), "decoder/activation holds 0 values"),
    "nan activation": (_set("decoder/activation", np.array(np.nan, np.float32)), "decoder/activation = nan"),
    "inf activation": (_set("decoder/activation", np.array(-np.inf, np.float32)), "decoder/activation = -inf"),
}


def _convert_fails(src: Path, tmp_path: Path, message: str) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir(exist_ok=True)
    dest = out_dir / "ggml.bin"
    with pytest.raises(ConversionError, match=message):
        convert_ct2_whisper(src, dest)
    assert list(out_dir.iterdir()) == []  # nothing written, no temp file left


@pytest.mark.parametrize("case", sorted(BROKEN_VARIABLES))
def test_broken_variables_are_refused_clearly(tmp_path, case):
    change, message = BROKEN_VARIABLES[case]
    variables = ct2_variables()
    change(variables)
    _convert_fails(write_ct2_folder(tmp_path / "src", variables), tmp_path, message)


def test_broken_files_are_refused_clearly(tmp_path):
    good = write_ct2_folder(tmp_path / "good")
    _convert_fails(tmp_path / "nowhere", tmp_path, "not a folder")
    no_vocab = tmp_path / "no-vocab"
    shutil.copytree(good, no_vocab)
    (no_vocab / "vocabulary.txt").unlink()
    _convert_fails(no_vocab, tmp_path, "no vocabulary.txt")
    cut = tmp_path / "cut"
    shutil.copytree(good, cut)
    (cut / "model.bin").write_bytes((good / "model.bin").read_bytes()[:100_000])
    _convert_fails(cut, tmp_path, "truncated")
    short_vocab = write_ct2_folder(tmp_path / "short-vocab", tokens=vocabulary()[:-1])
    _convert_fails(short_vocab, tmp_path, "lists 51863 tokens; the model has 51864")
    no_eot = write_ct2_folder(tmp_path / "no-eot", tokens=[t.replace("<|endoftext|>", "<|x|>") for t in vocabulary()])
    _convert_fails(no_eot, tmp_path, "no <|endoftext|>")
    _convert_fails(write_ct2_folder(tmp_path / "v5", version=5), tmp_path, "version 5 is not supported")
    _convert_fails(write_ct2_folder(tmp_path / "t5", spec="TransformerSpec"), tmp_path, "TransformerSpec model, not whisper")
    own_projection = ct2_variables()
    own_projection["decoder/projection/weight"] = own_projection["decoder/embeddings/weight"].copy()
    _convert_fails(write_ct2_folder(tmp_path / "proj", own_projection, aliases={}), tmp_path, "own output projection")
    text = tmp_path / "text"
    text.mkdir()
    (text / "model.bin").write_text("not a model")
    (text / "vocabulary.txt").write_text("a\n")
    _convert_fails(text, tmp_path, "version")


def test_failed_conversion_keeps_the_old_file(tmp_path):
    variables = ct2_variables()
    del variables["decoder/layer_norm/gamma"]
    dest = tmp_path / "ggml.bin"
    dest.write_bytes(b"previous")
    with pytest.raises(ConversionError):
        convert_ct2_whisper(write_ct2_folder(tmp_path / "src", variables), dest)
    assert dest.read_bytes() == b"previous" and sorted(p.name for p in tmp_path.iterdir()) == ["ggml.bin", "src"]


def test_progress_counts_up_to_the_tensor_bytes(tmp_path):
    seen: list[tuple[int, int]] = []
    dest = tmp_path / "ggml.bin"
    convert_ct2_whisper(write_ct2_folder(tmp_path / "src"), dest, progress=lambda done, total: seen.append((done, total)))
    totals = {total for _, total in seen}
    assert len(totals) == 1 and seen[0][0] == 0 and seen[-1][0] == seen[-1][1]
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) == 1 + len(tensor_specs(SMALL))
    header = 4 + 44 + 8 + 80 * 201 * 4 + 4 + sum(4 + n for n in [1] * 256) + sum(
        4 + len(t.encode()) - 1 for t in vocabulary()[256:50256]) + 4 + 13
    names = sum(12 + 4 * len(shape) + len(name) for name, shape in tensor_specs(SMALL))
    assert dest.stat().st_size == header + names + seen[-1][1]


def test_whisper_cpp_runs_the_converted_random_model(converted):
    _, dest = converted
    t = Transcriber(dest, threads=2, temperature_inc=0.0)
    try:
        result = t.transcribe((np.random.default_rng(0).standard_normal(32000) * 0.1).astype(np.float32))
    finally:
        t.close()
    assert isinstance(result.text, str) and result.audio_seconds == pytest.approx(2.0)


# -- the real tiny.en ---------------------------------------------------------------------------------
TINY_EN = dict(n_vocab=51864, n_audio_ctx=1500, n_audio_state=384, n_audio_head=6, n_audio_layer=4,
               n_text_ctx=448, n_text_state=384, n_text_head=6, n_text_layer=4, n_mels=80, ftype=1)


@pytest.mark.realmodel
def test_real_tiny_en_converts_to_whisper_cpps_published_layout():
    ggml = real_tiny_en_ggml()
    assert check_whisper_model(ggml) == TINY_EN
    # whisper.cpp's own ggml-tiny.en.bin is 77,704,715 bytes: same tensors, types and tokens
    assert ggml.stat().st_size == 77_704_715
    assert sorted((n, s) for n, s, _ in iter_ggml_tensors(ggml)) == sorted(tensor_specs(TINY_EN))


BASE = dict(TINY_EN, n_vocab=51865, n_audio_state=512, n_audio_head=8, n_audio_layer=6, n_text_state=512,
            n_text_head=8, n_text_layer=6)


@pytest.mark.realmodel
def test_real_base_from_two_wheels_converts_to_whisper_cpps_published_size():
    ggml = real_base_ggml()
    assert check_whisper_model(ggml) == BASE
    # whisper.cpp's own ggml-base.bin is 147,951,465 bytes (multilingual: 50,257 tokens listed)
    assert ggml.stat().st_size == 147_951_465
    assert sorted((n, s) for n, s, _ in iter_ggml_tensors(ggml)) == sorted(tensor_specs(BASE))


@pytest.mark.realmodel
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (apt install espeak-ng)")
def test_real_tiny_en_transcribes_speech(tmp_path):
    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), "What's the phone number of John Carter"],
                   check=True, timeout=30)
    t = Transcriber(real_tiny_en_ggml(), threads=2, temperature_inc=0.0)
    try:
        text = t.transcribe(read_wav(wav)).text
    finally:
        t.close()
    assert "john carter" in text.lower(), text


def test_sound_labels_are_not_speech():
    for label in ("[BLANK_AUDIO]", " [BLANK_AUDIO] ", "(upbeat music)", "[_extra_token_21997]", "[ Silence ].", "[", ""):
        assert is_annotation(label), label
    for speech in ("Text Sarah", "Call (415) 555 0101", "[note] buy milk", "42"):
        assert not is_annotation(speech), speech


@pytest.mark.realmodel
def test_real_tiny_en_hears_nothing_in_silence_even_with_a_hint():
    # tiny.en says "[BLANK_AUDIO]" for silence; that must not become a request
    noise = (np.random.default_rng(0).standard_normal(32000) * 0.01).astype(np.float32)
    for hint in ("", "Contacts: John Carter, Sarah Lindqvist."):
        t = Transcriber(real_tiny_en_ggml(), threads=2, temperature_inc=0.0, hint=hint)
        try:
            assert [t.transcribe(a).text for a in (np.zeros(48000, np.float32), noise)] == ["", ""]
        finally:
            t.close()
