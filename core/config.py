"""Settings from `config.yaml` in the platform's config dir; every key optional.

A bad file never half-loads: `ConfigError` names the key and the line, and nothing starts
with a guess. Environment: TINYAGENT_CONFIG points at another file, TINYAGENT_HOME moves
all of the app's dirs (config, data, cache) under one folder (tests use it).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.planner.chat import NAMED_TEMPLATES
from core.planner.server_url import ServerURLError, check_env_name, parse_server_url
from tools.registry import APPS, Effect

APPROVAL_CHOICES = ("ask", "allow", "deny")
MAX_CONFIG_BYTES = 1 << 20
MAX_DEPTH = 16  # config.yaml nests two levels; deeper is a mistake (or an attack on the parser)
MAX_NUMBER = 2**31 - 1  # every numeric setting is a count, a size or seconds: never negative or huge
MAX_TIMEOUT = 24 * 3600.0
MAX_BEAM = 8  # whisper.cpp refuses more decoders than this (WHISPER_MAX_DECODERS)
# More threads than this never help on the machines this runs on, and a huge count makes
# llama.cpp / whisper.cpp abort (std::bad_alloc) or stall: refused before they see it.
MAX_THREADS = 256
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


# -- sections ----------------------------------------------------------------------------------
@dataclass
class ApprovalConfig:
    """Per effect: ask before running, allow silently, or deny outright."""

    read: str = "allow"
    ui: str = "ask"
    draft: str = "ask"
    send: str = "ask"
    write: str = "ask"
    network: str = "ask"

    def for_effect(self, effect: Effect) -> str:
        return getattr(self, effect.value)


@dataclass
class TimeoutConfig:
    task: float = 30.0  # seconds one tool call may take
    applescript: float = 20.0
    plan: float = 300.0


@dataclass
class ModelConfig:
    planner: str = ""  # GGUF path or model-store name
    whisper: str = ""
    toolrag: str = ""  # ONNX dir; empty = the built-in MiniLM classifier


@dataclass
class PlannerConfig:
    threads: int = 0  # 0 = all cores
    context: int = 6144  # TinyAgent's layout, 16 tools + 6 examples: ~4,300 LLaMA tokens, plus the plan
    max_tokens: int = 768
    temperature: float = 0.0
    max_replans: int = 2
    examples: int = 3  # in-context examples per request; 0-1 reuse more of the cached prompt (faster)
    prompt_cache_states: int = 8  # KV states of recent prompts kept to reuse shared beginnings
    prompt_cache_mb: int = 256
    use_extra_bufts: str = "auto"  # "auto" turns them off on CPUs where they crash (AMX)
    prompt: str = "auto"  # auto (the model manifest's, else by model) | tinyagent | compact | tuned
    chat_template: str = "auto"  # auto (the GGUF's, else the manifest's fallback) | none | a named layout
    grammar_kinds: bool = True  # dates, recipients and ints in their real shapes (measured: README, bench_realmodel)
    gpu_layers: str = "auto"  # layers llama.cpp offloads: auto (all where it has a GPU backend, else 0) | 0 | N
    server: str = ""  # a llama.cpp server's URL: plan there instead of in-process (README "Planning on a server")
    api_key_env: str = ""  # the environment variable holding the server's bearer token (never the token itself)


@dataclass
class ToolRAGConfig:
    threshold: float = 0.5
    enabled: bool = True


@dataclass
class VoiceConfig:
    device: str = ""  # PortAudio device name or index; empty = system default
    language: str = "en"
    threads: int = 0
    max_seconds: float = 30.0
    silence_seconds: float = 0.0  # >0: stop after this much trailing silence
    send_after_transcribe: bool = False
    hint: str = "commands"  # whisper is prompted with: commands = the apps' phrases + contacts' names | contacts | none
    beam_size: int = 5  # whisper's beam search width; 1 = greedy (faster, hears less)


@dataclass
class ZoomConfig:
    token: str = ""  # OAuth access token; empty = links are made up locally (sandbox)
    api_base: str = "https://api.zoom.us/v2"


@dataclass
class Config:
    backend: str = "auto"  # auto (AppleScript on macOS, sandbox elsewhere), sandbox, applescript
    apps: list[str] = field(default_factory=lambda: list(APPS))
    approval: ApprovalConfig = field(default_factory=ApprovalConfig)
    timeouts: TimeoutConfig = field(default_factory=TimeoutConfig)
    models: ModelConfig = field(default_factory=ModelConfig)
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    toolrag: ToolRAGConfig = field(default_factory=ToolRAGConfig)
    voice: VoiceConfig = field(default_factory=VoiceConfig)
    zoom: ZoomConfig = field(default_factory=ZoomConfig)
    instructions: str = ""  # the user's own words, added to every prompt
    dry_run: bool = False
    source: str | None = field(default=None, compare=False)  # file it came from

    def resolved_backend(self) -> str:
        if self.backend != "auto":
            return self.backend
        import sys

        return "applescript" if sys.platform == "darwin" else "sandbox"


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
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(path, key, line, f"expected a list of names, got {_shown(value)}")
    return value


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


def _apply(obj: Any, node: Any, path: Any, prefix: str) -> None:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(path, prefix or "(top)", node.start_mark.line + 1, "expected a mapping of keys to values")
    names = {f.name for f in dataclasses.fields(obj) if f.name != "source"}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        full = f"{prefix}.{key}" if prefix else key
        line = key_node.start_mark.line + 1
        if key not in names:
            raise ConfigError(path, _shown(full)[1:-1], line, f"unknown key; known keys here: {', '.join(sorted(names))}")
        current = getattr(obj, key)
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


def _validate(cfg: Config, path: Any) -> None:
    if cfg.backend not in ("auto", "sandbox", "applescript"):
        raise ConfigError(path, "backend", None, f"must be auto, sandbox or applescript, not {_shown(cfg.backend)}")
    unknown = [a for a in cfg.apps if a not in APPS]
    if unknown:
        raise ConfigError(path, "apps", None, f"unknown app(s) {_shown(', '.join(unknown))[1:-1]}; apps are {', '.join(APPS)}")
    for effect in Effect:
        choice = cfg.approval.for_effect(effect)
        if choice not in APPROVAL_CHOICES:
            raise ConfigError(path, f"approval.{effect.value}", None, f"must be ask, allow or deny, not {_shown(choice)}")
    if not 0.0 < cfg.toolrag.threshold < 1.0:
        raise ConfigError(path, "toolrag.threshold", None, "must be between 0 and 1")
    if cfg.planner.prompt not in ("auto", "tinyagent", "compact", "tuned"):
        raise ConfigError(path, "planner.prompt", None,
                          f"must be auto, tinyagent, compact or tuned, not {cfg.planner.prompt!r}")
    if cfg.voice.hint not in ("commands", "contacts", "none"):
        raise ConfigError(path, "voice.hint", None, f"must be commands, contacts or none, not {_shown(cfg.voice.hint)}")
    for name, threads in (("planner.threads", cfg.planner.threads), ("voice.threads", cfg.voice.threads)):
        if not 0 <= threads <= MAX_THREADS:
            raise ConfigError(path, name, None, f"must be a whole number from 0 (all cores) to {MAX_THREADS}")
    if cfg.planner.chat_template not in ("auto", "none", *NAMED_TEMPLATES):
        raise ConfigError(path, "planner.chat_template", None,
                          f"must be auto, none or one of {', '.join(NAMED_TEMPLATES)}, not {_shown(cfg.planner.chat_template)}")
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
    if not cfg.voice.max_seconds > 0:  # a recording needs some length (0 is not "no limit")
        raise ConfigError(path, "voice.max_seconds", None, "must be more than 0 seconds")
    if not 1 <= cfg.voice.beam_size <= MAX_BEAM:
        raise ConfigError(path, "voice.beam_size", None, f"must be a whole number from 1 to {MAX_BEAM}")
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
