"""The speech hint: the user's contacts' names as whisper's initial prompt (core.voice.hints)."""

from __future__ import annotations

import types

import pytest

from core.backends import sandbox_db_path
from core.config import Config, ConfigError, parse_config
from core.voice.capture import VoiceUnavailable, restart_portaudio
from core.voice.hints import MAX_NAMES, names_hint, voice_hint
from core.voice.transcribe import Transcriber
from tools.sandbox import SandboxBackend


def test_names_hint_lists_distinct_names_once():
    assert names_hint(["John  Carter", "Sarah Lindqvist", "john carter", " ", ""]) == \
        "Contacts: John Carter, Sarah Lindqvist."
    assert names_hint([]) == ""
    many = names_hint(f"Person {i}" for i in range(100))
    assert many.count(",") == MAX_NAMES - 1 and "Person 39." in many


def test_hint_comes_from_the_sandboxs_contacts():
    config = Config()
    config.backend = "sandbox"
    hint = voice_hint(config)
    assert hint.startswith("Contacts: John Carter, Sarah Lindqvist,") and "Nina Petrov." in hint
    # a contact the user adds is in the next hint
    with SandboxBackend(sandbox_db_path()).store.write() as conn:
        conn.execute("UPDATE contacts SET first_name = 'Zoë' WHERE first_name = 'Nina'")
    assert "Zoë Petrov" in voice_hint(config)
    config.voice.hint = "none"
    assert voice_hint(config) == ""


def test_applescript_backend_gives_no_hint():
    config = Config()
    config.backend = "applescript"
    assert voice_hint(config) == ""


def test_transcriber_from_config_carries_the_hint_to_whisper_cpp():
    config = Config()
    config.backend = "sandbox"
    t = Transcriber.from_config(config)
    assert t.params["initial_prompt"] == t.hint == voice_hint(config) and t.hint_problem is None
    config.voice.hint = "none"
    assert "initial_prompt" not in Transcriber.from_config(config).params


def test_config_refuses_an_unknown_hint():
    assert parse_config("voice: {hint: none}\n").voice.hint == "none"
    with pytest.raises(ConfigError, match="voice.hint"):
        parse_config("voice: {hint: everyone}\n")


def test_portaudio_restart_uses_the_installed_sounddevices_hooks():
    # restart_portaudio is the one place that calls sounddevice's private _terminate and
    # _initialize (there is no public rescan); this fails when a release drops them.
    sounddevice = pytest.importorskip("sounddevice")
    assert callable(sounddevice._terminate) and callable(sounddevice._initialize)
    without = types.ModuleType("sounddevice")
    without.__version__ = "99"
    with pytest.raises(VoiceUnavailable, match=r"sounddevice \(99\) cannot rescan devices"):
        restart_portaudio(without)
