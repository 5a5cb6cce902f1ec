"""A TinyLlama-1.1B-shaped GGUF with random weights, quantized to Q4_K_M, cached between runs.

Same shape as TinyAgent-1.1B (2048 embd, 22 layers, 32 heads, 4 KV heads, 5632 FFN, the
LLaMA 32k vocab), so prompt processing and generation cost what the real model costs; the
weights are noise, so only speed and token counts mean anything. Building takes about a
minute (f16 write, then llama.cpp's own quantizer) and ~2.2 GB of temporary disk.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

SHAPE = dict(n_embd=2048, n_layer=22, n_head=32, n_head_kv=4, n_ff=5632, ctx=4096)
FILE_NAME = "tinyllama-1.1b-random-Q4_K_M.gguf"


def default_dir() -> Path:
    from tinyagent.core.config import cache_dir

    return cache_dir() / "bench"


def build_tinyllama_q4(vocab_file: Path, out_dir: Path | None = None, *, threads: int = 2,
                       log=print) -> Path:
    """Return the cached Q4_K_M model, building it first if needed."""
    out_dir = Path(out_dir or default_dir())
    out = out_dir / FILE_NAME
    if out.exists():
        return out
    out_dir.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ is not a package on the path
    from tests.support.gguf_model import write_random_llama_gguf

    f16 = out_dir / "tinyllama-1.1b-random-f16.gguf.tmp"
    started = time.perf_counter()
    log(f"building a TinyLlama-shaped random model in {out_dir} (once; about a minute) ...")
    write_random_llama_gguf(f16, vocab_file=vocab_file, dtype="f16", **SHAPE)
    log(f"  f16 written in {time.perf_counter() - started:.0f} s; quantizing to Q4_K_M ...")
    tmp = out.with_suffix(".tmp")
    try:
        _quantize(f16, tmp, threads)
        tmp.replace(out)  # only a finished file gets the real name
    finally:
        f16.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    log(f"  done in {time.perf_counter() - started:.0f} s: {out} ({out.stat().st_size / 1e6:.0f} MB)")
    return out


def _quantize(src: Path, dst: Path, threads: int) -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
    params.nthread = threads
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params)
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize failed with code {rc}")
