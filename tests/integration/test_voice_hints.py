"""The speech hint: how the apps are asked for and the user's contacts' names, as whisper's
initial prompt (core.voice.hints); and the decoding settings that go with it."""

from __future__ import annotations

import types

import pytest

from tinyagent.core.backends import sandbox_db_path
from tinyagent.core.config import Config, ConfigError, parse_config
from tinyagent.core.voice.capture import VoiceUnavailable, restart_portaudio
from tinyagent.core.voice.hints import APP_PHRASES, MAX_NAMES, commands_hint, names_hint, voice_hint
from tinyagent.core.voice.transcribe import Transcriber
from tinyagent.tools.registry import APPS
from tinyagent.tools.sandbox import SandboxBackend


def test_names_hint_lists_distinct_names_once():
    assert names_hint(["John  Carter", "Sarah Lindqvist", "john carter", " ", ""]) == \
        "Contacts: John Carter, Sarah Lindqvist."
    assert names_hint([]) == ""
    many = names_hint(f"Person {i}" for i in range(100))
    assert many.count(",") == MAX_NAMES - 1 and "Person 39." in many


def test_hint_comes_from_the_sandboxs_contacts():
    config = Config()
    config.backend = "sandbox"
    config.voice.hint = "contacts"
    hint = voice_hint(config)
    assert hint.startswith("Contacts: John Carter, Sarah Lindqvist,") and "Nina Petrov." in hint
    # a contact the user adds is in the next hint
    with SandboxBackend(sandbox_db_path()).store.write() as conn:
        conn.execute("UPDATE contacts SET first_name = 'Zoë' WHERE first_name = 'Nina'")
    assert "Zoë Petrov" in voice_hint(config)
    config.voice.hint = "none"
    assert voice_hint(config) == ""


def test_default_hint_is_the_enabled_apps_phrases_then_the_names():
    config = Config()
    config.backend = "sandbox"
    assert config.voice.hint == "commands"
    hint = voice_hint(config)
    assert hint.startswith("Send a text. Send an email. Reply to the email.")
    assert hint.index("Start a Zoom meeting.") < hint.index("Contacts: John Carter,") and hint.endswith("Nina Petrov.")
    config.apps = ["notes", "contacts"]  # a disabled app's words are not suggested
    assert voice_hint(config).startswith("Create a note. Open the note. Contacts: John Carter,")
    assert "email" not in voice_hint(config).split("Contacts:")[0]


def test_every_phrase_belongs_to_an_app():
    assert set(APP_PHRASES) <= set(APPS)
    assert commands_hint([]) == "" and commands_hint(None).count(".") == sum(map(len, APP_PHRASES.values()))


def test_applescript_backend_gives_no_names():
    config = Config()
    config.backend = "applescript"
    config.voice.hint = "contacts"
    assert voice_hint(config) == ""
    config.voice.hint = "commands"
    assert voice_hint(config) == commands_hint(config.apps)


def test_transcriber_from_config_carries_the_hint_to_whisper_cpp():
    config = Config()
    config.backend = "sandbox"
    t = Transcriber.from_config(config)
    assert t.params["initial_prompt"] == t.hint == voice_hint(config) and t.hint_problem is None
    config.voice.hint = "none"
    assert "initial_prompt" not in Transcriber.from_config(config).params


def test_beam_size_reaches_whisper_cpp_and_makes_each_call_fresh():
    config = Config()
    t = Transcriber.from_config(config)
    assert config.voice.beam_size == 5 and t.params["beam_search"]["beam_size"] == 5
    assert t.params["params_sampling_strategy"] == 1 and t.draws_random
    config.voice.beam_size = 1
    greedy = Transcriber.from_config(config, temperature_inc=0.0)
    assert "beam_search" not in greedy.params and not greedy.draws_random
    assert Transcriber.from_config(config).draws_random  # temperature fallback draws too


def test_config_refuses_an_unknown_hint_or_beam():
    assert parse_config("voice: {hint: none}\n").voice.hint == "none"
    with pytest.raises(ConfigError, match="voice.hint"):
        parse_config("voice: {hint: everyone}\n")
    assert parse_config("voice: {beam_size: 1}\n").voice.beam_size == 1
    for bad in ("0", "9", "2.5", "wide"):
        with pytest.raises(ConfigError, match="voice.beam_size"):
            parse_config(f"voice: {{beam_size: {bad}}}\n")


def test_portaudio_restart_uses_the_installed_sounddevices_hooks():
    # restart_portaudio is the one place that calls sounddevice's private _terminate and
    # _initialize (there is no public rescan); this fails when a release drops them.
    sounddevice = pytest.importorskip("sounddevice")
    assert callable(sounddevice._terminate) and callable(sounddevice._initialize)
    without = types.ModuleType("sounddevice")
    without.__version__ = "99"
    with pytest.raises(VoiceUnavailable, match=r"sounddevice \(99\) cannot rescan devices"):
        restart_portaudio(without)
