"""The model store against a local HTTP server posing as the hub (127.0.0.1 only, never the network)."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tinyagent.core import model_manifest, modelstore
from tinyagent.core.cli import main
from tinyagent.core.cli import models as models_cli
from tinyagent.core.modelstore import ChecksumMismatch, DownloadError, ManifestError, ModelEntry, ModelMissing, download

REPO = "acme/tiny-GGUF"
PAYLOAD = b"GGUF" + bytes(range(256)) * 4096  # 1 MiB + 4 bytes: more than one download chunk
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


class FakeHub:
    """Serves files like the hub: resolve URLs redirect to a CDN path that honours Range."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}  # "repo/filename" -> bytes
        self.etags: dict[str, str] = {}  # override the advertised sha256
        self.truncate_next = 0  # the next N GETs send half the body, then hang up
        self.ignore_range = False
        self.bare: set[str] = set()  # keys served with no size and no checksum headers at all
        self.no_etag: set[str] = set()  # keys served with a size but no checksum
        self.git_etag: set[str] = set()  # keys whose ETag is the git blob id, as the hub does for small files
        self.extra_listing: list[str] = []  # names the file list adds (a hostile mirror)
        self.requests: list[tuple[str, str, str | None]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_HEAD(self):
                self._serve(head=True)

            def do_GET(self):
                self._serve(head=False)

            def _serve(self, head: bool) -> None:
                hub.requests.append((self.command, self.path, self.headers.get("Range")))
                if self.path.startswith("/api/models/"):
                    repo = self.path[len("/api/models/"):].split("/revision/")[0]
                    names = [k.split("/", 2)[2] for k in hub.files if k.startswith(repo + "/")]
                    names += hub.extra_listing
                    body = json.dumps({"siblings": [{"rfilename": ".gitattributes"}] +
                                       [{"rfilename": n} for n in names]}).encode()
                    return self._send(200, body, {"Content-Type": "application/json"}, head)
                if "/resolve/main/" in self.path:
                    repo, name = self.path.lstrip("/").split("/resolve/main/")
                    key = f"{repo}/{name}"
                    if key not in hub.files:
                        return self._send(404, b"not found", {}, head)
                    data = hub.files[key]
                    if key in hub.bare:  # a plain server: no size, no checksum, the body cut short
                        self.send_response(200)
                        self.end_headers()
                        if not head:
                            self.wfile.write(data[: len(data) // 2])
                        self.close_connection = True
                        return
                    if key in hub.no_etag:
                        return self._send(302, b"", {"Location": f"/cdn/{key}", "X-Linked-Size": str(len(data))},
                                          head)
                    if key in hub.git_etag:
                        blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
                        return self._send(200, b"" if head else data, {"ETag": f'"{hub.etags.get(key, blob)}"',
                                                                         "Content-Length": str(len(data))}, head)
                    etag = hub.etags.get(key, hashlib.sha256(data).hexdigest())
                    return self._send(302, b"", {"Location": f"/cdn/{key}", "X-Linked-Size": str(len(data)),
                                                 "X-Linked-Etag": f'"{etag}"', "X-Repo-Commit": "0" * 40}, head)
                if self.path.startswith("/cdn/"):
                    data = hub.files[self.path[len("/cdn/"):]]
                    start = 0
                    rng = self.headers.get("Range")
                    if rng and not hub.ignore_range:
                        start = int(rng.split("=")[1].split("-")[0])
                        if start >= len(data):
                            return self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"}, head)
                    body = data[start:]
                    headers = {"Accept-Ranges": "bytes", "Content-Length": str(len(body))}
                    status = 200
                    if start:
                        status = 206
                        headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                    if not head and hub.truncate_next:
                        hub.truncate_next -= 1
                        self.send_response(status)
                        for k, v in headers.items():
                            self.send_header(k, v)
                        self.end_headers()
                        self.wfile.write(body[: len(body) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    return self._send(status, body, headers, head)
                self._send(404, b"", {}, head)

            def _send(self, status: int, body: bytes, headers: dict, head: bool) -> None:
                self.send_response(status)
                headers.setdefault("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if not head:
                    self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def ranges(self) -> list[str]:
        return [r for m, p, r in self.requests if m == "GET" and p.startswith("/cdn/") and r]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub():
    server = FakeHub()
    server.files[f"{REPO}/tiny.gguf"] = PAYLOAD
    yield server
    server.close()


def entry(**overrides) -> ModelEntry:
    fields = dict(name="tiny", kind="planner", repo=REPO, filename="tiny.gguf", size=None, sha256=None,
                  description="test model", default=True, approx_size="1 MB")
    fields.update(overrides)
    return ModelEntry(**fields)


@pytest.fixture
def manifest(monkeypatch):
    """Swap the shipped manifest for test entries; returns a setter."""
    entries = [entry()]

    def use(*new: ModelEntry) -> None:
        entries[:] = new

    monkeypatch.setattr(model_manifest, "load_manifest", lambda: list(entries))
    monkeypatch.setattr(download, "RETRY_DELAY", 0.0)
    return use


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -- the shipped manifest -------------------------------------------------------------------------
def test_shipped_manifest_lists_the_known_models():
    entries = {e.name: e for e in modelstore.load_manifest()}
    assert entries["tinyagent-1.1b"].repo == "squeeze-ai-lab/TinyAgent-1.1B-GGUF"
    assert entries["tinyagent-1.1b"].filename.endswith("Q4_K_M.gguf")
    assert entries["tinyagent-7b"].repo == "squeeze-ai-lab/TinyAgent-7B-GGUF"
    assert {e.filename for e in entries.values() if e.kind == "whisper"} == {
        "ggml-tiny.en.bin", "ggml-base.bin", "ggml-base.en.bin", "ggml-small.en.bin"}
    assert entries["toolrag"].repo == "squeeze-ai-lab/TinyAgent-ToolRAG" and entries["toolrag"].is_snapshot
    assert modelstore.default_model("planner").name == "tinyagent-1.1b"
    assert modelstore.default_model("whisper").kind == "whisper"
    assert modelstore.default_model("toolrag") is None  # the built-in compact classifier is the default
    with pytest.raises(ValueError):
        modelstore.default_model("vision")


@pytest.mark.parametrize("text, message", [
    ("models: [", "not valid YAML"),
    ("- name: x", "top-level 'models:' list"),
    ("models:\n  - kind: planner\n    repo: a/b\n    filename: f", "missing field 'name'"),
    ("models:\n  - {name: x, kind: vision, repo: a/b, filename: f}", "kind must be one of"),
    ("models:\n  - {name: x, kind: planner, repo: a/b, filename: f, sha256: abc}", "sha256 must be"),
    ("models:\n  - {name: x, kind: planner, repo: a/b, filename: f, size: '1 GB'}", "'size' has the wrong type"),
    ("models:\n  - {name: x, kind: planner, repo: a/b, filename: f, colour: red}", "unknown field 'colour'"),
    ("models:\n  - {name: x, kind: planner, repo: a/b, filename: f}\n  - {name: x, kind: planner, repo: a/b, "
     "filename: g}", "repeated: x"),
    ("models:\n  - {name: x, kind: planner, repo: ab, filename: f}", "owner/name"),
])
def test_bad_manifest_gives_a_clear_error(text, message):
    with pytest.raises(ManifestError, match=message.replace("(", r"\(").replace("[", r"\[")):
        modelstore.parse_manifest(text, "test.yaml")


# -- resolve ---------------------------------------------------------------------------------------
def test_resolve_returns_an_existing_path_as_is(tmp_path, manifest):
    model = tmp_path / "my model.gguf"
    model.write_bytes(b"GGUF")
    assert modelstore.resolve(str(model)) == model
    assert modelstore.resolve(model) == model


def test_resolve_missing_name_says_what_to_download_and_where(manifest):
    with pytest.raises(ModelMissing) as info:
        modelstore.resolve("tiny")
    message = str(info.value)
    assert f"https://huggingface.co/{REPO}/resolve/main/tiny.gguf" in message
    assert str(modelstore.models_dir() / "tiny.gguf") in message
    assert "tinyagent models pull tiny" in message and "--model PATH" in message


def test_resolve_finds_a_file_put_in_the_cache_by_hand(manifest):
    dest = modelstore.models_dir() / "tiny.gguf"
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"GGUF")
    assert modelstore.resolve("tiny") == dest
    assert modelstore.status() == [(entry(), dest)]


def test_resolve_unknown_name_and_missing_path(manifest):
    with pytest.raises(ModelMissing, match="unknown model 'nope'; known models: tiny"):
        modelstore.resolve("nope")
    with pytest.raises(ModelMissing, match="no such model file"):
        modelstore.resolve("/nowhere/model.gguf")
    with pytest.raises(ModelMissing, match="no model given"):
        modelstore.resolve("  ")


# -- pull ------------------------------------------------------------------------------------------
def test_pull_downloads_with_progress_and_records_the_hub_checksum(hub, manifest):
    events = []
    path = modelstore.pull("tiny", events.append, endpoint=hub.url)
    assert path == modelstore.models_dir() / "tiny.gguf" and path.read_bytes() == PAYLOAD
    assert not path.with_name("tiny.gguf.part").exists()
    done = [e.done_bytes for e in events]
    assert done == sorted(done) and done[0] == 0 and done[-1] == len(PAYLOAD)
    assert all(e.total_bytes == len(PAYLOAD) and e.name == "tiny" for e in events)
    result = modelstore.verify("tiny")
    assert result.ok and "sha256" in result.checked  # the hub's SHA-256, since the manifest has none
    assert modelstore.resolve("tiny") == path
    hub.requests.clear()
    assert modelstore.pull("tiny", endpoint=hub.url) == path and hub.requests == []  # already there


def test_interrupted_download_resumes_with_a_range_request(hub, manifest):
    hub.truncate_next = 1
    with pytest.raises(DownloadError, match="interrupted.*run the same command again to resume"):
        modelstore.pull("tiny", endpoint=hub.url, retries=0)
    part = modelstore.models_dir() / "tiny.gguf.part"
    have = part.stat().st_size
    assert 0 < have < len(PAYLOAD)
    assert not (modelstore.models_dir() / "tiny.gguf").exists()

    path = modelstore.pull("tiny", endpoint=hub.url)
    assert hub.ranges() == [f"bytes={have}-"]
    assert path.read_bytes() == PAYLOAD and not part.exists()
    assert modelstore.verify("tiny").ok


def test_a_dropped_connection_is_retried_within_one_pull(hub, manifest):
    hub.truncate_next = 2
    path = modelstore.pull("tiny", endpoint=hub.url, retries=3)
    assert path.read_bytes() == PAYLOAD
    assert len(hub.ranges()) == 2


def test_a_server_that_ignores_range_still_gives_the_right_file(hub, manifest):
    hub.truncate_next, hub.ignore_range = 1, True
    path = modelstore.pull("tiny", endpoint=hub.url, retries=1)
    assert path.read_bytes() == PAYLOAD


def test_manifest_checksum_mismatch_deletes_the_download(hub, manifest):
    manifest(entry(sha256="0" * 64))
    with pytest.raises(ChecksumMismatch, match="sha256 is .* expected 0000"):
        modelstore.pull("tiny", endpoint=hub.url)
    assert list(modelstore.models_dir().glob("tiny.gguf*")) == []


def test_corrupt_bytes_are_caught_by_the_hub_checksum(hub, manifest):
    hub.etags[f"{REPO}/tiny.gguf"] = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(ChecksumMismatch):
        modelstore.pull("tiny", endpoint=hub.url)


def test_manifest_sha1_and_size_are_checked(hub, manifest):
    manifest(entry(size=len(PAYLOAD), sha1=hashlib.sha1(PAYLOAD).hexdigest(), sha256=SHA256))
    modelstore.pull("tiny", endpoint=hub.url)
    assert sorted(set(modelstore.verify("tiny").checked)) == ["magic", "sha1", "sha256", "size"]


def test_stale_manifest_size_downloads_nothing(hub, manifest):
    manifest(entry(size=len(PAYLOAD) + 1))
    with pytest.raises(DownloadError, match="manifest entry for tiny is stale"):
        modelstore.pull("tiny", endpoint=hub.url)
    assert not [r for r in hub.requests if r[0] == "GET"]


def test_missing_file_on_the_hub(hub, manifest):
    manifest(entry(filename="gone.gguf"))
    with pytest.raises(DownloadError, match="not found \\(HTTP 404\\)"):
        modelstore.pull("tiny", endpoint=hub.url)


def test_without_a_network_the_message_says_what_to_download_and_where(manifest, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", closed_port_url())  # honoured like huggingface_hub does
    with pytest.raises(DownloadError) as info:
        modelstore.pull("tiny")
    message = str(info.value)
    assert "unreachable" in message and f"/{REPO}/resolve/main/tiny.gguf" in message
    assert str(modelstore.models_dir() / "tiny.gguf") in message and "--model PATH" in message


def test_verify_notices_a_damaged_file(hub, manifest):
    path = modelstore.pull("tiny", endpoint=hub.url)
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF
    path.write_bytes(bytes(data))
    result = modelstore.verify("tiny")
    assert not result.ok and "sha256 is" in result.problems[0] and "BAD" in result.describe()
    assert modelstore.verify("tiny").path == path
    path.unlink()
    assert modelstore.verify("tiny").describe() == "tiny: not downloaded"


def test_snapshot_model_downloads_every_file_of_the_repo(hub, manifest):
    hub.files["acme/ToolRAG/config.json"] = b"{}"
    hub.files["acme/ToolRAG/model.safetensors"] = PAYLOAD
    manifest(entry(name="rag", kind="toolrag", repo="acme/ToolRAG", filename=None, default=False))
    path = modelstore.pull("rag", endpoint=hub.url)
    assert path == modelstore.models_dir() / "ToolRAG"
    assert (path / "model.safetensors").read_bytes() == PAYLOAD and (path / "config.json").read_bytes() == b"{}"
    assert not (path / ".gitattributes").exists()
    assert modelstore.verify("rag").ok
    with pytest.raises(ModelMissing, match="not converted to ONNX yet.*convert-toolrag"):
        modelstore.resolve("rag")
    out = modelstore.onnx_dir(modelstore.find("rag"))
    out.mkdir()
    (out / "model.onnx").write_bytes(b"onnx")
    assert modelstore.resolve("rag") == out


# -- download safety ------------------------------------------------------------------------------
def test_a_server_giving_neither_size_nor_checksum_is_refused(hub, manifest):
    hub.bare.add(f"{REPO}/tiny.gguf")  # and it sends only half the body
    with pytest.raises(DownloadError, match="neither the manifest nor the server gives the file's size and "
                                            "checksum.*nothing was installed"):
        modelstore.pull("tiny", endpoint=hub.url)
    assert list(modelstore.models_dir().glob("tiny.gguf*")) == []
    assert not [r for r in hub.requests if r[0] == "GET"]


def test_a_size_without_any_checksum_is_refused(hub, manifest):
    hub.no_etag.add(f"{REPO}/tiny.gguf")
    with pytest.raises(DownloadError, match="file's checksum"):
        modelstore.pull("tiny", endpoint=hub.url)
    assert not (modelstore.models_dir() / "tiny.gguf").exists()


def test_known_size_and_checksum_make_a_bare_server_usable_and_catch_its_cut(hub, manifest):
    hub.bare.add(f"{REPO}/tiny.gguf")
    manifest(entry(size=len(PAYLOAD), sha256=SHA256))
    with pytest.raises(DownloadError, match="expected 1048580"):
        modelstore.pull("tiny", endpoint=hub.url, retries=1)
    assert not (modelstore.models_dir() / "tiny.gguf").exists()
    hub.bare.clear()
    assert modelstore.pull("tiny", endpoint=hub.url).read_bytes() == PAYLOAD


@pytest.mark.parametrize("hostile", ["/etc/x", "../x", "a/../../x", "sub/./x", "C:x", "a\\..\\x", ""])
def test_a_snapshot_listing_a_path_outside_the_folder_writes_nothing(hub, manifest, isolated_home, hostile):
    hub.files["acme/ToolRAG/config.json"] = b"{}"
    hub.files["acme/ToolRAG/model.safetensors"] = PAYLOAD
    hub.extra_listing = [hostile]
    manifest(entry(name="rag", kind="toolrag", repo="acme/ToolRAG", filename=None, default=False))
    before = sorted(p for p in isolated_home.parent.rglob("*"))
    with pytest.raises(DownloadError, match="outside the model's folder; nothing was downloaded"):
        modelstore.pull("rag", endpoint=hub.url)
    assert sorted(p for p in isolated_home.parent.rglob("*")) == before
    assert not [r for r in hub.requests if "/resolve/" in r[1]]


def test_small_snapshot_files_are_checked_by_their_git_blob_id(hub, manifest):
    hub.files["acme/ToolRAG/config.json"] = b'{"a": 1}'
    hub.files["acme/ToolRAG/model.safetensors"] = PAYLOAD
    hub.git_etag.add("acme/ToolRAG/config.json")
    manifest(entry(name="rag", kind="toolrag", repo="acme/ToolRAG", filename=None, default=False))
    hub.etags["acme/ToolRAG/config.json"] = "1" * 40
    with pytest.raises(ChecksumMismatch, match="git blob id"):
        modelstore.pull("rag", endpoint=hub.url)
    assert modelstore.status()[0][1] is None  # half a snapshot is not a model
    del hub.etags["acme/ToolRAG/config.json"]
    path = modelstore.pull("rag", endpoint=hub.url)
    assert (path / "config.json").read_bytes() == b'{"a": 1}'
    assert modelstore.verify("rag").ok


def test_verify_checks_the_header_and_says_unverified_when_nothing_is_known(manifest, capsys):
    dest = modelstore.models_dir() / "tiny.gguf"
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"GGUF" + b"\0" * 100)  # put there by hand; the manifest knows no size or hash
    result = modelstore.verify("tiny")
    assert result.state == "unverified" and not result.ok and result.checked == ["magic"]
    assert "unverified" in result.describe() and "ok" not in result.describe().split(":")[1]
    assert main(["models", "verify", "tiny"]) == 1
    assert "tiny: unverified" in capsys.readouterr().out
    dest.write_bytes(b"<html>not a model</html>")
    result = modelstore.verify("tiny")
    assert result.state == "bad" and "not a GGUF file" in result.problems[0]
    manifest(entry(name="voice", kind="whisper", filename="ggml-x.bin", size=4, default=False))
    (modelstore.models_dir() / "ggml-x.bin").write_bytes(b"GGUF")
    assert "not a ggml file" in modelstore.verify("voice").problems[0]
    (modelstore.models_dir() / "ggml-x.bin").write_bytes(b"lmgg")
    assert modelstore.verify("voice").ok


def test_the_shipped_manifest_knows_the_tinyagent_and_whisper_base_checksums():
    entries = {e.name: e for e in modelstore.load_manifest()}
    assert entries["tinyagent-1.1b"].size == 667_814_880
    assert entries["tinyagent-1.1b"].sha256 == "374a3e82afe32587a0a1dab7a0ed56a6547b90ce1cc1fb8382f7c56cc1f92fc9"
    assert entries["whisper-base.en"].sha256 == "a03779c86df3323075f5e796cb2ce5029f00ec8869eee3fdfb897afe36c6d002"


# -- the command line ----------------------------------------------------------------------------
def test_cli_list_json_and_path(manifest, capsys):
    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "tiny" and rows[0]["path"] is None
    assert main(["models", "path", "tiny"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tinyagent: model tiny is not downloaded") and "Traceback" not in err


def test_cli_pull_then_verify(hub, manifest, capsys):
    assert main(["models", "pull", "tiny", "--endpoint", hub.url]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(modelstore.models_dir() / "tiny.gguf")
    assert "100%" in err
    assert main(["models", "verify"]) == 0
    assert "tiny: ok (magic, sha256, size)" in capsys.readouterr().out
    assert main(["models", "list"]) == 0
    assert str(modelstore.models_dir() / "tiny.gguf") in capsys.readouterr().out


def test_cli_pull_offline_is_one_clear_line(manifest, capsys):
    assert main(["models", "pull", "tiny", "--endpoint", closed_port_url()]) == 1
    err = capsys.readouterr().err
    assert "unreachable" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_convert_toolrag_explains_missing_packages(tmp_path, monkeypatch, capsys):
    def convert_toolrag(src: Path, out: Path):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(models_cli, "convert_toolrag", convert_toolrag)
    assert main(["models", "convert-toolrag", str(tmp_path), str(tmp_path / "out")]) == 1
    assert "pip install 'tinyagent[convert]'" in capsys.readouterr().err
    assert main(["models", "convert-toolrag", str(tmp_path / "absent"), str(tmp_path / "out")]) == 1
    assert "no such directory" in capsys.readouterr().err


def test_cli_convert_toolrag_calls_the_converter(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(models_cli, "convert_toolrag", lambda src, out: calls.append((src, out)) or out)
    assert main(["models", "convert-toolrag", str(tmp_path), str(tmp_path / "out")]) == 0
    assert calls == [(tmp_path, tmp_path / "out")]
    assert capsys.readouterr().out.strip() == str(tmp_path / "out")
