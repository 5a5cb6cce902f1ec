"""Random-weight LLaMA GGUF files for tests and benchmarks: real llama.cpp, no real weights.

    path = write_random_llama_gguf(tmp / "tiny.gguf", vocab_file=VOCAB_FILE)

With `vocab_file` (the shared 32k LLaMA vocab) every `tokenizer.*` key is copied, so the
model tokenizes exactly like TinyAgent-1.1B. Without it a small SentencePiece-style vocab
is built here: the three specials, the 256 byte tokens (so any text tokenizes) and the
printable ASCII characters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_DTYPES = ("f32", "f16", "q8_0", "q4_0")


def _copy_tokenizer(writer, vocab_file: Path) -> int:
    """Copy every tokenizer.* key from a vocab-only GGUF; returns the vocab size."""
    from gguf import GGUFReader, GGUFValueType

    reader = GGUFReader(str(vocab_file))
    n_vocab = 0
    for name, f in reader.fields.items():
        if not name.startswith("tokenizer."):
            continue
        value = f.contents()
        vtype = f.types[0]
        if vtype == GGUFValueType.ARRAY:
            writer.add_key_value(name, value, vtype, sub_type=f.types[1])
            if name == "tokenizer.ggml.tokens":
                n_vocab = len(value)
        else:
            writer.add_key_value(name, value, vtype)
    if not n_vocab:
        raise ValueError(f"{vocab_file} has no tokenizer.ggml.tokens")
    return n_vocab


def _own_tokenizer(writer) -> int:
    """A minimal byte-fallback SentencePiece vocab: enough for llama.cpp to tokenize any text."""
    from gguf import TokenType

    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL] + [TokenType.BYTE] * 256
    pieces = ["\u2581"] + [chr(c) for c in range(33, 127)]
    pieces += ["\u2581" + w for w in ("the", "to", "and", "join", "get", "email", "send", "sms")]
    tokens += pieces
    types += [TokenType.NORMAL] * len(pieces)
    scores = [0.0] * 259 + [-float(i) for i in range(len(pieces))]
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types([int(t) for t in types])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    return len(tokens)


def write_random_llama_gguf(
    path: Path | str,
    *,
    vocab_file: Path | None,
    n_embd: int = 64,
    n_layer: int = 2,
    n_head: int = 4,
    n_head_kv: int = 2,
    n_ff: int = 128,
    ctx: int = 2048,
    seed: int = 0,
    dtype: str = "f32",
) -> Path:
    """Write a LLaMA-architecture GGUF with random weights and return its path."""
    from gguf import GGMLQuantizationType, GGUFWriter
    from gguf.quants import quantize

    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    head_dim = n_embd // n_head
    writer = GGUFWriter(str(path), "llama")
    writer.add_name("tinyagent-test-random")
    writer.add_context_length(ctx)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(head_dim)
    writer.add_file_type({"f32": 0, "f16": 1, "q8_0": 7, "q4_0": 2}[dtype])
    n_vocab = _copy_tokenizer(writer, Path(vocab_file)) if vocab_file else _own_tokenizer(writer)
    writer.add_vocab_size(n_vocab)

    rng = np.random.default_rng(seed)
    quant = {"q8_0": GGMLQuantizationType.Q8_0, "q4_0": GGMLQuantizationType.Q4_0}.get(dtype)

    def matrix(name: str, rows: int, cols: int) -> None:
        a = (rng.standard_normal((rows, cols), dtype=np.float32) * 0.5).astype(np.float32)
        if quant is not None:
            writer.add_tensor(name, quantize(a, quant), raw_dtype=quant)
        elif dtype == "f16":
            writer.add_tensor(name, a.astype(np.float16))
        else:
            writer.add_tensor(name, a)

    def norm(name: str) -> None:
        writer.add_tensor(name, np.ones(n_embd, dtype=np.float32))  # norms stay f32

    matrix("token_embd.weight", n_vocab, n_embd)
    norm("output_norm.weight")
    matrix("output.weight", n_vocab, n_embd)
    kv = head_dim * n_head_kv
    for i in range(n_layer):
        norm(f"blk.{i}.attn_norm.weight")
        norm(f"blk.{i}.ffn_norm.weight")
        matrix(f"blk.{i}.attn_q.weight", n_embd, n_embd)
        matrix(f"blk.{i}.attn_k.weight", kv, n_embd)
        matrix(f"blk.{i}.attn_v.weight", kv, n_embd)
        matrix(f"blk.{i}.attn_output.weight", n_embd, n_embd)
        matrix(f"blk.{i}.ffn_gate.weight", n_ff, n_embd)
        matrix(f"blk.{i}.ffn_up.weight", n_ff, n_embd)
        matrix(f"blk.{i}.ffn_down.weight", n_embd, n_ff)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
