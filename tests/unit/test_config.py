import pytest

from core.config import Config, ConfigError, config_path, load_config, parse_config


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
