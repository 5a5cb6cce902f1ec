"""Check a GGUF file's structure before llama.cpp maps it: magic, version, every key/value
and tensor header, and that each tensor's bytes lie inside the file.

llama.cpp rejects most damage itself, but a clear message ("truncated inside tensor 12's
data; download it again") beats its generic failure, and nothing native runs on a file that
is cut short or lies about its sizes. Only headers are read: cheap even for a 4 GB model.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import BinaryIO

MAX_TENSORS = 1 << 20
MAX_KV = 1 << 16
MAX_STRING = 1 << 20
MAX_ARRAY = 1 << 28
_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9
# ggml type -> (elements per block, bytes per block) for the types GGUF planners use.
_TYPE_SIZES = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
               9: (32, 36), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210),
               15: (256, 292), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 30: (1, 2)}


class GGUFError(ValueError):
    """The file is not a usable GGUF; the message says where it breaks."""


class _Reader:
    def __init__(self, fh: BinaryIO, size: int):
        self.fh, self.size = fh, size

    def take(self, n: int, what: str) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise GGUFError(f"the file ends inside {what} (it is truncated)")
        return data

    def u32(self, what: str) -> int:
        return struct.unpack("<I", self.take(4, what))[0]

    def u64(self, what: str) -> int:
        return struct.unpack("<Q", self.take(8, what))[0]

    def skip(self, n: int, what: str) -> None:
        end = self.fh.tell() + n
        if end > self.size:
            raise GGUFError(f"the file ends inside {what} (it is truncated)")
        self.fh.seek(end)

    def string(self, what: str) -> bytes:
        n = self.u64(what)
        if n > MAX_STRING:
            raise GGUFError(f"{what} claims a string of {n} bytes (the header is damaged)")
        return self.take(n, what)


def check_gguf_file(path: Path | str) -> None:
    """Raise GGUFError (or OSError) unless `path` is a structurally sound GGUF file."""
    p = Path(path)
    size = p.stat().st_size
    with p.open("rb") as fh:
        r = _Reader(fh, size)
        if r.fh.read(4) != b"GGUF":
            raise GGUFError("it does not start with 'GGUF'")
        version = r.u32("the header")
        if version not in (2, 3):
            raise GGUFError(f"GGUF version {version} is not supported (2 and 3 are)")
        n_tensors, n_kv = r.u64("the header"), r.u64("the header")
        if n_tensors > MAX_TENSORS or n_kv > MAX_KV:
            raise GGUFError(f"the header claims {n_tensors} tensors and {n_kv} keys (it is damaged)")
        alignment = 32
        vocab: list[bytes] = []
        for i in range(n_kv):
            key = r.string(f"key {i + 1}")
            vtype = r.u32(f"key {i + 1}")
            # llama.cpp aborts the process (GGML_ASSERT) on a vocabulary that lists a token twice.
            unique = key == b"tokenizer.ggml.tokens"
            value = _value(r, vtype, f"the value of key {i + 1}", unique=unique)
            if unique and isinstance(value, list):
                vocab = value
            elif key == b"tokenizer.ggml.token_type" and isinstance(value, list):
                _check_byte_tokens(vocab, value)
            if key == b"general.alignment" and isinstance(value, int):
                if value < 1 or value & (value - 1):
                    raise GGUFError(f"general.alignment is {value}, not a power of two")
                alignment = value
        tensors = []
        for i in range(n_tensors):
            r.string(f"the name of tensor {i + 1}")
            n_dims = r.u32(f"tensor {i + 1}'s header")
            if not 1 <= n_dims <= 4:
                raise GGUFError(f"tensor {i + 1} has {n_dims} dimensions (the header is damaged)")
            dims = struct.unpack(f"<{n_dims}Q", r.take(8 * n_dims, f"tensor {i + 1}'s header"))
            ttype, offset = r.u32(f"tensor {i + 1}'s header"), r.u64(f"tensor {i + 1}'s header")
            if offset % alignment:
                raise GGUFError(f"tensor {i + 1}'s data offset {offset} is not aligned to {alignment}")
            tensors.append((i + 1, dims, ttype, offset))
        data_start = -(-r.fh.tell() // alignment) * alignment
        for number, dims, ttype, offset in tensors:
            elements = 1
            for d in dims:
                elements *= d
            block, block_bytes = _TYPE_SIZES.get(ttype, (1, 0))  # unknown types: only the offset is checked
            end = data_start + offset + elements // block * block_bytes
            if data_start + offset > size or end > size:
                raise GGUFError(f"the file ends inside tensor {number}'s data (it is truncated; "
                                f"{size} bytes, {end} needed)")


def _value(r: _Reader, vtype: int, what: str, unique: bool = False) -> object:
    """Read (or skip) one value. Returns ints for u32/u64, the strings of a `unique` string array,
    the items of an int32 array (token types), else None."""
    if vtype in _SCALAR_SIZES:
        raw = r.take(_SCALAR_SIZES[vtype], what)
        return int.from_bytes(raw, "little") if vtype in (4, 10) else None
    if vtype == _STRING:
        r.string(what)
        return None
    if vtype != _ARRAY:
        raise GGUFError(f"{what} has unknown type {vtype} (the header is damaged)")
    item_type, count = r.u32(what), r.u64(what)
    if count > MAX_ARRAY:
        raise GGUFError(f"{what} claims an array of {count} items (the header is damaged)")
    if item_type == 5 and count <= MAX_TENSORS:  # int32: token types are checked against the vocabulary
        raw = r.take(4 * count, what)
        return list(struct.unpack(f"<{count}i", raw))
    if item_type in _SCALAR_SIZES:
        r.skip(count * _SCALAR_SIZES[item_type], what)
        return None
    if item_type != _STRING:
        raise GGUFError(f"{what} is an array of unknown type {item_type}")
    tokens: list[bytes] = []
    seen: set[bytes] = set()
    for _ in range(count):
        n = r.u64(what)
        if n > MAX_STRING:
            raise GGUFError(f"{what} holds a string of {n} bytes (the header is damaged)")
        if not unique:
            r.skip(n, what)
            continue
        token = r.take(n, what)
        if token in seen:  # llama.cpp aborts the process (GGML_ASSERT) on a repeated token
            raise GGUFError(f"the vocabulary lists the token {token[:40]!r} twice (the file is damaged)")
        seen.add(token)
        tokens.append(token)
    return tokens if unique else None


_BYTE_TOKEN = re.compile(rb"<0x[0-9A-Fa-f]{2}>")


def _check_byte_tokens(vocab: list[bytes], types: list[int]) -> None:
    """Byte tokens (type 6) must read <0xXX>: llama.cpp asserts on anything else."""
    for token, kind in zip(vocab, types):
        if kind == 6 and not _BYTE_TOKEN.fullmatch(token):
            raise GGUFError(f"the byte token {token[:40]!r} is not written <0xXX> (the file is damaged)")
