"""Mutators and one-input runners for the fuzz suite (tests/unit/test_fuzz.py) and bench/bench_fuzz.py.

Each runner feeds one hostile input to the real code path and returns an outcome word:
"ok" (accepted), "refused" (the documented clean error), or raises `FuzzFailure` when the
code broke its promise (an unexpected exception = a traceback for the user, JSON that does
not parse back, a plan that does not survive its own round trip, an exit code outside 0/1/2).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import struct
from collections.abc import Callable
from pathlib import Path

HOSTILE_TOKENS = [
    "1e999", "-1e999", "9" * 5000, "\\ud800", "\ud800", "${99}", "$0", "$$", "$1", "${1}0", "\x1b[2K", "\r",
    "\x00", "[" * 300, "(" * 300, '"""', "open('x')", "__import__('os')", "lambda: 0", "f'{x}'", "b'x'",
    "{1: 2}", "{1, 2}", "1j", "...", "join()", "<END_OF_PLAN>", "\n", "Thought: ", "  # note", "\\", '"',
    "'", ",", "None", "True", "[]", "\u202e", "\ufeff", "\U0001F600", "\x85", "\u2028", "999999.", "0.", "-5.",
    str(2**64), "nan", "float('inf')", "\t", "\\x1b", "\\N{BELL}", "\\777", "x" * 25_000,
]
YAML_TOKENS = [
    "&a ", "*a", "!!python/object/apply:os.system ['true']", "!!binary aGVsbG8=", "<<: *a", "[", "]", "{", "}",
    ": ", "- ", ".nan", ".inf", "-.inf", "1e400", "0x10", "0o7", "~", "null", "yes", "2024-01-01", "9" * 5000,
    "\t", "%YAML 1.1\n", "---\n", "...\n", "? ", "|\n  x", ">\n  y", "!local x", "'", '"', "\\", "#", "\x00",
    "\x1b", "\ufeff", "@", "`", "[" * 200, "{a: " * 100, "- " * 100,
]
CONFIG_VALUES = [
    ".nan", ".inf", "-1", "1e400", "0", "0.0", "-0.0", "999999999999", "2147483648", "true", "no", "[]", "{}",
    "null", "''", "x" * 300, "[a, b]", "{task: 1}", "{task: .nan}", "{read: allow, send: maybe}", "2024-01-01",
    "0x7fffffff", "1_000", "'5'", "[1, 2]", "[contacts, nope]", "{threshold: 1.5}", "{plan: 0}", "auto", "sandbox",
]
CHARS = "abcXYZ019 _-.,:;()[]{}\"'\\$#\n\r\t\x00\x07\x1b\x7f\x85é日\u202e\ud800\U0001F600"


class FuzzFailure(AssertionError):
    """The code under test broke its contract on this input."""


# -- mutators --------------------------------------------------------------------------------------------
def mutate_text(rng: random.Random, text: str, tokens: list[str] = HOSTILE_TOKENS, ops: int | None = None) -> str:
    for _ in range(ops or rng.randint(1, 4)):
        if not text:
            text = rng.choice(tokens)
            continue
        i, j = sorted(rng.randrange(len(text) + 1) for _ in range(2))
        op = rng.randrange(7)
        if op == 0:
            text = text[:i] + text[j:]  # delete a span
        elif op == 1:
            text = text[:i] + "".join(rng.choice(CHARS) for _ in range(rng.randint(1, 8))) + text[i:]
        elif op == 2:
            text = text[:i] + rng.choice(tokens) + text[i:]
        elif op == 3:
            text = text[:j] + text[i:j] * rng.randint(1, 3) + text[j:]  # duplicate a span
        elif op == 4:
            lines = text.split("\n")
            rng.shuffle(lines)
            text = "\n".join(lines)
        elif op == 5:
            text = text[:i]  # cut short
        else:
            text = text[:i] + rng.choice(tokens) + text[j:]  # replace a span
    return text


def mutate_config_values(rng: random.Random, text: str) -> str:
    """Replace the values of a few `key: value` lines with odd but well-formed YAML values."""
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        key, sep, _value = lines[i].partition(": ")
        if sep:
            lines[i] = f"{key}: {rng.choice(CONFIG_VALUES)}"
    return "\n".join(lines)


def mutate_bytes(rng: random.Random, data: bytes, hot: int | None = None, keep_length: bool = False) -> bytes:
    """Flip bytes, overwrite 32/64-bit fields with extreme values, cut or extend (within `hot` bytes)."""
    buf = bytearray(data)
    hot = min(len(buf), hot or len(buf))
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(3 if keep_length else 5)
        if not buf or hot < 8:
            buf += bytes(rng.randrange(256) for _ in range(8))
            hot = len(buf)
            continue
        at = rng.randrange(hot - 7)
        if op == 0:
            buf[at] = rng.randrange(256)
        elif op == 1:
            value = rng.choice([0, 1, 2, 3, 4, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, rng.getrandbits(32)])
            buf[at:at + 4] = struct.pack("<I", value)
        elif op == 2:
            value = rng.choice([0, 1, 2**31, 2**40, 2**62, 2**64 - 1, rng.getrandbits(64)])
            buf[at:at + 8] = struct.pack("<Q", value)
        elif op == 3:
            del buf[rng.randrange(len(buf)):]
            hot = min(hot, len(buf))
        else:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(buf)


# -- seeds --------------------------------------------------------------------------------------------------
PLAN_SEEDS = [
    '1. get_phone_number("Sarah")\n2. send_sms(["$1"], "Running late, see you at $2")\n3. join()<END_OF_PLAN>',
    'Thought: find Sid\n1. get_email_address("Sid")\n2. create_calendar_event("Sync", "2024-06-07 15:00:00", '
    '"", "Room 2", ["$1"], "agenda", None)  # the meeting\n3. join()<END_OF_PLAN>',
    '1. get_zoom_meeting_link("Standup", "2024-06-03 09:00:00", 30, [])\n2. create_reminder("Join $1", '
    '"2024-06-03", "", "", 1, True)\n3. join()<END_OF_PLAN>',
    '1. open_note("Packing", "")\n2. append_note_content("Packing", "more: ${1}", "")\n3. join()\n<END_OF_PLAN>',
]
REQUEST_SEEDS = [
    "text Sid that I'm running late", "email Sarah the notes from today's meeting and remind me at 5 to call Mike",
    "open the note Packing list", "what is on my calendar tomorrow?", "send the Q3 report.pdf to Kai",
]
CONFIG_SEED = """backend: sandbox
apps: [contacts, calendar, mail, notes, reminders, messages, maps, files, zoom]
approval: {read: allow, ui: ask, draft: ask, send: ask, write: ask, network: ask}
timeouts: {task: 30, applescript: 20, plan: 300}
models:
  planner: ""
  whisper: ""
planner: {threads: 0, context: 4096, max_tokens: 768, temperature: 0.0, max_replans: 2, examples: 3}
toolrag: {threshold: 0.5, enabled: true}
voice: {device: "", language: en, max_seconds: 30, silence_seconds: 0.0}
zoom: {token: "", api_base: "https://api.zoom.us/v2"}
instructions: "Be brief."
dry_run: false
mcp:
  max_output: 100000
  servers:
    files: {command: npx, args: [-y, "@modelcontextprotocol/server-filesystem", ~/notes], env: {DEBUG: "1"}, cwd: /tmp}
    web: {url: "https://mcp.example.com/mcp", headers_env: {Authorization: MCP_TOKEN}, call_timeout: 5, enabled: false}
"""


def wav_seed(tag: int = 1, channels: int = 1, rate: int = 16000, bits: int = 16, frames: int = 800) -> bytes:
    body = bytes((i * 37) & 0xFF for i in range(frames * channels * bits // 8))
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits)
    if tag == 0xFFFE:
        fmt = fmt + struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", 1) + bytes(14)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


WAV_SEEDS = [wav_seed(), wav_seed(channels=2, rate=44100), wav_seed(bits=8, rate=8000), wav_seed(bits=24, rate=48000),
             wav_seed(bits=32), wav_seed(tag=3, bits=32), wav_seed(tag=3, bits=64, rate=22050),
             wav_seed(tag=0xFFFE, channels=2, rate=48000)]


def shared_plan_texts(path: Path) -> list[str]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line)["plan"] for line in fh if line.strip()]


# -- runners ------------------------------------------------------------------------------------------------
def run_plan_text(text: str) -> str:
    """Parse; every result must print as strict JSON and survive serialize -> parse unchanged."""
    from tinyagent.core.events import TaskAdded
    from tinyagent.core.parser import parse_plan
    from tinyagent.core.plan import serialize

    plan = parse_plan(text)
    for diagnostic in (*plan.errors, *plan.warnings):
        message = str(diagnostic)
        message.encode("utf-8")  # printable (no lone surrogates)
        if "<ast." in message or " object at 0x" in message:
            raise FuzzFailure(f"an error names a Python object: {message[:200]}")
    for task in plan.tasks:
        json.dumps(TaskAdded(task).to_json(), ensure_ascii=False, allow_nan=False).encode("utf-8")
    if plan.ok:
        again = parse_plan(serialize(plan))
        if again != plan or again.errors:
            raise FuzzFailure(f"the plan does not survive its round trip: {serialize(plan)[:300]!r}")
        return "ok"
    return "refused"


LAST_OUTPUT = [""]  # run_cli's last standard output, for callers that read its report


def run_cli(argv: list[str]) -> int:
    """core.cli.main in-process; the exit code must be documented and stderr free of tracebacks."""
    from tinyagent.core.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    LAST_OUTPUT[0] = out.getvalue()
    if code not in (0, 1, 2):
        raise FuzzFailure(f"exit code {code} for {argv}")
    if "Traceback" in err.getvalue():
        raise FuzzFailure(f"traceback on stderr for {argv}")
    for line in out.getvalue().splitlines():  # splitlines: also U+2028 and friends must not split a line
        if line.startswith("{"):
            json.loads(line, parse_constant=_no_constants)
    return code


# One line of TUI input: what a person types or pastes into the request box.
CONTROL_CHARACTERS = "".join(map(chr, (*range(0x20), *range(0x7F, 0xA0)))).replace("\n", "")


def tui_input_text(rng: random.Random) -> str:
    """A request mutated with hostile tokens, control characters (ESC, BEL, CSI 0x9b, OSC 0x9d) or
    escape sequences, or now and then a paste of 100 KB to 1 MB."""
    r = rng.random()
    if r < 0.05:
        unit = rng.choice(["x", "send Mike ", "\x1b[2J\x1b[41mFORGED", "日本", "\u202e\U0001F600"])
        return unit * (rng.randint(100_000, 1_000_000) // len(unit))
    if r < 0.35:
        return "".join(rng.choice(CONTROL_CHARACTERS + CHARS) for _ in range(rng.randint(1, 200)))
    text = rng.choice(REQUEST_SEEDS)
    if r < 0.6:
        at = rng.randint(0, len(text))
        text = text[:at] + rng.choice(["\x1b]2;FORGED\x07", "\x1b]52;c;cm0gLXJmIH4=\x07", "\x9b2J",
                                       "\x1b[2J\x1b[41mFORGED", "\r\x1b[2K", "\x9d0;t\x9c"]) + text[at:]
    return mutate_text(rng, text)


async def run_tui_input(app, pilot, told: list[str], text: str) -> str:
    """Paste `text` into an empty request box, then type one key: the box must hold at most its
    bound (a cut said so: `told` collects what app.notify was given), and nothing drawn may be a
    control character."""
    from textual import events

    from tests.support.tui_helpers import screen_characters
    from tinyagent.tui.widgets.request import MAX_REQUEST

    box = app.query_one("#ask")
    box.value = ""
    before = len(told)
    box.post_message(events.Paste(text))
    await pilot.pause()
    await pilot.press("z")
    await pilot.pause()
    if len(box.value) > MAX_REQUEST:
        raise FuzzFailure(f"the request box holds {len(box.value):,} characters")
    drawn = screen_characters(app)
    bad = sorted({ch for ch in drawn if ch in CONTROL_CHARACTERS})
    if bad:
        raise FuzzFailure(f"control characters drawn: {bad!r} from {text[:80]!r}")
    line = text.splitlines()[0] if text.splitlines() else ""
    if len(line) >= MAX_REQUEST:
        if len(told) == before:
            raise FuzzFailure(f"a paste of {len(line):,} characters was cut without a word")
        return "refused"  # cut at the bound, and told
    return "ok"


def _no_constants(name: str) -> None:
    raise FuzzFailure(f"JSON output holds {name}")


def run_config_text(text: str) -> str:
    from tinyagent.core.config import ConfigError, parse_config

    try:
        parse_config(text, "config.yaml")
    except ConfigError as exc:
        if len(str(exc)) > 2000:
            raise FuzzFailure(f"a config error message of {len(str(exc))} characters") from None
        return "refused"
    return "ok"


def run_config_file(path: Path, data: bytes) -> str:
    from tinyagent.core.config import ConfigError, load_config

    path.write_bytes(data)
    try:
        load_config(path)
    except ConfigError:
        return "refused"
    return "ok"


def run_wav(path: Path, data: bytes) -> str:
    from tinyagent.core.voice.audio import AudioFileError, read_wav

    path.write_bytes(data)
    try:
        audio = read_wav(path)
    except AudioFileError:
        return "refused"
    if audio.size > 16 * len(data):  # never more audio than the file could describe
        raise FuzzFailure(f"{audio.size} samples out of {len(data)} bytes")
    return "ok"


def run_gguf(path: Path, data: bytes) -> str:
    from tinyagent.core.planner.llm import ModelLoadError, check_gguf

    path.write_bytes(data)
    try:
        check_gguf(path)
    except ModelLoadError:
        return "refused"
    return "ok"


def run_whisper(path: Path, data: bytes, size: int, in_place: bool = False) -> str:
    """A mutated head of a whisper model: written over a whole model already at `path` (in_place),
    or followed by a sparse tail up to `size` bytes."""
    from tinyagent.core.voice.transcribe import ModelFileError, check_whisper_model

    if in_place:
        with path.open("r+b") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
        if size > len(data):
            os.truncate(path, size)
    try:
        check_whisper_model(path)
    except ModelFileError:
        return "refused"
    return "ok"


Runner = Callable[..., str]


# -- history.jsonl and the examples file ------------------------------------------------------------------
HISTORY_SEED = json.dumps({"request": "Text Sid that I'm late", "plan": PLAN_SEEDS[0], "answer": "Sent.",
                           "dry_run": False, "statuses": {"1": "done"}, "outputs": {"1": "+1 555"}, "errors": {},
                           "summary": "1 done", "source": "request", "ts": 1700000000.5, "id": "abc123def456"})
EXAMPLE_QUERY = "Text Sid that I'm running late"


def run_history(path: Path, lines: list[str], request: str) -> str:
    """A fuzzed history.jsonl loads without an exception (bad lines skipped), and an entry appended
    to it with a fuzzed request reads back exactly as written."""
    from tinyagent.core.history import HistoryEntry, HistoryStore

    path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
    store = HistoryStore(path)
    kept = len(store.load())
    entry = HistoryEntry(request=request, plan=request, answer=request, outputs={"1": request})
    store.append(entry)
    after = store.load()
    if not after or after[-1] != entry:
        raise FuzzFailure(f"a history entry does not read back as written: {request[:200]!r}")
    if len(after) < kept:
        raise FuzzFailure("appending an entry lost earlier ones")
    return "ok" if kept == len([line for line in lines if line.strip()]) else "refused"


def run_examples_add(work: Path, query: str, plan_text: str) -> int:
    """`examples add` with a fuzzed request and plan; whatever it saved, `examples list` reads back."""
    from tinyagent.core.toolrag.examples import user_examples_file

    user_examples_file().unlink(missing_ok=True)
    plan_file = work / "example-plan.txt"
    plan_file.write_bytes(plan_text.encode("utf-8", "surrogatepass"))
    code = run_cli(["examples", "add", query, str(plan_file)])
    _examples_list_reads_back(1 if code == 0 else 0)
    return code


def run_examples_import(work: Path, lines: list[str]) -> int:
    """`examples import` of a fuzzed JSONL file; whatever it saved, `examples list` reads back."""
    from tinyagent.core.toolrag.examples import user_examples_file

    user_examples_file().unlink(missing_ok=True)
    data = work / "examples.jsonl"
    data.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
    code = run_cli(["examples", "import", str(data), "--json"])
    saved = json.loads(LAST_OUTPUT[0])["imported"] if code in (0, 1) and LAST_OUTPUT[0].startswith("{") else 0
    _examples_list_reads_back(saved)
    return code


def _examples_list_reads_back(saved: int) -> None:
    if run_cli(["examples", "list", "--json"]) != 0:
        raise FuzzFailure("examples list refuses the file that add/import wrote")
    mine = [e for e in json.loads(LAST_OUTPUT[0]) if e["source"] == "user"]
    if len(mine) != saved:
        raise FuzzFailure(f"{saved} examples saved, {len(mine)} listed")
