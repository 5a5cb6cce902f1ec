"""Planning on a llama.cpp server: `ServerLLM`, a drop-in for `LocalLLM` (core/planner/llm.py).

The planner, the joiner and the writer render their prompts exactly as in-process (same
profile, same chat template, same grammar) and `ServerLLM` sends that text, byte for byte,
as a raw completion, streamed back as server-sent events (`data: {...}` lines):

  llama-server (llama.cpp's C++ server)   POST /completion      prompt, grammar, cache_prompt, n_predict
  llama-cpp-python's server (and other    POST /v1/completions  prompt, grammar, max_tokens
  OpenAI-style completion servers)

Which one it is: `GET /props` answers on llama-server (with its chat template and context
size), else `GET /v1/models` names the model. Sampling is what LocalLLM uses (top_k 40,
top_p 0.95, min_p 0.05, no repeat penalty) at the caller's temperature.

What the prompt needs from the model (chat template, BOS/EOS, token counts), best first:
  1. a local copy of the served GGUF: `--model PATH` with `--server`, or the path the server
     reports when that file is on this machine; read vocab-only (no weights are loaded);
  2. llama-server's own metadata (`/props`: chat_template, bos_token, eos_token);
  3. config: planner.chat_template (a named layout) or the model manifest's fallback for the
     server's model file name; with none of these the prompt is plain text, and a notice says so.
Token counts come from the local copy; without one, from the server's tokenizer endpoint
(`/tokenize`, `/extras/tokenize`).

Every failure is a `ServerError` with one line that says what to do: connection refused, a
timeout (`timeouts.plan` bounds every call), HTTP 401/404/500, a body that is not JSON or
not the expected shape, a stream that ends before the server said it was done. Closing a
stream (the consumer stops reading or is cancelled) shuts its connection, which the server
reads as a client gone and stops generating.

Standard library only: http.client in one daemon thread per streamed call.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from tinyagent.core.config import Config
from tinyagent.core.planner.llm import Completion, GenerationStats, LocalLLM, ModelLoadError, ServerError, TextStream, relay
from tinyagent.core.planner.server_url import ServerURL, ServerURLError, parse_server_url
from tinyagent.core.sanitize import visible

LLAMA_SERVER = "llama-server"
OPENAI = "openai"
_SAMPLING = {"top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.0}  # as LocalLLM._generate
_PROBE_SECONDS = 10.0  # finding out what the server is: never longer than this (or timeouts.plan)
_MAX_BODY = 8 << 20  # a JSON answer larger than this is not one of ours
_MAX_LINE = 1 << 20  # one server-sent event line
_SHOWN = 160  # characters of a server's own error message quoted in ours


@dataclass(frozen=True)
class ServerInfo:
    kind: str  # LLAMA_SERVER or OPENAI
    model: str  # the model's id or path as the server names it ("" when it names none)
    n_ctx: int  # the server's context size (0: not reported)
    chat_template: str = ""
    bos_token: str = ""
    eos_token: str = ""


def _short(text: object) -> str:
    line = visible(" ".join(str(text).split()))
    return line if len(line) <= _SHOWN else line[: _SHOWN - 1] + "…"


class _Http:
    """Requests to one server; every call opens its own connection (calls may overlap)."""

    def __init__(self, url: ServerURL, api_key: str = "", timeout: float = 300.0):
        self.url = url
        self.timeout = timeout  # timeouts.plan, for the message
        self._headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    def where(self) -> str:
        return f"the planner server {self.url}"

    def open(self, method: str, path: str, body: Any, deadline: float) -> tuple[http.client.HTTPResponse, socket.socket]:
        """The response (status 200) and its socket; any other status is a ServerError."""
        url = self.url
        timeout = self._left(deadline)
        conn: http.client.HTTPConnection
        if url.scheme == "https":
            conn = http.client.HTTPSConnection(url.host, url.port, timeout=timeout, context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(url.host, url.port, timeout=timeout)
        data = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
        try:
            conn.request(method, url.base + path, body=data, headers=self._headers)
            sock = conn.sock
            response = conn.getresponse()
        except ConnectionRefusedError:
            conn.close()
            raise ServerError(f"{self.where()} refused the connection (is it running, on that port?)") from None
        except TimeoutError:
            conn.close()
            raise self.timed_out(deadline) from None
        except ssl.SSLError as exc:
            conn.close()
            raise ServerError(f"{self.where()}: TLS failed ({_short(exc.reason or exc)})") from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise ServerError(f"{self.where()} could not be reached ({_short(exc) or type(exc).__name__})") from None
        if response.status != 200:
            detail = self._error_detail(response)
            conn.close()
            raise ServerError(self._status_line(response.status, path, detail))
        assert sock is not None
        return response, sock

    def json(self, method: str, path: str, body: Any, deadline: float) -> Any:
        response, sock = self.open(method, path, body, deadline)
        try:
            raw = response.read(_MAX_BODY + 1)
        except TimeoutError:
            raise self.timed_out(deadline) from None
        except (OSError, http.client.HTTPException) as exc:
            raise ServerError(f"{self.where()} broke off its answer to {path} ({_short(exc) or type(exc).__name__})") from None
        finally:
            response.close()
            sock.close()
        if len(raw) > _MAX_BODY:
            raise ServerError(f"{self.where()} answered {path} with more than {_MAX_BODY >> 20} MiB")
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ServerError(f"{self.where()} answered {path} with something that is not JSON: "
                              f"{_short(raw[:200].decode('utf-8', 'replace'))!r}") from None

    def timed_out(self, deadline: float) -> ServerError:
        return ServerError(f"{self.where()} did not answer in time (timeouts.plan is {self.timeout:g} s)")

    @staticmethod
    def _left(deadline: float) -> float:
        return max(0.05, deadline - time.monotonic())

    def _status_line(self, status: int, path: str, detail: str) -> str:
        said = f": {detail}" if detail else ""
        if status in (401, 403):
            return (f"{self.where()} refused the request (HTTP {status}{said}); set planner.api_key_env to the "
                    "environment variable holding its key, and check the key")
        if status == 404:
            return f"{self.where()} has no {path} (HTTP 404{said}); is it a llama.cpp server, and the URL its root?"
        return f"{self.where()} failed (HTTP {status}{said})"

    @staticmethod
    def _error_detail(response: http.client.HTTPResponse) -> str:
        try:
            raw = response.read(4096)
        except (OSError, http.client.HTTPException):
            return ""
        text = raw.decode("utf-8", "replace")
        try:
            body = json.loads(text)
        except json.JSONDecodeError:
            return _short(text)
        if isinstance(body, dict):
            error = body.get("error", body.get("detail", body))
            if isinstance(error, dict):
                error = error.get("message", error)
            return _short(error)
        return _short(body)


def probe(http_: _Http, deadline: float) -> ServerInfo:
    """What kind of server answers, and what it says about its model."""
    try:
        props = http_.json("GET", "/props", None, deadline)
    except ServerError as exc:
        if "HTTP 404" not in str(exc) and "HTTP 405" not in str(exc):
            raise
        props = None
    if isinstance(props, dict) and isinstance(props.get("default_generation_settings"), dict):
        settings = props["default_generation_settings"]
        n_ctx = settings.get("n_ctx", 0)
        return ServerInfo(LLAMA_SERVER, str(props.get("model_alias") or props.get("model_path") or ""),
                          n_ctx if isinstance(n_ctx, int) else 0, _text(props.get("chat_template")),
                          _text(props.get("bos_token")), _text(props.get("eos_token")))
    models = http_.json("GET", "/v1/models", None, deadline)
    data = models.get("data") if isinstance(models, dict) else None
    if not isinstance(data, list):
        raise ServerError(f"{http_.where()} answered /v1/models without a list of models; is it a llama.cpp server?")
    first = data[0] if data and isinstance(data[0], dict) else {}
    return ServerInfo(OPENAI, str(first.get("id") or ""), 0)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def model_label(model: str) -> str:
    """"qwen2.5-coder-0.5b-instruct-q4_k_m" for "/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"."""
    name = PurePosixPath(model.replace("\\", "/")).name if model else ""
    return name[: -len(".gguf")] if name.lower().endswith(".gguf") else (name or "model")


# -- streaming -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Request:
    """One completion as stream() or complete() was asked for it."""
    prompt: str
    grammar: str | None
    max_tokens: int
    temperature: float
    stop: tuple[str, ...]
    special: bool
    min_room: int = 8  # tokens the answer needs at least (LocalLLM's check)
    timeout: float | None = None  # at most the client's own


@dataclass
class _Progress:
    """What one call has seen so far (filled by the reading thread)."""

    first_piece: float | None = None
    pieces: int = 0
    finish: str = ""
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    prompt_tokens: int = 0


def _events(response: http.client.HTTPResponse, sock: socket.socket, deadline: float, http_: _Http,
            cancel: threading.Event) -> Iterator[Any]:
    """The JSON payloads of a server-sent event stream ("[DONE]" as the string itself)."""
    while True:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            line = response.readline(_MAX_LINE + 1)
        except TimeoutError:
            raise http_.timed_out(deadline) from None
        except (OSError, ValueError, http.client.HTTPException) as exc:
            if cancel.is_set():
                return
            raise ServerError(f"{http_.where()} broke off the stream ({_short(exc) or type(exc).__name__})") from None
        if not line:
            return  # the server closed the stream; the caller decides whether it had finished
        if len(line) > _MAX_LINE:
            raise ServerError(f"{http_.where()} sent an event line over {_MAX_LINE >> 20} MiB")
        text = line.decode("utf-8", "replace").strip()
        if not text.startswith("data:"):
            continue  # blank separators, ": ping" comments, "event:" names
        payload = text[len("data:"):].strip()
        if payload == "[DONE]":
            yield payload
            return
        try:
            yield json.loads(payload)
        except json.JSONDecodeError:
            raise ServerError(f"{http_.where()} sent an event that is not JSON: {_short(payload)!r}") from None


def _pieces(kind: str, events: Iterator[Any], progress: _Progress, http_: _Http) -> Iterator[str]:
    """The text pieces of a completion stream, in either server's shape."""
    done = False
    for event in events:
        if event == "[DONE]":
            done = True
            break
        if not isinstance(event, dict):
            raise ServerError(f"{http_.where()} sent an event that is not an object: {_short(event)!r}")
        if "error" in event:
            error = event["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise ServerError(f"{http_.where()} failed mid-stream: {_short(message)}")
        if kind == LLAMA_SERVER:
            piece = event.get("content")
            if not isinstance(piece, str):
                raise ServerError(f"{http_.where()} sent an event without text ('content'): {_short(event)!r}")
            if event.get("stop") is True:
                progress.timings = event.get("timings") if isinstance(event.get("timings"), dict) else {}
                progress.prompt_tokens = _int(event.get("tokens_evaluated"))
                progress.finish = "length" if event.get("stop_type") == "limit" else "stop"
                done = True
        else:
            choices = event.get("choices")
            if isinstance(event.get("usage"), dict):
                progress.usage = event["usage"]
            if choices == [] and progress.usage is not None:
                continue  # OpenAI's usage-only last chunk
            choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
            piece = choice.get("text") if choice is not None else None
            if not isinstance(piece, str):
                raise ServerError(f"{http_.where()} sent an event without text (choices[0].text): {_short(event)!r}")
            reason = choice.get("finish_reason") if choice is not None else None
            if reason:
                progress.finish = "length" if reason == "length" else "stop"
        if piece:
            if progress.first_piece is None:
                progress.first_piece = time.perf_counter()
            progress.pieces += 1
            yield piece
        if done and kind == LLAMA_SERVER:
            break
    if not done and not progress.finish:
        raise ServerError(f"{http_.where()} closed the stream before the answer was finished")


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


# -- the engine ------------------------------------------------------------------------------
class ServerLLM:
    """A llama.cpp server in LocalLLM's place (see the module doc)."""

    # Whatever adapter the server applies is its own (llama-server --lora); the manifest entry, and
    # so the prompt profile, is found from the model's file name alone.
    adapter_path: Path | None = None

    def __init__(self, url: ServerURL | str, *, api_key: str = "", timeout: float = 300.0, n_ctx: int = 0,
                 local_copy: Path | str | None = None, use_local_copy_of_server_model: bool = True):
        self.url = url if isinstance(url, ServerURL) else parse_server_url(url)
        self.timeout = float(timeout)
        self._http = _Http(self.url, api_key, self.timeout)
        self.info = probe(self._http, time.monotonic() + min(self.timeout, _PROBE_SECONDS))
        self._vocab: LocalLLM | None = None
        copy = Path(local_copy).expanduser() if local_copy else None
        if copy is None and use_local_copy_of_server_model and self.info.model.lower().endswith(".gguf"):
            seen = Path(self.info.model).expanduser()
            copy = seen if seen.is_file() else None  # the server runs on this machine
        if copy is not None:
            self._vocab = LocalLLM(copy, vocab_only=True, plain_vocab=True)  # ModelLoadError for a bad file
        self.model_path = Path(copy.name if copy is not None else (model_label(self.info.model) + ".gguf"))
        self.n_ctx = self.info.n_ctx or int(n_ctx) or 4096
        self.model_notice: str | None = None
        self.notices: list[tuple[str, str]] = []  # (level, text) said once when the pipeline loads it
        self.engine = f"{model_label(self.info.model or self.model_path.name)} @ {self.url.label}"
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="tinyagent-server")
        self._closed = False
        if self.url.cleartext_remote:
            self.notices.append(("warning", f"the planner server {self.url} is another machine over plain http: "
                                            "requests, contacts' names and addresses and note text cross the "
                                            "network unencrypted (use https, an SSH tunnel or loopback)"))

    @classmethod
    def from_config(cls, config: Config, local_copy: Path | None = None) -> ServerLLM:
        """The server named by config `planner.server`; `local_copy` is the local copy of its GGUF
        that `--model` names (core/planner_model.py finds it)."""
        planner = config.planner
        try:
            url = parse_server_url(planner.server)
        except ServerURLError as exc:
            raise ModelLoadError(f"planner.server: {exc}") from None
        key = ""
        if planner.api_key_env:
            key = os.environ.get(planner.api_key_env, "")
            if not key:
                raise ModelLoadError(f"planner.api_key_env names {planner.api_key_env}, which is not set "
                                     "(export it with the server's key)")
        llm = cls(url, api_key=key, timeout=float(config.timeouts.plan), n_ctx=int(planner.context),
                  local_copy=local_copy)
        if not llm.metadata.get("tokenizer.chat_template") and planner.chat_template == "auto":
            from tinyagent.core.planner.profiles import manifest_entry

            entry = manifest_entry(llm.model_path, llm.metadata)
            if entry is None or not entry.chat_template:
                llm.notices.append(("warning", f"{llm.engine} does not say its chat template, so prompts go as plain "
                                               "text; set planner.chat_template (e.g. chatml for Qwen) or pass "
                                               "--model with a local copy of its GGUF"))
        return llm

    # -- what the prompt needs -------------------------------------------------------------------
    @property
    def metadata(self) -> dict[str, str]:
        if self._vocab is not None:
            return self._vocab.metadata
        meta = {"general.name": model_label(self.info.model)}
        if self.info.chat_template:
            meta["tokenizer.chat_template"] = self.info.chat_template
        # /props names BOS and EOS by text: ids 0 and 1 stand for them here (token_text reads them back)
        if self.info.bos_token:
            meta["tokenizer.ggml.bos_token_id"] = "0"
        if self.info.eos_token:
            meta["tokenizer.ggml.eos_token_id"] = "1"
        return meta

    def token_text(self, token: int) -> str:
        if self._vocab is not None:
            return self._vocab.token_text(token)
        return {0: self.info.bos_token, 1: self.info.eos_token}.get(token, "")

    def tokenize(self, text: str, *, bos: bool = True, special: bool = False) -> list[int]:
        """Token ids: from the local copy where there is one, else the server's tokenizer."""
        if self._vocab is not None:
            return self._vocab.tokenize(text, bos=bos, special=special)
        deadline = time.monotonic() + min(self.timeout, _PROBE_SECONDS)
        if self.info.kind == LLAMA_SERVER:
            body = self._http.json("POST", "/tokenize", {"content": text, "add_special": bos,
                                                         "parse_special": special}, deadline)
        else:  # llama-cpp-python reads special tokens and adds BOS as the model says
            body = self._http.json("POST", "/extras/tokenize", {"input": text}, deadline)
        tokens = body.get("tokens") if isinstance(body, dict) else None
        if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
            raise ServerError(f"{self._http.where()} answered the tokenizer without a list of tokens")
        return tokens

    def detokenize(self, tokens: Sequence[int]) -> str:
        if self._vocab is not None:
            return self._vocab.detokenize(tokens)
        deadline = time.monotonic() + min(self.timeout, _PROBE_SECONDS)
        path, key = ("/detokenize", "content") if self.info.kind == LLAMA_SERVER else ("/extras/detokenize", "text")
        body = self._http.json("POST", path, {"tokens": list(tokens)}, deadline)
        text = body.get(key) if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise ServerError(f"{self._http.where()} answered {path} without its text")
        return text

    def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future:
        """Run `fn` off the caller's thread (the writer fits long texts with it, as on LocalLLM)."""
        if self._closed:
            future: concurrent.futures.Future = concurrent.futures.Future()
            future.set_exception(ServerError("the planner server's client was closed"))
            return future
        return self._pool.submit(fn)

    # -- generation ------------------------------------------------------------------------------
    def request_body(self, prompt: str, *, grammar: str | None, max_tokens: int, temperature: float,
                     stop: Sequence[str], stream: bool = True) -> dict[str, Any]:
        """The JSON sent for one completion: the prompt text exactly as rendered."""
        body: dict[str, Any] = {"prompt": prompt, "temperature": float(temperature), "stop": list(stop),
                                "stream": stream, **_SAMPLING}
        if self.info.kind == LLAMA_SERVER:
            body.update(n_predict=int(max_tokens), cache_prompt=True)
        else:
            body.update(max_tokens=int(max_tokens))
            if self.info.model:
                body["model"] = self.info.model
        if grammar:
            body["grammar"] = grammar
        return body

    def _budget(self, prompt: str, special: bool, max_tokens: int, min_room: int) -> tuple[int, int]:
        """(prompt tokens, max tokens): LocalLLM's check and cap where the tokens are known here."""
        if self._vocab is None:
            return 0, max_tokens
        tokens = len(self._vocab.tokenize(prompt, special=special))
        room = self.n_ctx - tokens
        if room < max(8, min_room):
            raise ServerError(f"the prompt is {tokens} tokens and the answer needs {max(8, min_room)} more; the "
                              f"server's context holds {self.n_ctx} (start it with a larger context, or select "
                              "fewer tools)")
        return tokens, max(1, min(max_tokens, room - 1))

    def _run(self, ask: _Request, cancel: threading.Event, each: Callable[[str], object],
             on_socket: Callable[[socket.socket], None] | None = None) -> GenerationStats:
        """One streamed completion, piece by piece to `each` (on the calling thread)."""
        if self._closed:
            raise ServerError("the planner server's client was closed")
        prompt_tokens, max_tokens = self._budget(ask.prompt, ask.special, ask.max_tokens, ask.min_room)
        body = self.request_body(ask.prompt, grammar=ask.grammar, max_tokens=max_tokens, temperature=ask.temperature,
                                 stop=ask.stop)
        started = time.perf_counter()
        deadline = time.monotonic() + min(self.timeout, ask.timeout or self.timeout)
        path = "/completion" if self.info.kind == LLAMA_SERVER else "/v1/completions"
        response, sock = self._http.open("POST", path, body, deadline)
        if on_socket is not None:
            on_socket(sock)
        progress = _Progress()
        try:
            for piece in _pieces(self.info.kind, _events(response, sock, deadline, self._http, cancel), progress,
                                 self._http):
                if cancel.is_set():
                    break
                each(piece)
        except ServerError:
            if not cancel.is_set():
                raise
        finally:
            _shut(sock)
            response.close()
        ended = time.perf_counter()
        first = progress.first_piece or ended
        finish = "cancelled" if cancel.is_set() else progress.finish or "stop"
        return self._stats(progress, prompt_tokens, first - started, ended - first, finish)

    @staticmethod
    def _stats(progress: _Progress, prompt_tokens: int, prompt_seconds: float, generate_seconds: float,
               finish: str) -> GenerationStats:
        timings, usage = progress.timings, progress.usage
        if timings is not None:  # llama-server counts what it evaluated and what its cache held
            evaluated = _int(timings.get("prompt_n"))
            total = progress.prompt_tokens or evaluated + _int(timings.get("cache_n"))
            return GenerationStats(total, min(evaluated, total), _int(timings.get("predicted_n")) or progress.pieces,
                                   _int(timings.get("prompt_ms")) / 1000 or prompt_seconds,
                                   _int(timings.get("predicted_ms")) / 1000 or generate_seconds, finish)
        if usage is not None:  # OpenAI-style usage (vLLM: with cached tokens)
            total = _int(usage.get("prompt_tokens")) or prompt_tokens
            details = usage.get("prompt_tokens_details")
            cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
            return GenerationStats(total, max(0, total - cached), _int(usage.get("completion_tokens")) or progress.pieces,
                                   prompt_seconds, generate_seconds, finish)
        # llama-cpp-python's stream reports no counts: the prompt as counted here, all of it
        # evaluated as far as we know (its log says how much of it its cache held).
        return GenerationStats(prompt_tokens, prompt_tokens, progress.pieces, prompt_seconds, generate_seconds, finish)

    def stream(self, prompt: str, *, grammar: str | None = None, max_tokens: int = 512,
               temperature: float = 0.0, stop: Sequence[str] | None = None,
               special: bool = False, min_room: int = 8, use_adapter: bool = True) -> TextStream:
        """As LocalLLM.stream: closing the stream or cancelling its reader closes the connection.
        (`use_adapter` is moot: a server runs whatever weights it was started with.)"""
        result = TextStream()
        result._chunks = self._stream_chunks(result, _Request(prompt, grammar, max_tokens, temperature,
                                                              tuple(stop or ()), special, min_room))
        return result

    def _stream_chunks(self, result: TextStream, ask: _Request) -> AsyncIterator[str]:
        cancel = threading.Event()
        sockets: list[socket.socket] = []

        def on_socket(sock: socket.socket) -> None:
            sockets.append(sock)
            if cancel.is_set():
                _shut(sock)

        def shut_all() -> None:  # the server sees the client go and stops generating
            for sock in sockets:
                _shut(sock)

        def produce(each: Callable[[str], Any]) -> GenerationStats | None:
            return self._run(ask, cancel, each, on_socket)

        def start(job: Callable[[], None]) -> None:
            threading.Thread(target=job, name="tinyagent-server-stream", daemon=True).start()

        return relay(result, produce, cancel, start=start, on_close=shut_all)

    def complete(self, prompt: str, *, grammar: str | None = None, max_tokens: int = 256,
                 temperature: float = 0.0, stop: Sequence[str] | None = None,
                 timeout: float | None = None, special: bool = False, use_adapter: bool = True) -> Completion:
        """The whole completion (blocking; from any thread except an event loop's)."""
        pieces: list[str] = []
        ask = _Request(prompt, grammar, max_tokens, temperature, tuple(stop or ()), special, timeout=timeout)
        stats = self._run(ask, threading.Event(), pieces.append)
        return Completion("".join(pieces), stats)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._vocab is not None:
            self._vocab.close()

    def __enter__(self) -> ServerLLM:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _shut(sock: socket.socket) -> None:
    """End a connection now, also while another thread is blocked reading it."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed
    sock.close()
