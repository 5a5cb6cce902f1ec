"""Planning on a server (core/planner/server.py): llama-cpp-python's real server on a random-weight
GGUF for the mechanics (the request reaches it, two clients at once, a closed stream, prefix
reuse), a recording server of our own for the exact bytes sent, and small local HTTP servers
of our own for every way a server can fail. Nothing here asserts what a random model writes:
where text matters, a grammar forces it."""
from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.cli import tinyagent
from tests.support.llama_server import free_port, llama_cpp_server, server_available
from tinyagent.core.config import Config, ConfigError, parse_config
from tinyagent.core.events import Event, Notice, PlanFinished, TaskFinished, TaskStarted
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.planner.llm import GenerationStats, LocalLLM, ModelError, ServerError
from tinyagent.core.planner.server import ServerLLM
from tinyagent.core.planner.server_url import ServerURLError, parse_server_url

REQUEST = "Text Zoë Okafor “running late” — 10 min"  # non-ASCII: the bytes must survive JSON and HTTP


# -- a server of our own -----------------------------------------------------------------------
class FakeServer:
    """An OpenAI-style completion server on 127.0.0.1 that records each request and answers
    as `reply(path, body)` says: (status, content-type, body bytes or a list of SSE payloads)."""

    def __init__(self, reply: Callable[[str, dict | None], tuple[int, str, object]], model: str = "fake.gguf",
                 host: str = "127.0.0.1"):
        self.requests: list[tuple[str, str, dict | None, dict[str, str]]] = []
        self.model = model
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the body ends when we close: a cut stream is a close

            def log_message(self, *args):  # quiet
                pass

            def _answer(self, method: str) -> None:
                body = None
                if method == "POST":
                    length = int(self.headers.get("Content-Length") or 0)
                    body = json.loads(self.rfile.read(length).decode("utf-8"))
                outer.requests.append((method, self.path, body, dict(self.headers)))
                if self.path == "/v1/models" and method == "GET":
                    status, ctype, payload = outer.models_reply()
                elif self.path == "/props":
                    status, ctype, payload = outer.props_reply()
                else:
                    status, ctype, payload = reply(self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.end_headers()
                if isinstance(payload, list):
                    for item in payload:
                        if isinstance(item, float):  # a pause mid-stream
                            time.sleep(item)
                            continue
                        data = item if isinstance(item, str) else json.dumps(item)
                        self.wfile.write(f"data: {data}\n\n".encode())
                        self.wfile.flush()
                elif isinstance(payload, float):
                    time.sleep(payload)
                else:
                    self.wfile.write(payload)

            def do_GET(self):
                self._answer("GET")

            def do_POST(self):
                self._answer("POST")

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def models_reply(self) -> tuple[int, str, object]:
        return 200, "application/json", json.dumps({"object": "list", "data": [{"id": self.model}]}).encode()

    def props_reply(self) -> tuple[int, str, object]:
        return 404, "application/json", b'{"detail": "Not Found"}'  # not llama-server

    def completions(self, path: str = "/v1/completions") -> list[dict]:
        return [body for method, p, body, _ in self.requests if p == path and body]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def fake_server(reply, **kwargs) -> Iterator[FakeServer]:
    server = FakeServer(reply, **kwargs)
    try:
        yield server
    finally:
        server.close()


def chunks(text: str, finish: str = "stop", done: bool = True) -> list:
    events: list = [{"choices": [{"text": text[i:i + 7], "finish_reason": None}]} for i in range(0, len(text), 7)]
    if finish:
        events.append({"choices": [{"text": "", "finish_reason": finish}]})
    return events + (["[DONE]"] if done else [])


def plan_reply(text: str, **kwargs):
    return lambda path, body: (200, "text/event-stream", chunks(text, **kwargs))


def server_config(url: str, prompt: str = "compact", template: str = "none", timeout: float = 60.0) -> Config:
    c = Config(backend="sandbox")
    c.apps = ["contacts", "messages", "notes", "reminders"]
    c.planner.prompt = prompt
    c.planner.chat_template = template
    c.planner.max_replans = 0
    c.toolrag.enabled = False
    c.planner.server = url
    c.timeouts.plan = timeout
    return c


def write_config(home: Path, url: str, *, extra: str = "") -> Path:
    path = home / "server-config.yaml"
    path.write_text("backend: sandbox\napps: [contacts, messages, notes, reminders]\ntoolrag: {enabled: false}\n"
                    f"planner: {{server: '{url}', prompt: compact, chat_template: none, max_replans: 0{extra}}}\n")
    return path


PLAN = '1. get_phone_number("Emily Okafor")\n2. send_sms(["$1"], "Running late")\n3. join()<END_OF_PLAN>'


# -- the exact bytes --------------------------------------------------------------------------
class RecordingLLM(LocalLLM):
    """In-process: records what the model receives, answers with a fixed plan."""

    def __init__(self, path: Path, reply: str):
        super().__init__(path, n_ctx=4096, n_threads=1)
        self.calls: list[dict] = []
        self.reply = reply

    def _generate(self, prompt, *, grammar, max_tokens, temperature, stop, cancel, special=False, min_room=8):
        self.calls.append({"prompt": prompt, "grammar": grammar, "temperature": temperature, "stop": list(stop),
                           "special": special})
        yield self.reply
        return GenerationStats(1, 1, 1, 0.0, 0.0, "stop")


@pytest.mark.parametrize("profile,template", [("compact", "none"), ("tinyagent", "chatml")])
async def test_the_server_receives_the_prompt_bytes_the_model_receives_in_process(tiny_gguf, profile, template):
    """Same request, same profile, same template: the JSON body's prompt, grammar, stops and
    temperature are byte for byte what LocalLLM gets in-process."""
    local = RecordingLLM(tiny_gguf, PLAN)
    try:
        config = server_config("", profile, template)
        config.planner.server = ""
        in_process = await Pipeline(config, llm=local).plan_only(REQUEST, emit=lambda e: None)
    finally:
        local.close()
    with fake_server(plan_reply(PLAN), model=str(tiny_gguf)) as server:  # it names a GGUF that is on this machine
        pipeline = Pipeline(server_config(server.url, profile, template))
        try:
            remote = await pipeline.plan_only(REQUEST, emit=lambda e: None)
        finally:
            pipeline.close()
        sent = server.completions()
    assert [c["prompt"].encode("utf-8") for c in sent] == [c["prompt"].encode("utf-8") for c in local.calls]
    assert sent[0]["grammar"] == local.calls[0]["grammar"] and sent[0]["grammar"]
    assert sent[0]["stop"] == local.calls[0]["stop"]
    assert sent[0]["temperature"] == local.calls[0]["temperature"]
    assert sent[0]["stream"] is True
    assert remote.plan.to_text() == in_process.plan.to_text()
    assert [t.tool for t in remote.plan.tasks] == ["get_phone_number", "send_sms"]


async def test_llama_server_shape_props_template_and_cache_counts():
    """llama-server's API (a server of ours in its documented shape): the chat template from
    /props, POST /completion with cache_prompt, and its cached-token count in the stats."""
    text = PLAN
    events = [{"content": text[i:i + 9], "stop": False} for i in range(0, len(text), 9)]
    events.append({"content": "", "stop": True, "stop_type": "eos", "tokens_evaluated": 120,
                   "timings": {"prompt_n": 20, "cache_n": 100, "predicted_n": 9, "prompt_ms": 5.0,
                               "predicted_ms": 9.0}})
    from tinyagent.core.planner.chat import NAMED_TEMPLATES

    with fake_server(lambda p, b: (200, "text/event-stream", events)) as server:
        server.props_reply = lambda: (200, "application/json", json.dumps({  # type: ignore[method-assign]
            "default_generation_settings": {"n_ctx": 8192}, "model_path": "/srv/qwen2.5-coder.gguf",
            "chat_template": NAMED_TEMPLATES["chatml"], "bos_token": "", "eos_token": "<|im_end|>"}).encode())
        pipeline = Pipeline(server_config(server.url, "compact", "auto"))
        try:
            response = await pipeline.plan_only(REQUEST, emit=lambda e: None)
            engine = pipeline.llm.engine  # type: ignore[union-attr]
        finally:
            pipeline.close()
        sent = server.completions("/completion")
    assert sent and sent[0]["cache_prompt"] is True and sent[0]["n_predict"] > 0 and sent[0]["grammar"]
    assert sent[0]["prompt"].startswith("<|im_start|>system\n") and response.prompt.templated
    assert [t.tool for t in response.plan.tasks] == ["get_phone_number", "send_sms"]
    assert response.stats is not None and (response.stats.prompt_tokens, response.stats.cached_tokens) == (120, 100)
    assert engine == f"qwen2.5-coder @ {server.url.removeprefix('http://')}"


# -- the real server --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_server(tiny_gguf):
    why = server_available()
    if why:
        pytest.skip(why)
    with llama_cpp_server(tiny_gguf, threads=1) as server:  # stopped on leaving, also on failure
        yield server


def test_a_plan_streams_through_llama_cpp_python_server(real_server, tiny_gguf):
    """plan --server against the real server: the request reaches it (its log), the answer streams back."""
    result = tinyagent("plan", "Text Emily Okafor that I'm running late", "--server", real_server.url, "--json",
                       config=write_config(tiny_gguf.parent, real_server.url, extra=", max_tokens: 24"))
    assert result.returncode in (0, 1), result.stderr  # 1: a random model's plan may be unfinished
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["plan"] is not None
    assert "POST /v1/completions" in real_server.log


async def test_two_clients_at_once_get_their_own_answers_and_the_prefix_is_reused(real_server):
    """Two clients, one server, at the same time: each answer follows its own request's grammar
    (no cross-talk); the second request over the same long beginning reuses the server's cache."""
    shared = "You are a planner. " * 40
    one, two = ServerLLM(real_server.url, timeout=120), ServerLLM(real_server.url, timeout=120)

    async def ask(llm: ServerLLM, word: str) -> tuple[str, GenerationStats | None]:
        stream = llm.stream(shared + f"Say {word}.", grammar=f'root ::= "{word}" [0-9]{{0,6}}', max_tokens=8)
        return "".join([piece async for piece in stream]), stream.stats

    try:
        (a, a_stats), (b, b_stats) = await asyncio.gather(ask(one, "alpha"), ask(two, "beta"))
    finally:
        one.close()
        two.close()
    # each is its own grammar's text (a random model may spend its 8 tokens on single letters)
    assert a and b and _follows("alpha", a) and _follows("beta", b), (a, b)
    assert a_stats is not None and b_stats is not None and a_stats.prompt_tokens > 100
    hits = [int(n) for n in re.findall(r"Llama.generate: (\d+) prefix-match hit", real_server.log)]
    assert hits and max(hits) >= a_stats.prompt_tokens - 10, real_server.log[-2000:]  # the shared beginning


def _follows(word: str, text: str) -> bool:
    """`text` is what `root ::= "WORD" [0-9]{0,6}` allows, or a beginning of it."""
    return bool(re.fullmatch(re.escape(word) + "[0-9]{0,6}", text)) or word.startswith(text)


async def test_closing_a_stream_closes_its_connection(real_server):
    """The consumer stops reading: the connection goes, and the server notices the client left."""
    llm = ServerLLM(real_server.url, timeout=120)
    try:
        stream = llm.stream("Count: ", grammar='root ::= [0-9]{1,400}', max_tokens=400)
        async with contextlib.aclosing(stream):
            async for _piece in stream:
                break
    finally:
        llm.close()
    deadline = time.monotonic() + 60
    while "Disconnected from client" not in real_server.log and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert "Disconnected from client" in real_server.log


def test_server_side_and_local_token_counts_agree(real_server, tiny_gguf):
    """Without a local copy the server's tokenizer counts; with one, the copy: the same ids."""
    remote = ServerLLM(real_server.url, use_local_copy_of_server_model=False)
    local = ServerLLM(real_server.url)
    try:
        text = "### Input:\nText Emily that I'm running late"
        assert local._vocab is not None and remote._vocab is None
        assert remote.tokenize(text, special=True) == local.tokenize(text, special=True)
    finally:
        remote.close()
        local.close()


# -- bad servers --------------------------------------------------------------------------------
def error(status: int, body: bytes = b'{"error": {"message": "nope"}}'):
    return lambda path, b: (status, "application/json", body)


@pytest.mark.parametrize("reply,words", [
    (error(401, b'{"detail": "Invalid API key"}'), "HTTP 401: Invalid API key); set planner.api_key_env"),
    (error(404, b'{"detail": "Not Found"}'), "has no /v1/completions (HTTP 404"),
    (error(500, b"Internal Server Error"), "failed (HTTP 500: Internal Server Error)"),
    (lambda p, b: (200, "text/event-stream", ["not json at all"]), "sent an event that is not JSON"),
    (lambda p, b: (200, "text/event-stream", [{"nothing": "here"}]), "without text (choices[0].text)"),
    (lambda p, b: (200, "text/event-stream", [{"error": {"message": "out of memory"}}]),
     "failed mid-stream: out of memory"),
    (plan_reply('1. get_phone_number("Emily")\n', finish="", done=False), "closed the stream before"),
    (lambda p, b: (200, "text/event-stream", 5.0), "did not answer in time (timeouts.plan is 1 s)"),
], ids=["401", "404", "500", "not-json", "wrong-shape", "error-event", "cut", "timeout"])
def test_a_bad_server_is_one_clear_error(reply, words):
    with fake_server(reply) as server:
        llm = ServerLLM(server.url, timeout=1.0)
        try:
            with pytest.raises(ServerError) as caught:
                llm.complete("Hello", max_tokens=4)
        finally:
            llm.close()
    message = str(caught.value)
    assert words in message and "\n" not in message and server.url in message


@pytest.mark.parametrize("models,words", [
    ((200, "application/json", b"<html>hi</html>"), "is not JSON"),
    ((200, "application/json", b'{"data": "x"}'), "without a list of models"),
    ((401, "application/json", b'{"detail": "Invalid API key"}'), "HTTP 401"),
])
def test_a_server_that_is_not_one_fails_when_it_is_opened(models, words):
    with fake_server(plan_reply(PLAN)) as server:
        server.models_reply = lambda: models  # type: ignore[method-assign]
        with pytest.raises(ServerError, match=re.escape(words)):
            ServerLLM(server.url, timeout=5)


def test_refused_and_silent_servers_are_one_line_and_exit_2(tmp_path):
    refused = f"http://127.0.0.1:{free_port()}"
    result = tinyagent("ask", "Text Emily I'm late", "--server", refused, "--dry-run", "--json",
                       config=write_config(tmp_path, refused))
    assert result.returncode == 2
    assert result.stderr.strip() == f"tinyagent: the planner server {refused} refused the connection " \
                                    "(is it running, on that port?)"


async def test_a_stream_cut_mid_plan_closes_the_run(tmp_path):
    """The first task is dispatched, then the server breaks off: that task reports what it did,
    nothing else is dispatched, no joiner or replan asks the broken server, and ask raises."""
    text = '1. get_phone_number("Emily Okafor")\n2. send_sms(["$1"], "Runn'
    with fake_server(lambda p, b: (200, "text/event-stream", chunks(text, finish="", done=False) + [1.0])) as server:
        pipeline = Pipeline(server_config(server.url))
        events: list[Event] = []
        try:
            with pytest.raises(ServerError, match="closed the stream before"):
                await pipeline.ask("Text Emily Okafor that I'm running late", emit=events.append, yes=True)
        finally:
            pipeline.close()
        asked = len(server.completions())
    started = [e.task_id for e in events if isinstance(e, TaskStarted)]
    finished = [e.task_id for e in events if isinstance(e, TaskFinished)]
    assert started == finished == [1]
    assert any(isinstance(e, PlanFinished) for e in events)
    assert asked == 1  # no joiner, no replan


def test_a_cut_stream_through_the_cli_is_one_line_and_exit_2(tmp_path):
    text = '1. get_phone_number("Emily Okafor")\n2. send_sms(["$1"], "Runn'
    with fake_server(lambda p, b: (200, "text/event-stream", chunks(text, finish="", done=False))) as server:
        result = tinyagent("ask", "Text Emily Okafor that I'm running late", "--server", server.url, "--dry-run",
                           config=write_config(tmp_path, server.url))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"tinyagent: the planner server {server.url} closed the stream before the answer was finished")
    assert "get_phone_number" in result.stdout  # the task that ran says so


def test_a_server_that_ignores_the_grammar_runs_nothing(tmp_path):
    """Prose instead of a plan: parsed and refused before anything runs (exit 2, no traceback)."""
    with fake_server(plan_reply("Sure! I would text Emily for you. send_sms to her now?")) as server:
        result = tinyagent("ask", "Text Emily Okafor that I'm running late", "--server", server.url, "--json",
                           "--yes", config=write_config(tmp_path, server.url))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert '"TaskStarted"' not in result.stdout and "task_started" not in result.stdout


def test_the_bearer_token_comes_from_the_named_variable(monkeypatch):
    with fake_server(plan_reply("ok")) as server:
        monkeypatch.setenv("PLANNER_KEY", "s3cret")
        config = server_config(server.url)
        config.planner.api_key_env = "PLANNER_KEY"
        llm = ServerLLM.from_config(config)
        try:
            assert llm.complete("Hi", max_tokens=2).text == "ok"
        finally:
            llm.close()
        assert {h.get("Authorization") for _, _, _, h in server.requests} == {"Bearer s3cret"}
        monkeypatch.delenv("PLANNER_KEY")
        with pytest.raises(Exception, match="PLANNER_KEY, which is not set"):
            ServerLLM.from_config(config)


def _lan_address() -> str | None:
    """This machine's non-loopback address (no packet is sent), or None."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


async def test_a_remote_plain_http_server_is_warned_about_once():
    """A non-loopback http:// server: one warning (the request and contacts cross the network)."""
    address = _lan_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    with fake_server(plan_reply(PLAN), host="0.0.0.0") as server:
        url = server.url.replace("0.0.0.0", address)
        pipeline = Pipeline(server_config(url))
        events: list[Event] = []
        try:
            await pipeline.load_model(events.append)
            await pipeline.load_model(events.append)  # loaded once: said once
        finally:
            pipeline.close()
    warnings = [e.message for e in events if isinstance(e, Notice) and e.level == "warning"]
    assert len(warnings) == 1 and "unencrypted" in warnings[0]
    assert parse_server_url("http://10.0.0.5:8080").cleartext_remote
    assert not parse_server_url("https://10.0.0.5:8080").cleartext_remote
    assert not parse_server_url("http://localhost:8080").cleartext_remote
    assert not parse_server_url("http://[::1]:8080").cleartext_remote
    assert issubclass(ServerError, ModelError)  # a joiner that fails on it still answers from the results


# -- settings -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["ftp://host", "http://", "http://u:p@host:1", "http://host:99999", "host:8080",
                                  "http://host:1/?q=1", "http://a b"])
def test_bad_server_urls_are_refused(text):
    with pytest.raises(ServerURLError):
        parse_server_url(text)
    with pytest.raises(ConfigError, match="planner.server"):
        parse_config(f"planner: {{server: '{text}'}}")


def test_server_urls_and_key_variables():
    url = parse_server_url("http://127.0.0.1:8080/v1/")
    assert (str(url), url.label, url.base) == ("http://127.0.0.1:8080", "127.0.0.1:8080", "")
    assert parse_server_url("https://gpu.example.org/llm").label == "https://gpu.example.org:443/llm"
    with pytest.raises(ConfigError, match="planner.api_key_env"):
        parse_config("planner: {api_key_env: 'sk-123 secret'}")
    assert parse_config("planner: {server: 'http://h:1', api_key_env: PLANNER_KEY}").planner.api_key_env == "PLANNER_KEY"


def test_bad_server_flag_is_a_usage_error():
    result = tinyagent("plan", "hi", "--server", "ftp://nowhere")
    assert result.returncode == 2 and "--server" in result.stderr and "Traceback" not in result.stderr

