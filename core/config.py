"""Settings from `config.yaml` in the platform's config dir; every key optional.

A bad file never half-loads: `ConfigError` names the key and the line, and nothing starts
with a guess. Environment: TINYAGENT_CONFIG points at another file, TINYAGENT_HOME moves
all of the app's dirs (config, data, cache) under one folder (tests use it).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeVar, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

from tinyagent.core.chat_layouts import NAMED_TEMPLATES
from tinyagent.core.planner.profile_names import ProfileName
from tinyagent.core.planner.server_url import ServerURLError, check_env_name, parse_server_url
from tinyagent.tools.registry import APPS, Effect

MAX_CONFIG_BYTES = 1 << 20
MAX_DEPTH = 16  # config.yaml nests two levels; deeper is a mistake (or an attack on the parser)
MAX_NUMBER = 2**31 - 1  # every numeric setting is a count, a size or seconds: never negative or huge
MAX_TIMEOUT = 24 * 3600.0
MAX_BEAM = 8  # whisper.cpp refuses more decoders than this (WHISPER_MAX_DECODERS)
# More threads than this never help on the machines this runs on, and a huge count makes
# llama.cpp / whisper.cpp abort (std::bad_alloc) or stall: refused before they see it.
MAX_THREADS = 256
MCP_SERVER_NAME = re.compile(r"[a-z0-9_]{1,32}")  # it prefixes tool names: short, and a word a plan can carry
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")  # an HTTP token (RFC 9110)
_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map")}


class ConfigError(ValueError):
    def __init__(self, path: Path | str | None, key: str, line: int | None, message: str):
        self.path, self.key, self.line = path, key, line
        where = f"{path}" + (f", line {line}" if line else "")
        super().__init__(f"{where}: {key}: {message}" if path else f"{key}: {message}")


# -- paths -----------------------------------------------------------------------------------
def _dir(kind: str) -> Path:
    home = os.environ.get("TINYAGENT_HOME")
    if home:
        return Path(home) / kind
    import platformdirs

    getter = {"config": platformdirs.user_config_dir, "data": platformdirs.user_data_dir,
              "cache": platformdirs.user_cache_dir}[kind]
    return Path(getter("tinyagent", appauthor=False))


def config_dir() -> Path:
    return _dir("config")


def data_dir() -> Path:
    return _dir("data")


def cache_dir() -> Path:
    return _dir("cache")


def config_path() -> Path:
    return Path(os.environ.get("TINYAGENT_CONFIG") or config_dir() / "config.yaml")


# -- choices ---------------------------------------------------------------------------------
# Each setting's allowed values, written here once: validation (`_validate`), the CLI's
# `choices=` and README's sample (`config_sample`) all read them (typing.get_args).
BackendName = Literal["sandbox", "applescript"]
BackendSetting = Literal["auto", BackendName]
Approval = Literal["ask", "allow", "deny"]
PromptSetting = Literal["auto", ProfileName]
VoiceHint = Literal["commands", "contacts", "none"]
# A chat layout's names are its table's keys (core/chat_layouts.py), not a Literal of their own.
CHAT_TEMPLATE_CHOICES = ("auto", "none", *NAMED_TEMPLATES)

T = TypeVar("T")


def setting(default: T, doc: str = "", *, choices: tuple[str, ...] = ()) -> T:
    """A settings field: `doc` says what it means in README's sample; `choices` lists the values
    of a text setting whose names come from a table (a Literal-typed field needs none)."""
    return field(default=default, metadata={"doc": doc, "choices": choices})


def section(kind: Callable[[], T], doc: str = "") -> T:
    return field(default_factory=kind, metadata={"doc": doc})


# -- sections ----------------------------------------------------------------------------------
@dataclass
class ApprovalConfig:
    """Per effect: ask before running, allow silently, or deny outright."""

    read: Approval = setting("allow", "lookups")
    ui: Approval = setting("ask", "opens an app or a map")
    draft: Approval = setting("ask", "prepares an email you still send")
    send: Approval = setting("ask", "sends a text message")
    write: Approval = setting("ask", "creates or changes notes, events, reminders")
    network: Approval = setting("ask", "calls an online service (Zoom)")
    external: Approval = setting("ask", "runs a tool of an MCP server")

    def for_effect(self, effect: Effect) -> Approval:
        return getattr(self, effect.value)


@dataclass
class TimeoutConfig:
    task: float = setting(30.0, "one tool call")
    applescript: float = setting(20.0, "one osascript")
    plan: float = setting(300.0, "a whole run (approval waits excluded)")


@dataclass
class ModelConfig:
    planner: str = setting("", "GGUF path or model-store name (default: tinyagent-1.1b)")
    whisper: str = setting("", "ggml path or name (default: base.en; where it is missing, a downloaded whisper model)")
    toolrag: str = setting("", "ONNX dir; empty = the built-in MiniLM classifier")


@dataclass
class PlannerConfig:
    threads: int = setting(0, f"0 = all cores; at most {MAX_THREADS}")
    context: int = 6144  # TinyAgent's layout, 16 tools + 6 examples: ~4,300 LLaMA tokens, plus the plan
    max_tokens: int = 768
    temperature: float = 0.0
    max_replans: int = 2
    examples: int = setting(3, "in-context examples; 0-1 make warm requests faster (more prompt reuse)")
    prompt_cache_states: int = 8  # KV states of recent prompts kept to reuse shared beginnings
    prompt_cache_mb: int = 256
    use_extra_bufts: str = setting("auto", "auto: off on CPUs with AMX, where quantized models crash llama.cpp")
    prompt: PromptSetting = setting("auto", 'auto: the model manifest\'s, else by model; see "Prompt layouts"')
    chat_template: str = setting("auto", "auto: the GGUF's own, else the manifest's fallback",
                                 choices=CHAT_TEMPLATE_CHOICES)
    lookup_steps: bool = setting(True, "a name the model wrote where an address, number or path belongs becomes a "
                                       "lookup step of its own (measured: README)")
    anchor_dates: bool = setting(True, "a date the model wrote becomes the one day the request names in words "
                                       "(\"tomorrow\")")
    grammar_kinds: bool = setting(True, "the plan grammar also knows dates, recipients and ints; false: types only")
    # (grammar_kinds measured: README, bench_realmodel)
    gpu_layers: str = setting("auto", "layers offloaded: auto (all where llama.cpp has a GPU backend, else the CPU) | 0 | N")
    server: str = setting("", 'a llama.cpp server\'s URL: plan there (see "Planning on a server")')
    api_key_env: str = setting("", "the environment variable holding that server's bearer token (never the token)")
    adapter: str = setting("", "a LoRA adapter GGUF applied at load instead of the manifest entry's, e.g. one "
                               "train-planner made; empty: the entry's own")


@dataclass
class ToolRAGConfig:
    threshold: float = 0.5
    enabled: bool = True
    # MCP tools are ranked by the built-in encoder's cosine similarity of the request to their
    # name and description (core/toolrag/similarity.py); the default measured there (README).
    mcp_similarity: float = setting(0.75, "an MCP tool this similar to the request (cosine) is offered")
    mcp_max_tools: int = setting(6, "at most this many MCP tools, the most similar, per request")


@dataclass
class VoiceConfig:
    device: str = setting("", "PortAudio device name or index; empty = the system default")
    language: str = "en"
    threads: int = setting(0, f"0 = all cores; at most {MAX_THREADS}")
    max_seconds: float = setting(30.0, "a recording stops after this long")
    silence_seconds: float = setting(0.0, "more than 0: stop after this much trailing silence")
    send_after_transcribe: bool = setting(False, "the app sends what it heard without waiting for you")
    hint: VoiceHint = setting("commands", "what whisper is prompted with; commands: the apps' phrases + your "
                                          "contacts' names, contacts: the names only")
    beam_size: int = setting(5, f"beam search width, 1-{MAX_BEAM}; 1 = greedy (faster, hears less)")


@dataclass
class ZoomConfig:
    token: str = setting("", "OAuth access token; without one the sandbox makes local links, AppleScript needs one")
    api_base: str = "https://api.zoom.us/v2"


@dataclass
class McpServerConfig:
    """One MCP server: a program spoken to over stdin/stdout (command) or a streamable HTTP URL."""

    command: str = ""
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # added to the few variables a server inherits
    cwd: str = ""
    url: str = ""
    headers_env: dict[str, str] = field(default_factory=dict)  # header -> NAME of the variable holding its value
    enabled: bool = True
    trusted: bool = False  # its readOnlyHint tools count as reads
    read_only: list[str] = field(default_factory=list)  # tools the user says only read
    startup_timeout: float = 20.0
    call_timeout: float = 60.0


@dataclass
class McpConfig:
    max_output: int = setting(100_000, "characters of one tool's output kept (the rest cut, and said)")
    servers: dict[str, McpServerConfig] = field(
        default_factory=dict, metadata={"doc": 'name -> command or url, ...; see "MCP servers"'})


@dataclass
class Config:
    backend: BackendSetting = setting("auto", "auto: AppleScript on macOS, sandbox elsewhere")
    apps: list[str] = field(default_factory=lambda: list(APPS),
                            metadata={"doc": "the tools a request may use; [] refuses requests"})
    approval: ApprovalConfig = section(ApprovalConfig, "per effect")
    timeouts: TimeoutConfig = section(TimeoutConfig, "seconds")
    models: ModelConfig = section(ModelConfig)
    planner: PlannerConfig = section(PlannerConfig)
    toolrag: ToolRAGConfig = section(ToolRAGConfig)
    voice: VoiceConfig = section(VoiceConfig)
    zoom: ZoomConfig = section(ZoomConfig)
    mcp: McpConfig = section(McpConfig, "tools of Model Context Protocol servers")
    instructions: str = setting("", "your own words, added to every prompt")
    dry_run: bool = setting(False, "the app starts in dry-run mode: plans are shown, nothing is changed")
    source: str | None = field(default=None, compare=False)  # file it came from

    def resolved_backend(self) -> BackendName:
        if self.backend != "auto":
            return self.backend
        import sys

        return "applescript" if sys.platform == "darwin" else "sandbox"


def choices(section: type, name: str) -> tuple[str, ...]:
    """The values the setting `name` of a section class allows; () where any value of its type does."""
    spec = next(f for f in dataclasses.fields(section) if f.name == name)
    if spec.metadata.get("choices"):
        return tuple(spec.metadata["choices"])
    hint = get_type_hints(section)[name]
    return get_args(hint) if get_origin(hint) is Literal else ()


# -- README's sample ---------------------------------------------------------------------------
COMMENT_COLUMN = 25
_PLAIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}  # plain, these would not be text


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_yaml(k)}: {_yaml(v)}" for k, v in value.items()) + "}"
    text = str(value)
    return text if _PLAIN_WORD.fullmatch(text) and text.lower() not in _YAML_WORDS else json.dumps(text)


def _line(indent: str, key: str, value: str, comment: str) -> str:
    text = f"{indent}{key}:" + (f" {value}" if value else "")
    return text + " " * max(COMMENT_COLUMN - len(text), 2) + "# " + comment if comment else text


def _joined(*parts: str, sep: str) -> str:
    return sep.join(p for p in parts if p)


def config_sample() -> str:
    """config.yaml with every key at its default, its choices and what it means.

    README's "Configuration" shows exactly this text (tests/unit/test_config.py), so a new
    key or choice reaches the README by running this function, not by editing it twice.
    """
    defaults = Config()
    lines = []
    for top in dataclasses.fields(Config):
        if top.name == "source":
            continue
        value, doc = getattr(defaults, top.name), top.metadata.get("doc", "")
        if not dataclasses.is_dataclass(value):
            lines.append(_line("", top.name, _yaml(value), _joined(" | ".join(choices(Config, top.name)), doc, sep="; ")))
            continue
        inner = dataclasses.fields(value)
        if not any(f.metadata.get("doc") for f in inner):  # nothing to say per key: one line
            flow = "{" + ", ".join(f"{f.name}: {_yaml(getattr(value, f.name))}" for f in inner) + "}"
            lines.append(_line("", top.name, flow, doc))
            continue
        each = {choices(type(value), f.name) for f in inner}
        shared = each.pop() if len(each) == 1 else ()  # e.g. approval: every effect takes ask | allow | deny
        lines.append(_line("", top.name, "", _joined(doc, " | ".join(shared), sep=": ")))
        for f in inner:
            own = () if shared else choices(type(value), f.name)
            lines.append(_line("  ", f.name, _yaml(getattr(value, f.name)),
                               _joined(" | ".join(own), f.metadata.get("doc", ""), sep="; ")))
    return "\n".join(lines) + "\n"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _check_value(path: Any, key: str, line: int | None, current: Any, value: Any) -> Any:
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ConfigError(path, key, line, f"expected true or false, got {_shown(value)}")
    elif isinstance(current, int) and not isinstance(current, bool):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, key, line, f"expected a whole number, got {_shown(value)}")
        if not 0 <= value <= MAX_NUMBER:
            raise ConfigError(path, key, line, f"must be between 0 and {MAX_NUMBER}, not {_shown(value)}")
    elif isinstance(current, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, key, line, f"expected a number, got {_shown(value)}")
        if abs(value) > MAX_NUMBER:
            raise ConfigError(path, key, line, f"must be between 0 and {MAX_NUMBER}, not {_shown(value)}")
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise ConfigError(path, key, line, f"expected a number of 0 or more, got {_shown(value)}")
    elif isinstance(current, str):
        if value is None:
            value = ""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ConfigError(path, key, line, f"expected text, got {_shown(value)}")
    elif isinstance(current, list):
        if isinstance(value, list):  # numbers are text here, as in a text setting (`args: [--port, 8080]`)
            value = [str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(path, key, line, f"expected a list of text, got {_shown(value)}")
    elif isinstance(current, dict):
        value = _text_mapping(path, key, line, {} if value is None else value)
    return value


def _text_mapping(path: Any, key: str, line: int | None, value: Any) -> dict[str, str]:
    """A mapping of names to text (a server's `env`, `headers_env`); numbers are text here too."""
    if not isinstance(value, dict):
        raise ConfigError(path, key, line, f"expected a mapping of names to text, got {_shown(value)}")
    out = {}
    for name, text in value.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(path, key, line, f"expected names as keys, got {_shown(name)}")
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            text = str(text)
        if not isinstance(text, str):
            raise ConfigError(path, f"{key}.{name}", line, f"expected text, got {_shown(text)}")
        out[name] = text
    return out


class UnsafeYaml(ValueError):
    """YAML a settings file never needs (aliases, tags, deep nesting), found before it is built."""

    def __init__(self, line: int | None, problem: str):
        super().__init__(problem)
        self.line, self.problem = line, problem


def check_yaml_events(text: str) -> None:
    """Refuse what a settings file never needs before anything is built from it: aliases (a few
    hundred bytes of `*a` expand to gigabytes), nesting deep enough to exhaust the stack, and
    tags such as !!python/object. PyYAML's event parser is not recursive, so this is safe.
    Raises UnsafeYaml; PyYAML's own syntax errors pass through as they are."""
    import yaml

    depth = 0
    for event in yaml.parse(text):
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, yaml.AliasEvent):
            raise UnsafeYaml(line, f"YAML aliases (*{event.anchor}) are not supported; write the value out")
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in _PLAIN_TAGS and not (isinstance(event, yaml.ScalarEvent) and tag == "!"):
            raise UnsafeYaml(line, f"YAML tags like {_shown(tag)[1:-1]} are not allowed")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise UnsafeYaml(line, f"nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _check_events(text: str, path: Any) -> None:
    try:
        check_yaml_events(text)
    except UnsafeYaml as exc:
        raise ConfigError(path, "(syntax)", exc.line, exc.problem) from None


def _apply(obj: Any, node: Any, path: Any, prefix: str) -> dict[str, int]:
    """Set `obj`'s fields from a YAML mapping; returns the line of each key it set."""
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(path, prefix or "(top)", node.start_mark.line + 1, "expected a mapping of keys to values")
    names = {f.name for f in dataclasses.fields(obj) if f.name != "source"}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        full = f"{prefix}.{key}" if prefix else key
        line = lines[key] = key_node.start_mark.line + 1
        if key not in names:
            raise ConfigError(path, _shown(full)[1:-1], line, f"unknown key; known keys here: {', '.join(sorted(names))}")
        current = getattr(obj, key)
        if isinstance(obj, McpConfig) and key == "servers":
            _apply_servers(current, value_node, path, full)
            continue
        if dataclasses.is_dataclass(current):
            if isinstance(value_node, yaml.ScalarNode) and value_node.value in ("", "~", "null"):
                continue
            _apply(current, value_node, path, full)
            continue
        try:
            value = yaml.safe_load(yaml.serialize(value_node))
        except (yaml.YAMLError, ValueError, OverflowError) as exc:  # e.g. an integer of 5,000 digits
            raise ConfigError(path, full, line, f"cannot read the value: {str(exc)[:100]}") from None
        setattr(obj, key, _check_value(path, full, line, current, value))
    return lines


def _apply_servers(servers: dict[str, McpServerConfig], node: Any, path: Any, prefix: str) -> None:
    """`mcp.servers`: each name's settings are read like a section's (unknown keys refused), then
    checked as a whole (`_check_server`), at the line of its name."""
    import yaml

    if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
        return
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(path, prefix, node.start_mark.line + 1, "expected a mapping of server names to their settings")
    for key_node, value_node in node.value:
        name, line = str(key_node.value), key_node.start_mark.line + 1
        full = _shown(f"{prefix}.{name}")[1:-1]
        if not isinstance(key_node, yaml.ScalarNode) or not MCP_SERVER_NAME.fullmatch(name):
            raise ConfigError(path, full, line, "a server's name is 1-32 of a-z, 0-9 and _ (it prefixes its tools' names)")
        if name in servers:
            raise ConfigError(path, full, line, "this server is named twice")
        server, lines = McpServerConfig(), {}
        if not (isinstance(value_node, yaml.ScalarNode) and value_node.value in ("", "~", "null")):
            lines = _apply(server, value_node, path, full)
        _check_server(server, path, full, line, lines)
        servers[name] = server


def _check_server(server: McpServerConfig, path: Any, key: str, line: int, lines: dict[str, int]) -> None:
    """What a server's keys must be together; `lines`: where each key was written."""
    def refuse(field_name: str, message: str) -> NoReturn:
        where = lines.get(field_name.split(".")[0], line)
        raise ConfigError(path, f"{key}.{field_name}" if field_name else key, where, message)

    if bool(server.command) == bool(server.url):
        refuse("", "has both a command and a url; a server is one or the other" if server.command
               else "needs a command (a program that speaks MCP on stdin/stdout) or a url (streamable HTTP)")
    if server.url:
        for name in ("args", "env", "cwd"):
            if getattr(server, name):
                refuse(name, "is for a server started by a command, not one at a url")
        problem = _url_problem(server.url)
        if problem:
            refuse("url", problem)
    elif server.headers_env:
        refuse("headers_env", "is for a server at a url, not one started by a command")
    texts = [("command", server.command), ("cwd", server.cwd), ("url", server.url)]
    texts += [("args", a) for a in server.args] + [(f"env.{k}", f"{k}={v}") for k, v in server.env.items()]
    for name, text in texts:
        if "\0" in text:
            refuse(name, "contains a NUL character")
    if any("=" in k for k in server.env):
        refuse("env", "a variable's name cannot contain '='")
    for header, variable in server.headers_env.items():
        if not _HEADER_NAME.fullmatch(header):
            refuse(f"headers_env.{_shown(header)[1:-1]}", "is not an HTTP header name")
        if not _ENV_NAME.fullmatch(variable):
            refuse(f"headers_env.{header}", f"{_shown(variable)} is not an environment variable's name (letters, digits and _)")
    for name in ("startup_timeout", "call_timeout"):
        if not 0 < getattr(server, name) <= MAX_TIMEOUT:
            refuse(name, f"must be more than 0 and at most {MAX_TIMEOUT:g} seconds")


def _url_problem(url: str) -> str:
    """Why `url` cannot be a server's address ("" when it can)."""
    if len(url) > 2048 or any(ch.isspace() or not ch.isprintable() for ch in url):
        return "a URL is one line without spaces"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number or out of range
    except ValueError as exc:
        return f"{_shown(url)} is not a usable URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"{_shown(url)} must start with http:// or https://"
    if not parts.hostname:
        return f"{_shown(url)} names no host"
    if parts.username or parts.password:
        return "put no credentials in the URL; name the variables holding them in headers_env"
    return ""


def _settings(cfg: Config) -> Iterator[tuple[str, type, str, Any]]:
    """(key as written in the file, section class, field name, value) for every setting."""
    for top in dataclasses.fields(cfg):
        value = getattr(cfg, top.name)
        if dataclasses.is_dataclass(value):
            for inner in dataclasses.fields(value):
                yield f"{top.name}.{inner.name}", type(value), inner.name, getattr(value, inner.name)
        elif top.name != "source":
            yield top.name, Config, top.name, value


def _one_of(options: tuple[str, ...]) -> str:
    return ", ".join(options[:-1]) + " or " + options[-1] if len(options) > 1 else options[0]


def _validate(cfg: Config, path: Any) -> None:
    for key, owner, name, value in _settings(cfg):
        allowed = choices(owner, name)
        if allowed and value not in allowed:
            raise ConfigError(path, key, None, f"must be {_one_of(allowed)}, not {_shown(value)}")
    unknown = [a for a in cfg.apps if a not in APPS]
    if unknown:
        raise ConfigError(path, "apps", None, f"unknown app(s) {_shown(', '.join(unknown))[1:-1]}; apps are {', '.join(APPS)}")
    if not 0.0 < cfg.toolrag.threshold < 1.0:
        raise ConfigError(path, "toolrag.threshold", None, "must be between 0 and 1")
    if not cfg.toolrag.mcp_similarity <= 1.0:  # a cosine; below 0 (by the number check) nothing is similar
        raise ConfigError(path, "toolrag.mcp_similarity", None, "is a cosine similarity: from 0 to 1")
    if cfg.toolrag.mcp_max_tools < 1:  # 0 would silently keep every MCP tool out of every plan
        raise ConfigError(path, "toolrag.mcp_max_tools", None, "must be at least 1")
    for name, threads in (("planner.threads", cfg.planner.threads), ("voice.threads", cfg.voice.threads)):
        if not 0 <= threads <= MAX_THREADS:
            raise ConfigError(path, name, None, f"must be a whole number from 0 (all cores) to {MAX_THREADS}")
    gpu = cfg.planner.gpu_layers.strip()
    if gpu != "auto" and not (gpu.isdigit() and int(gpu) <= MAX_NUMBER):
        raise ConfigError(path, "planner.gpu_layers", None, f"must be auto or a whole number of layers, not {_shown(gpu)}")
    for key, check, value in (("planner.server", parse_server_url, cfg.planner.server),
                              ("planner.api_key_env", check_env_name, cfg.planner.api_key_env)):
        try:
            if value:
                check(value)
        except ServerURLError as exc:
            raise ConfigError(path, key, None, str(exc)) from None
    if cfg.planner.adapter and cfg.planner.server:
        raise ConfigError(path, "planner.adapter", None, "applies to in-process planning; a llama.cpp server "
                                                           "loads its adapter itself (llama-server --lora)")
    if not cfg.voice.max_seconds > 0:  # a recording needs some length (0 is not "no limit")
        raise ConfigError(path, "voice.max_seconds", None, "must be more than 0 seconds")
    if not 1 <= cfg.voice.beam_size <= MAX_BEAM:
        raise ConfigError(path, "voice.beam_size", None, f"must be a whole number from 1 to {MAX_BEAM}")
    if cfg.mcp.max_output < 1:
        raise ConfigError(path, "mcp.max_output", None, "must be at least 1 character")
    for name in ("task", "applescript", "plan"):
        if not 0 < getattr(cfg.timeouts, name) <= MAX_TIMEOUT:
            raise ConfigError(path, f"timeouts.{name}", None, f"must be more than 0 and at most {MAX_TIMEOUT:g} seconds")


def parse_config(text: str, path: Path | str | None = None) -> Config:
    import yaml

    cfg = Config(source=str(path) if path else None)
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(path, "(file)", None, f"is larger than {MAX_CONFIG_BYTES >> 10} KiB")
    try:
        _check_events(text, path)
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(path, "(syntax)", mark.line + 1 if mark else None,
                          str(getattr(exc, "problem", None) or exc)[:300]) from None
    if node is not None:
        _apply(cfg, node, path, "")
    _validate(cfg, path)
    return cfg


def load_config(path: Path | str | None = None) -> Config:
    """The user's config, or the defaults when there is no file."""
    p = Path(path) if path else config_path()
    if not p.exists():
        if path:
            raise ConfigError(p, "(file)", None, "no such file")
        return Config()
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(p, "(file)", None, f"is larger than {MAX_CONFIG_BYTES >> 10} KiB")
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(p, "(file)", None, f"cannot read it: {exc}") from None
    return parse_config(text, p)
