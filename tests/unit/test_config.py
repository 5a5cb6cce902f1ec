import argparse
import dataclasses
from pathlib import Path
from typing import get_args

import pytest

from tinyagent.core.chat_layouts import NAMED_TEMPLATES
from tinyagent.core.config import (
    ApprovalConfig,
    BackendName,
    Config,
    ConfigError,
    PlannerConfig,
    ProfileName,
    PromptSetting,
    VoiceConfig,
    VoiceHint,
    choices,
    config_path,
    config_sample,
    load_config,
    parse_config,
)


def test_defaults_without_a_file():
    cfg = load_config()
    assert cfg == Config()
    assert cfg.approval.read == "allow" and cfg.approval.send == "ask"


def test_a_full_file_is_read(tmp_path):
    text = """
backend: sandbox
apps: [contacts, mail]
approval:
  send: deny
  ui: allow
timeouts: {task: 5}
models:
  planner: /models/tinyagent.gguf
toolrag: {threshold: 0.4}
instructions: Always sign emails as Sam.
"""
    cfg = parse_config(text, "c.yaml")
    assert cfg.backend == "sandbox" and cfg.apps == ["contacts", "mail"]
    assert cfg.approval.send == "deny" and cfg.approval.ui == "allow" and cfg.approval.write == "ask"
    assert cfg.timeouts.task == 5.0 and cfg.models.planner == "/models/tinyagent.gguf"
    assert cfg.toolrag.threshold == 0.4
    assert cfg.instructions.startswith("Always")


@pytest.mark.parametrize(
    "text, key, line",
    [
        ("backend: sandbox\napprovals:\n  send: deny\n", "approvals", 2),
        ("approval:\n  send: maybe\n", "approval.send", None),
        ("timeouts:\n  task: soon\n", "timeouts.task", 2),
        ("apps: [contacts, fax]\n", "apps", None),
        ("planner:\n  threads: 2.5\n", "planner.threads", 2),
        ("voice: [1, 2]\n", "voice", 1),
        ("backend: [\n", "(syntax)", 2),
        ("toolrag:\n  threshold: 1.5\n", "toolrag.threshold", None),
    ],
)
def test_bad_config_names_the_key_and_line(text, key, line):
    with pytest.raises(ConfigError) as info:
        parse_config(text, "config.yaml")
    assert info.value.key == key
    if line:
        assert info.value.line == line
        assert f"line {line}" in str(info.value)


def test_config_file_location_follows_the_app_home(isolated_home, tmp_path):
    path = config_path()
    assert str(path).startswith(str(isolated_home))
    path.parent.mkdir(parents=True)
    path.write_text("dry_run: true\n")
    assert load_config().dry_run is True


def test_unreadable_config_is_a_clear_error(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(bad)


# -- every choice written once: the types are the source, README and the CLI follow --------------
README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_sample() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("```yaml\n", text.index("## Configuration")) + len("```yaml\n")
    return text[start:text.index("```", start)]


def test_readme_config_sample_is_the_one_the_config_types_write():
    assert _readme_sample() == config_sample(), (
        "README's config sample and core/config.py disagree: paste the output of "
        "python -c 'from tinyagent.core.config import config_sample; print(config_sample(), end=\"\")' into README")


def test_the_sample_is_every_key_at_its_default():
    assert parse_config(config_sample(), "sample.yaml") == Config()
    keys = {line.split(":")[0].strip() for line in config_sample().splitlines()}
    for f in dataclasses.fields(Config):
        assert f.name in keys or f.name == "source"
        section = getattr(Config(), f.name)
        if dataclasses.is_dataclass(section) and f.name != "toolrag":  # toolrag's keys share one line
            assert {g.name for g in dataclasses.fields(section)} <= keys


@pytest.mark.parametrize("section, name, expected", [
    (Config, "backend", ("auto", "sandbox", "applescript")),
    (ApprovalConfig, "send", ("ask", "allow", "deny")),
    (PlannerConfig, "prompt", ("auto", "tinyagent", "compact", "tuned")),
    (PlannerConfig, "chat_template", ("auto", "none", *NAMED_TEMPLATES)),
    (VoiceConfig, "hint", ("commands", "contacts", "none")),
    (PlannerConfig, "gpu_layers", ()),
])
def test_choices_come_from_the_types(section, name, expected):
    assert choices(section, name) == expected


@pytest.mark.parametrize("section, key", [
    (Config, "backend"), (ApprovalConfig, "approval.network"), (PlannerConfig, "planner.prompt"),
    (PlannerConfig, "planner.chat_template"), (VoiceConfig, "voice.hint"),
])
def test_every_choice_is_accepted_and_nothing_else(section, key):
    top, _, name = key.rpartition(".")
    allowed = choices(section, name)
    for value in allowed:
        cfg = parse_config(f"{top}:\n  {name}: {value}\n" if top else f"{name}: {value}\n")
        assert getattr(getattr(cfg, top) if top else cfg, name) == value
    with pytest.raises(ConfigError) as info:
        parse_config(f"{top}:\n  {name}: nope\n" if top else f"{name}: nope\n", "config.yaml")
    assert info.value.key == key
    assert str(info.value).endswith(f"must be {', '.join(allowed[:-1])} or {allowed[-1]}, not 'nope'")


def test_the_profile_choice_is_the_profile_table():
    from tinyagent.core.planner.profiles import PROFILES

    assert set(get_args(ProfileName)) == set(PROFILES)
    assert get_args(PromptSetting) == ("auto", *get_args(ProfileName))


def test_the_cli_offers_the_configs_choices():
    from tinyagent.core.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    offered: dict[str, set] = {}
    for command in commands.choices.values():
        for arg in command._actions:
            if arg.choices and arg.dest in ("backend", "profile", "hint"):
                offered.setdefault(arg.dest, set()).add(tuple(arg.choices))
    assert offered["backend"] == {get_args(BackendName)}
    assert offered["hint"] == {get_args(VoiceHint)}
    assert get_args(PromptSetting) in offered["profile"]
