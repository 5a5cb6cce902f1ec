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
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core.config import cache_dir
from core.events import DownloadProgress

KINDS = ("planner", "whisper", "toolrag")
DEFAULT_ENDPOINT = "https://huggingface.co"
CHUNK = 1 << 20
TIMEOUT = 30.0  # seconds without a byte before a download counts as stalled
RETRY_DELAY = 1.0  # seconds, times the attempt number
USER_AGENT = "tinyagent-modelstore/0.1"
_HEX = {"sha256": re.compile(r"^[0-9a-f]{64}$"), "sha1": re.compile(r"^[0-9a-f]{40}$")}

Progress = Callable[[DownloadProgress], None]


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


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str
    repo: str
    filename: str | None  # None: the whole repository
    size: int | None  # exact bytes, None where unknown
    sha256: str | None
    description: str = ""
    default: bool = False
    sha1: str | None = None
    approx_size: str = ""
    prompt: str = ""  # planner prompt profile for this model (core/planner/profiles.py); "" = auto
    chat_template: str = ""  # named chat layout used when the GGUF carries none (core/planner/chat.py)

    @property
    def is_snapshot(self) -> bool:
        return self.filename is None

    def url(self, endpoint: str | None = None, filename: str | None = None) -> str:
        return f"{_endpoint(endpoint)}/{self.repo}/resolve/main/{filename or self.filename}"


# -- manifest ----------------------------------------------------------------------------------
_FIELDS = {"name": str, "kind": str, "repo": str, "filename": (str, type(None)), "size": (int, type(None)),
           "sha256": (str, type(None)), "sha1": (str, type(None)), "description": str, "default": bool,
           "approx_size": str, "prompt": str, "chat_template": str}
_REQUIRED = ("name", "kind", "repo", "filename")


def load_manifest() -> list[ModelEntry]:
    """The manifest shipped in the `models` package."""
    from importlib import resources

    try:
        text = resources.files("models").joinpath("manifest.yaml").read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError) as exc:
        raise ManifestError(f"cannot read the model manifest (models/manifest.yaml): {exc}") from None
    return parse_manifest(text, "models/manifest.yaml")


def parse_manifest(text: str, source: str = "manifest") -> list[ModelEntry]:
    import yaml

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
        if "/" not in item["repo"]:
            raise ManifestError(f"{where}: repo must look like owner/name")
        entries.append(ModelEntry(**{k: item.get(k, ModelEntry.__dataclass_fields__[k].default) for k in _FIELDS}))
    names = [e.name for e in entries]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ManifestError(f"{source}: model names must be unique; repeated: {', '.join(dupes)}")
    for kind in KINDS:
        if sum(1 for e in entries if e.kind == kind and e.default) > 1:
            raise ManifestError(f"{source}: more than one default {kind} model")
    return entries


def find(name: str, manifest: list[ModelEntry] | None = None) -> ModelEntry:
    entries = load_manifest() if manifest is None else manifest
    for entry in entries:
        if entry.name == name:
            return entry
    raise ModelMissing(f"unknown model {name!r}; known models: {', '.join(e.name for e in entries)} "
                       "(or give the path of a model file)")


def default_model(kind: str) -> ModelEntry | None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    return next((e for e in load_manifest() if e.kind == kind and e.default), None)


# -- where files live ----------------------------------------------------------------------------
def models_dir() -> Path:
    return cache_dir() / "models"


def local_path(entry: ModelEntry) -> Path:
    return models_dir() / (entry.filename or entry.repo.rsplit("/", 1)[-1])


def onnx_dir(entry: ModelEntry) -> Path:
    """Where a converted ToolRAG model goes (see `tinyagent models convert-toolrag`)."""
    return models_dir() / f"{entry.repo.rsplit('/', 1)[-1]}-onnx"


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


def manual_step(entry: ModelEntry, endpoint: str | None = None) -> str:
    """Exactly which file to fetch from where, and where it goes."""
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
    entry = next((e for e in entries if e.name == text), None)
    if entry is None:
        if os.sep in text or "/" in text or path.suffix or text.startswith(("~", ".")):
            raise ModelMissing(f"no such model file: {path}")
        find(text, entries)  # raises with the list of known names
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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # keep the hub's own headers (X-Linked-Size / X-Linked-Etag) instead of the CDN's


def _request(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> urllib.request.Request:
    return urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT, **(headers or {})})


def _unreachable(entry: ModelEntry, endpoint: str | None, reason: Any) -> DownloadError:
    return DownloadError(f"cannot download {entry.name}: {_endpoint(endpoint)} is unreachable ({reason}). "
                         f"Without a network: {manual_step(entry, endpoint)}; "
                         "or pass --model PATH to use a model file you already have.")


def _http_error(entry: ModelEntry, url: str, exc: urllib.error.HTTPError) -> DownloadError:
    if exc.code == 404:
        return DownloadError(f"{url} was not found (HTTP 404): the manifest entry for {entry.name} may be stale")
    if exc.code in (401, 403):
        return DownloadError(f"{url} needs an account or token (HTTP {exc.code}); download it in a browser "
                             f"and put it at {local_path(entry)}")
    return DownloadError(f"{url}: the server answered HTTP {exc.code} {exc.reason}")


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
    with resp:
        headers = resp.headers
        size = headers.get("X-Linked-Size") or (headers.get("Content-Length") if resp.status == 200 else None)
        etag = (headers.get("X-Linked-Etag") or headers.get("ETag") or "").strip('"').removeprefix("W/").strip('"')
    return _Remote(int(size) if size and size.isdigit() else None,
                   etag.lower() if _HEX["sha256"].match(etag.lower()) else None)


def _hash_file(path: Path, algos: tuple[str, ...] = ("sha256", "sha1")) -> dict[str, Any]:
    hashers = {a: hashlib.new(a) for a in algos}
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            for h in hashers.values():
                h.update(chunk)
    return hashers


class _Part:
    """`<file>.part`: the bytes so far and their running hashes (kept in step on every write)."""

    def __init__(self, path: Path):
        self.path = path
        self.hashers = _hash_file(path) if path.exists() else self._fresh()
        self.done = path.stat().st_size if path.exists() else 0

    @staticmethod
    def _fresh() -> dict[str, Any]:
        return {a: hashlib.new(a) for a in ("sha256", "sha1")}

    def restart(self) -> None:
        self.path.write_bytes(b"")
        self.hashers, self.done = self._fresh(), 0

    def append(self, fh: Any, chunk: bytes) -> None:
        fh.write(chunk)
        for h in self.hashers.values():
            h.update(chunk)
        self.done += len(chunk)


def _download(entry: ModelEntry, url: str, dest: Path, *, endpoint: str | None, progress: Progress | None,
              label: str, size: int | None, sha256: str | None, sha1: str | None, retries: int) -> dict[str, Any]:
    """Fetch url into dest through dest.part, resuming it; returns {"size", "sha256"}."""
    remote = _probe(entry, url, endpoint)
    if size is not None and remote.size is not None and size != remote.size:
        raise DownloadError(f"{url} is {remote.size} bytes but the manifest says {size}: the manifest entry "
                            f"for {entry.name} is stale, nothing was downloaded")
    total = size if size is not None else remote.size
    want_sha256 = sha256 or remote.sha256
    dest.parent.mkdir(parents=True, exist_ok=True)
    part_path = dest.with_name(dest.name + ".part")
    if part_path.exists() and total is not None and part_path.stat().st_size > total:
        part_path.unlink()  # longer than the real file: not ours to resume
    part = _Part(part_path)

    def report() -> None:
        if progress is not None:
            progress(DownloadProgress(label, part.done, total))

    report()
    failures = 0
    while total is None or part.done < total:
        before = part.done
        try:
            finished = _fetch_into(url, part, total, report)
        except urllib.error.HTTPError as exc:
            raise _http_error(entry, url, exc) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            if failures < retries:
                failures += 1
                time.sleep(RETRY_DELAY * failures)  # a brief network hiccup often passes
                continue
            if isinstance(exc, urllib.error.URLError) and part.done == 0:
                raise _unreachable(entry, endpoint, exc.reason) from None
            raise DownloadError(f"download of {label} interrupted after {_mb(part.done)} of {_mb(total)} "
                                f"({exc}); run the same command again to resume it") from None
        if finished:
            break
        if part.done == before:  # the server sent nothing new: do not loop forever
            failures += 1
            if failures > retries:
                break
    if total is not None and part.done != total:
        raise DownloadError(f"{label}: got {part.done} bytes, expected {total}; run the command again to resume")
    digests = {a: h.hexdigest() for a, h in part.hashers.items()}
    for algo, want in (("sha256", want_sha256), ("sha1", sha1)):
        if want and digests[algo] != want:
            part_path.unlink()
            raise ChecksumMismatch(f"{label}: {algo} is {digests[algo]}, expected {want}; the download was "
                                   "deleted, run the command again to fetch it afresh")
    os.replace(part_path, dest)
    return {"size": part.done, "sha256": digests["sha256"]}


def _fetch_into(url: str, part: _Part, total: int | None, report: Callable[[], None]) -> bool:
    """One GET from where the part ends; True when the server has no more (size unknown)."""
    headers = {"Range": f"bytes={part.done}-"} if part.done else {}
    try:
        resp = urllib.request.urlopen(_request(url, headers=headers), timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and part.done and total is None:
            return True  # nothing past what we have: the part is the whole file
        raise
    with resp:
        start = _range_start(resp.headers.get("Content-Range")) if resp.status == 206 else 0
        if start != part.done:  # the server ignored the Range header: start over
            part.restart()
        with part.path.open("ab") as fh:
            while chunk := resp.read(CHUNK):
                part.append(fh, chunk)
                report()
        length = resp.headers.get("Content-Length")
        if length is not None and part.done - start < int(length):
            raise OSError(f"connection closed after {part.done - start} of {length} bytes")
    return total is None


def _range_start(content_range: str | None) -> int:
    match = re.match(r"bytes (\d+)-", content_range or "")
    return int(match.group(1)) if match else 0


def _mb(n: int | None) -> str:
    return "an unknown size" if n is None else f"{n / 1e6:.1f} MB"


def _snapshot_files(entry: ModelEntry, endpoint: str | None) -> list[str]:
    url = f"{_endpoint(endpoint)}/api/models/{entry.repo}/revision/main"
    try:
        with urllib.request.urlopen(_request(url), timeout=TIMEOUT) as resp:
            info = json.load(resp)
    except urllib.error.HTTPError as exc:
        raise _http_error(entry, url, exc) from None
    except (urllib.error.URLError, OSError) as exc:
        raise _unreachable(entry, endpoint, getattr(exc, "reason", exc)) from None
    except ValueError:
        raise DownloadError(f"{url} did not answer with the repository's file list (JSON)") from None
    names = [s.get("rfilename") for s in info.get("siblings", []) if isinstance(s, dict)]
    files = [n for n in names if isinstance(n, str) and n != ".gitattributes" and ".." not in n.split("/")]
    if not files:
        raise DownloadError(f"{url} lists no files for {entry.repo}")
    return files


def pull(name: str, progress: Progress | None = None, *, endpoint: str | None = None, force: bool = False,
         retries: int = 3) -> Path:
    """Download a manifest model into the cache (resuming a partial one); returns its path."""
    entry = find(name)
    dest = local_path(entry)
    if _present(entry) is not None and not force:
        return dest  # already here (downloaded or put there by hand); `verify` checks it
    if force and not entry.is_snapshot:
        dest.with_name(dest.name + ".part").unlink(missing_ok=True)
    files = _snapshot_files(entry, endpoint) if entry.is_snapshot else [entry.filename]
    record: dict[str, Any] = {}
    for filename in files:
        target = dest / filename if entry.is_snapshot else dest
        label = entry.name if not entry.is_snapshot else f"{entry.name}/{filename}"
        known = not entry.is_snapshot  # manifest size/checksums describe the single file only
        record[filename] = _download(entry, entry.url(endpoint, filename), target, endpoint=endpoint,
                                     progress=progress, label=label, retries=retries,
                                     size=entry.size if known else None, sha256=entry.sha256 if known else None,
                                     sha1=entry.sha1 if known else None)
    rec = _record_path(entry)
    rec.parent.mkdir(parents=True, exist_ok=True)
    rec.write_text(json.dumps({"repo": entry.repo, "files": record}, indent=1), encoding="utf-8")
    return dest


# -- verifying ----------------------------------------------------------------------------------------
@dataclass
class VerifyResult:
    name: str
    path: Path | None
    checked: list[str] = field(default_factory=list)  # what was compared: size, sha256, sha1
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.path is not None and not self.problems

    def describe(self) -> str:
        if self.path is None:
            return f"{self.name}: not downloaded"
        if self.problems:
            return f"{self.name}: BAD ({'; '.join(self.problems)}) at {self.path}"
        what = ", ".join(sorted(set(self.checked))) or "nothing known to check against (present)"
        return f"{self.name}: ok ({what}) at {self.path}"


def verify(name: str) -> VerifyResult:
    """Check a downloaded model against the manifest and the checksums recorded at download."""
    entry = find(name)
    path = _present(entry)
    result = VerifyResult(entry.name, path)
    if path is None:
        result.problems.append("not downloaded")
        return result
    try:
        recorded = json.loads(_record_path(entry).read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError):
        recorded = {}
    if entry.is_snapshot:
        for filename, want in recorded.items():
            _check_file(result, path / filename, want.get("size"), want.get("sha256"), None, filename)
        return result
    want = recorded.get(entry.filename, {})
    _check_file(result, path, entry.size or want.get("size"), entry.sha256 or want.get("sha256"), entry.sha1, "")
    return result


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
