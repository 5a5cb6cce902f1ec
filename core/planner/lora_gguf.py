"""Writing a LoRA adapter as llama.cpp reads it (`Llama(lora_path=...)`), and checking one.

The layout is llama.cpp's GGUF LoRA format, as its `convert_lora_to_gguf.py` writes it:
`general.type = adapter`, `adapter.type = lora`, `adapter.lora.alpha`, the base model's
`general.architecture`, and per adapted weight two tensors `blk.N.<tensor>.weight.lora_a`
(peft's lora_A, shape [rank, in]) and `.lora_b` (peft's lora_B, shape [out, rank]). llama.cpp
adds (alpha / rank) * B @ A to the base weight at load time.

Only numpy and the `gguf` package are needed, so a test can write an adapter for a small
random-weight model without torch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# Hugging Face module names of a Qwen2 / LLaMA decoder layer -> llama.cpp tensor names.
HF_TO_GGUF = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_PEFT_KEY = re.compile(r"layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)\.lora_([AB])(?:\.\w+)?\.weight$")


class AdapterError(ValueError):
    """An adapter that cannot be written or is not a LoRA adapter for the base model."""


def gguf_tensors(peft_state: Mapping[str, Any]) -> dict[str, Any]:
    """peft's state dict (numpy arrays or tensors) -> {llama.cpp tensor name: float32 array}."""
    import numpy as np

    out: dict[str, Any] = {}
    for key, value in peft_state.items():
        match = _PEFT_KEY.search(key)
        if match is None:
            raise AdapterError(f"unexpected adapter weight {key!r} (only q/k/v/o and gate/up/down LoRA weights are written)")
        layer, module, which = match.groups()
        array = value.detach().float().cpu().numpy() if hasattr(value, "detach") else np.asarray(value, dtype=np.float32)
        out[f"blk.{layer}.{HF_TO_GGUF[module]}.weight.lora_{which.lower()}"] = np.ascontiguousarray(array, dtype=np.float32)
    missing = {k[:-1] + ("b" if k.endswith("a") else "a") for k in out} - set(out)
    if missing:
        raise AdapterError(f"adapter weights come in A/B pairs; missing {sorted(missing)[0]}")
    return out


def write_adapter(path: Path | str, peft_state: Mapping[str, Any], *, alpha: float, architecture: str,
                  name: str = "", metadata: Mapping[str, str] | None = None, f16: bool = True) -> Path:
    """Write the adapter to `path` (atomically: a temp file renamed into place)."""
    import gguf
    import numpy as np

    path = Path(path)
    tensors = gguf_tensors(peft_state)
    if not tensors:
        raise AdapterError("the adapter has no weights")
    tmp = path.with_name(path.name + ".part")
    writer = gguf.GGUFWriter(str(tmp), architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    if name:
        writer.add_name(name)
    for key, value in (metadata or {}).items():
        writer.add_string(key, str(value))
    for tensor_name in sorted(tensors, key=_tensor_order):
        array = tensors[tensor_name]
        writer.add_tensor(tensor_name, array.astype(np.float16) if f16 else array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(path)
    return path


def _tensor_order(name: str) -> tuple[int, str]:
    match = re.match(r"blk\.(\d+)\.(.*)$", name)
    return (int(match.group(1)), match.group(2)) if match else (-1, name)


def _open_adapter(path: Path | str) -> tuple[Any, Any]:
    """(the file's GGUFReader, a reader of its metadata fields) once it is checked to be a LoRA adapter."""
    import gguf

    try:
        reader = gguf.GGUFReader(str(path))
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{path}: not a GGUF file ({exc})") from None

    def field(key: str) -> Any:
        f = reader.fields.get(key)
        if f is None:
            return None
        value = f.parts[f.data[0]]
        return bytes(value).decode("utf-8") if f.types and f.types[0] == gguf.GGUFValueType.STRING else value[0].item()

    if field("general.type") != "adapter" or field("adapter.type") != "lora":
        raise AdapterError(f"{path}: not a LoRA adapter (general.type {field('general.type')!r})")
    return reader, field


def trained_profile(path: Path | str) -> str:
    """The prompt profile an adapter says it was trained on (train-planner writes `tinyagent.profile`); "" if none."""
    _reader, field = _open_adapter(path)
    value = field("tinyagent.profile")
    return value if isinstance(value, str) else ""


def read_adapter(path: Path | str) -> dict[str, Any]:
    """{'alpha', 'architecture', 'rank', 'tensors': n, 'layers': n, 'fields': {...}} of an adapter file."""
    reader, field = _open_adapter(path)
    ranks = {int(min(t.shape)) for t in reader.tensors if t.name.endswith(".lora_a")}
    layers = {t.name.split(".")[1] for t in reader.tensors}
    return {"alpha": field("adapter.lora.alpha"), "architecture": field("general.architecture"),
            "rank": ranks.pop() if len(ranks) == 1 else sorted(ranks), "tensors": len(reader.tensors),
            "layers": len(layers)}


def peft_state(path: Path | str) -> tuple[float, dict[str, Any]]:
    """An adapter file read back as (alpha, peft's state dict of float32 arrays): the inverse of
    `write_adapter`, so a training run can start from a shipped adapter."""
    import numpy as np

    reader, field = _open_adapter(path)
    to_hf = {v: k for k, v in HF_TO_GGUF.items()}
    state: dict[str, Any] = {}
    for t in reader.tensors:
        match = re.fullmatch(r"blk\.(\d+)\.(\w+)\.weight\.lora_([ab])", t.name)
        if match is None or match.group(2) not in to_hf:
            raise AdapterError(f"{path}: unexpected adapter tensor {t.name!r}")
        layer, tensor, which = match.groups()
        shape = [int(n) for n in reversed(t.shape)]  # GGUF lists dimensions innermost first
        state[f"base_model.model.model.layers.{layer}.{to_hf[tensor]}.lora_{which.upper()}.weight"] = \
            np.array(t.data, dtype=np.float32).reshape(shape)
    return float(field("adapter.lora.alpha")), state


def average(adapters: Sequence[Path | str], *, rank: int) -> tuple[float, dict[str, Any]]:
    """The mean of several adapters' weight changes (scale * B @ A for each weight), as one adapter
    of `rank` (alpha = rank, so its scale is 1): (alpha, peft's state dict). Averaging checkpoints
    of one run (a "soup") planned better than either alone. Each mean is the best rank-`rank`
    approximation (truncated SVD), worked out from the thin factors without forming the full
    matrices: QR of the stacked B's and A's, then the SVD of a small core."""
    import numpy as np

    if not adapters:
        raise AdapterError("nothing to average")
    read = [peft_state(path) for path in adapters]
    keys = set(read[0][1])
    for path, (_, state) in zip(adapters, read):
        if set(state) != keys:
            raise AdapterError(f"{path} adapts other weights than {adapters[0]}")
    out: dict[str, Any] = {}
    for a_key in sorted(k for k in keys if ".lora_A." in k):
        b_key = a_key.replace(".lora_A.", ".lora_B.")
        # mean of scale_i * B_i @ A_i == B_cat @ A_cat, with the scales and 1/n folded into B_cat
        b_cat = np.concatenate([state[b_key] * (alpha / state[a_key].shape[0] / len(read)) for alpha, state in read], axis=1)
        a_cat = np.concatenate([state[a_key] for _, state in read], axis=0)
        q_b, r_b = np.linalg.qr(b_cat.astype(np.float64))
        q_a, r_a = np.linalg.qr(a_cat.T.astype(np.float64))
        u, s, vt = np.linalg.svd(r_b @ r_a.T)
        k = min(rank, len(s))
        root = np.sqrt(s[:k])
        b = (q_b @ u[:, :k]) * root
        a = root[:, None] * (vt[:k] @ q_a.T)
        if k < rank:  # fewer directions than the rank: pad with zeros, which change nothing
            b = np.pad(b, ((0, 0), (0, rank - k)))
            a = np.pad(a, ((0, rank - k), (0, 0)))
        out[a_key], out[b_key] = a.astype(np.float32), b.astype(np.float32)
    return float(rank), out


def check_fits(adapter: Path | str, *, architecture: str, n_layer: int, n_embd: int) -> None:
    """`AdapterError` unless the adapter is for this architecture, its layers and its width.

    llama-cpp-python 0.3.36 does not notice when llama.cpp refuses an adapter (it tests a NULL
    pointer against None), so a mismatched adapter would silently leave the base model in use."""
    reader, field = _open_adapter(adapter)
    name = Path(adapter).name
    if field("general.architecture") != architecture:
        raise AdapterError(f"the adapter {name} is for {field('general.architecture')} models, not {architecture or 'this one'}")
    for t in reader.tensors:
        layer = int(t.name.split(".")[1]) if t.name.startswith("blk.") else -1
        if not 0 <= layer < n_layer:
            raise AdapterError(f"the adapter {name} has {t.name}, and the model has {n_layer} layers")
        if t.name.endswith(("attn_q.weight.lora_a", "ffn_up.weight.lora_a")) and int(max(t.shape)) != n_embd:
            raise AdapterError(f"the adapter {name} is for a model {int(max(t.shape))} wide, and this one is {n_embd}")
