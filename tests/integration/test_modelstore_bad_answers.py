"""The model store against a bad endpoint or a broken mirror, and a cut-off file in the cache.

Each case used to end in a Python traceback (or, for the cut-off file, in `pull` calling a
truncated model pulled); now it is one line naming the URL and the documented exit status.
The mirror is a local HTTP server in a thread (127.0.0.1 only, never the network).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tinyagent.core import model_manifest, modelstore
from tinyagent.core.cli import main
from tinyagent.core.modelstore import BadEndpoint, DownloadError, ModelEntry, download

REPO = "acme/tiny-GGUF"
PAYLOAD = b"GGUF" + bytes(range(256)) * 4096  # 1 MiB + 4 bytes: more than one download chunk
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
BAD_ENDPOINTS = ["foo", "http://127.0.0.1:abc", "http://[::1", "ftp://127.0.0.1:1", "https://"]

Route = Callable[[BaseHTTPRequestHandler, bool], None]


class Mirror:
    """A hub mirror whose answer for each path prefix the test chooses; unknown paths are 404s."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str]] = []
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def do_GET(self) -> None:
                self._serve(head=False)

            def _serve(self, head: bool) -> None:
                mirror.requests.append((self.command, self.path))
                for prefix, route in mirror.routes.items():
                    if self.path.startswith(prefix):
                        return route(self, head)
                send(self, head, 404, b"not found")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def gets(self) -> list[str]:
        return [p for m, p in self.requests if m == "GET"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def send(handler: BaseHTTPRequestHandler, head: bool, status: int, body: bytes,
         headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
        handler.send_header(key, value)
    handler.end_headers()
    if not head:
        handler.wfile.write(body)


def garbage(handler: BaseHTTPRequestHandler, head: bool) -> None:
    """Not HTTP at all: http.client raises BadStatusLine."""
    handler.wfile.write(b"HELLO THERE\r\n\r\n")
    handler.wfile.flush()
    handler.close_connection = True


def json_answer(body: bytes) -> Route:
    return lambda handler, head: send(handler, head, 200, body, {"Content-Type": "application/json"})


def file_answer(data: bytes) -> Route:
    """The file itself, with its size and its SHA-256 as the ETag (as the hub's LFS files)."""
    etag = hashlib.sha256(data).hexdigest()
    return lambda handler, head: send(handler, head, 200, b"" if head else data,
                                      {"Content-Length": str(len(data)), "ETag": f'"{etag}"'})


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's cache is its own tmp_path (never ~/.cache/tinyagent); no mirror from the environment."""
    monkeypatch.setenv("TINYAGENT_HOME", str(tmp_path))
    monkeypatch.delenv("TINYAGENT_CONFIG", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.setattr(download, "RETRY_DELAY", 0.0)
    return tmp_path


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    server = Mirror()
    yield server
    server.close()


def entry(**overrides: object) -> ModelEntry:
    fields: dict[str, object] = dict(name="tiny", kind="planner", repo=REPO, filename="tiny.gguf", size=None,
                                     sha256=None, description="test model", default=True, approx_size="1 MB")
    fields.update(overrides)
    return ModelEntry(**fields)  # type: ignore[arg-type]


SNAPSHOT = entry(name="rag", kind="toolrag", repo="acme/Tiny-ToolRAG", filename=None, default=False)


@pytest.fixture
def manifest(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Swap the shipped manifest for small test entries; returns a setter."""
    entries = [entry(), SNAPSHOT]

    def use(*new: ModelEntry) -> None:
        entries[:] = new

    monkeypatch.setattr(model_manifest, "load_manifest", lambda: list(entries))
    return use


def one_line_error(capsys: pytest.CaptureFixture[str], rc: int, *needles: str, status: int = 1) -> str:
    out = capsys.readouterr()
    assert rc == status, out
    assert "Traceback" not in out.err
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("tinyagent: "), out.err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# -- a bad endpoint --------------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", BAD_ENDPOINTS)
def test_a_bad_endpoint_is_one_clear_line(manifest, capsys, endpoint):
    rc = main(["models", "pull", "tiny", "--endpoint", endpoint])
    one_line_error(capsys, rc, repr(endpoint), "--endpoint", status=2)  # a usage error
    assert not (modelstore.models_dir() / "tiny.gguf").exists()


@pytest.mark.parametrize("endpoint", BAD_ENDPOINTS[:3])
def test_a_bad_endpoint_raises_the_stores_own_error(manifest, endpoint):
    for name in ("tiny", "rag"):
        with pytest.raises(BadEndpoint, match="not"):
            modelstore.pull(name, endpoint=endpoint)


@pytest.mark.parametrize("endpoint", ["foo", "http://127.0.0.1:abc", "http://[::1"])
def test_a_bad_hf_endpoint_is_reported_by_ensure_planner(manifest, capsys, monkeypatch, endpoint):
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    with pytest.raises(BadEndpoint, match="HF_ENDPOINT"):
        modelstore.hub_answers("tiny")
    rc = main(["models", "ensure-planner"])
    one_line_error(capsys, rc, "$HF_ENDPOINT", repr(endpoint), status=2)


# -- a broken mirror ---------------------------------------------------------------------------------
def test_a_mirror_answering_garbage_is_one_clear_line(mirror, manifest, capsys):
    mirror.routes["/"] = garbage
    rc = main(["models", "pull", "tiny", "--endpoint", mirror.url])
    one_line_error(capsys, rc, f"{mirror.url}/{REPO}/resolve/main/tiny.gguf", "not valid HTTP")
    rc = main(["models", "pull", "rag", "--endpoint", mirror.url])
    one_line_error(capsys, rc, f"{mirror.url}/api/models/acme/Tiny-ToolRAG/revision/main", "not valid HTTP")
    assert not modelstore.local_path(modelstore.find("tiny")).exists()
    assert not modelstore.local_path(SNAPSHOT).exists()


@pytest.mark.parametrize("body", [b"[1,2]", b"null", b'"siblings"', b'{"siblings": 5}',
                                  b'{"siblings": [{"rfilename": "a.json"}, 7]}',
                                  b"[" * 100_000 + b"]" * 100_000])
def test_a_file_list_that_is_not_a_json_object_of_files_writes_nothing(mirror, manifest, capsys, body):
    mirror.routes["/api/models/"] = json_answer(body)
    mirror.routes[f"/{SNAPSHOT.repo}/resolve/main/"] = file_answer(b"{}")
    with pytest.raises(DownloadError, match="did not answer with the repository's file list"):
        modelstore.pull("rag", endpoint=mirror.url)
    rc = main(["models", "pull", "rag", "--endpoint", mirror.url])
    one_line_error(capsys, rc, f"{mirror.url}/api/models/acme/Tiny-ToolRAG/revision/main")
    assert not [p for p in mirror.gets() if "/resolve/" in p]  # nothing was downloaded
    assert not modelstore.local_path(SNAPSHOT).exists()


def test_a_redirect_to_something_that_is_not_a_url_is_a_download_error(mirror, manifest, capsys):
    manifest(entry(size=len(PAYLOAD), sha256=SHA256))

    def redirect(handler: BaseHTTPRequestHandler, head: bool) -> None:
        send(handler, head, 302, b"", {"Location": "http://[::1/cdn/tiny.gguf", "X-Linked-Size": str(len(PAYLOAD)),
                                        "X-Linked-Etag": f'"{SHA256}"'})

    mirror.routes["/"] = redirect
    rc = main(["models", "pull", "tiny", "--endpoint", mirror.url])
    one_line_error(capsys, rc, f"{mirror.url}/{REPO}/resolve/main/tiny.gguf")
    assert not (modelstore.models_dir() / "tiny.gguf").exists()


# -- a cut-off file in the cache -----------------------------------------------------------------------
def test_pull_downloads_a_cut_off_file_again_and_says_so(mirror, manifest, capsys):
    manifest(entry(size=len(PAYLOAD), sha256=SHA256))
    mirror.routes[f"/{REPO}/resolve/main/tiny.gguf"] = file_answer(PAYLOAD)
    dest = modelstore.local_path(modelstore.find("tiny"))
    dest.parent.mkdir(parents=True)
    dest.write_bytes(PAYLOAD[:100_000])  # a prefix: the header is right, the size is not
    assert modelstore.verify("tiny").state == "bad"

    rc = main(["models", "pull", "tiny", "--endpoint", mirror.url])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert out.out.strip() == str(dest)
    assert "100000 bytes" in out.err and f"{len(PAYLOAD)}" in out.err and "again" in out.err
    assert dest.read_bytes() == PAYLOAD
    assert modelstore.verify("tiny").ok
    assert not dest.with_name(dest.name + ".part").exists()

    before = len(mirror.requests)  # the right size now: a second pull fetches nothing
    assert main(["models", "pull", "tiny", "--endpoint", mirror.url]) == 0
    assert len(mirror.requests) == before
    assert "again" not in capsys.readouterr().err


def test_a_cut_off_file_stays_until_a_checked_copy_replaces_it(mirror, manifest):
    manifest(entry(size=len(PAYLOAD), sha256=SHA256))
    mirror.routes[f"/{REPO}/resolve/main/tiny.gguf"] = file_answer(PAYLOAD[:-1] + b"X")  # damaged on the mirror
    dest = modelstore.local_path(modelstore.find("tiny"))
    dest.parent.mkdir(parents=True)
    dest.write_bytes(PAYLOAD[:100_000])
    notices: list[str] = []
    with pytest.raises(modelstore.ChecksumMismatch):
        modelstore.pull("tiny", endpoint=mirror.url, notice=notices.append)
    assert len(notices) == 1 and "downloading tiny again" in notices[0]
    assert mirror.gets()  # it did try to download
    assert dest.read_bytes() == PAYLOAD[:100_000]  # nothing unchecked was put in its place
