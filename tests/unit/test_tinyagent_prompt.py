"""The tinyagent profile: TinyAgent's planner/joiner texts byte for byte, profile and template choice.

The golden cases in ../shared/golden were rendered by TinyAgent's own code (README there);
the tests skip with a reason when that folder is absent.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest

from tests.conftest import ROOT
from tests.support.grammar_check import grammar_accepts as accepts
from tinyagent.core.config import Config
from tinyagent.core.planner import tinyagent as ta
from tinyagent.core.planner import tinyagent_join as tj
from tinyagent.core.planner.chat import NAMED_TEMPLATES, ChatTemplateError, choose, named
from tinyagent.core.planner.grammar import PLANNER_LIMITS, plan_grammar
from tinyagent.core.planner.llm import LocalLLM
from tinyagent.core.planner.profiles import UNKNOWN_MODEL_PROFILE, ProfileError, PromptSetup, choose_profile, setup_for
from tinyagent.tools.registry import REGISTRY, TOOLS

GOLDEN = ROOT.parent / "shared" / "golden"


def golden(name: str) -> list[dict]:
    path = GOLDEN / name
    if not path.exists():
        pytest.skip(f"golden cases not found at {path}")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def tinyagent(*args, config=None, timeout=300):
    cmd = [sys.executable, "-m", "tinyagent.core.cli"] + (["--config", str(config)] if config else []) + list(args)
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


# -- golden cases, through the command ---------------------------------------------------------
@pytest.mark.parametrize("name", ["planner_prompts.jsonl", "joiner_prompts.jsonl"])
def test_every_golden_case_renders_byte_identical_through_the_command(name):
    cases = golden(name)
    out = tinyagent("prompt", "--cases", str(GOLDEN / name), "--json")
    assert out.returncode == 0, out.stderr
    rendered = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["id"] for r in rendered] == [c["id"] for c in cases]
    for case, got in zip(cases, rendered):
        for key, want in case["expected"].items():
            assert got[key] == want, f"{case['id']}: {key} differs"


def test_golden_set_covers_toolrag_no_toolrag_and_replans():
    cases = golden("planner_prompts.jsonl")
    assert any(c["examples"] is None and not c["is_replan"] for c in cases)
    assert any(c["examples"] is not None for c in cases)
    assert any(c["is_replan"] for c in cases)
    assert any(c["final"] for c in golden("joiner_prompts.jsonl"))


def test_replan_context_is_rebuilt_from_the_previous_plan():
    for case in (c for c in golden("planner_prompts.jsonl") if c["is_replan"]):
        previous = case["previous_plan"]
        steps = [tj.Step(t["id"], t["tool"], tuple(t["args"]), t["observation"], t["thought"])
                 for t in previous["tasks"]]
        assert tj.format_contexts([tj.replan_context(steps, previous["joiner_thought"])]) == case["context"]


def test_bad_case_files_are_refused_with_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "query": "q", "tools": ["no_such_tool"], "now": "2024-01-01 10:00"}\n')
    out = tinyagent("prompt", "--cases", str(bad), "--json")
    assert out.returncode == 2 and "line 1" in out.stderr and "no_such_tool" in out.stderr
    assert "Traceback" not in out.stderr
    bad.write_text("not json\n")
    out = tinyagent("prompt", "--cases", str(bad), "--json")
    assert out.returncode == 2 and "line 1" in out.stderr


# -- the texts themselves ------------------------------------------------------------------------
def test_every_tool_has_tinyagents_description_and_fixed_place():
    assert sorted(ta.T.TOOL_ORDER) == sorted(t.name for t in TOOLS)
    for tool in TOOLS:
        text = ta.T.TOOL_DESCRIPTIONS[tool.name]
        assert text.startswith(f"{tool.name}(") and text.endswith("\n")
        # the registry's argument names are TinyAgent's
        assert all(p.name in text.split("\n")[0] for p in tool.params)


def test_system_prompt_numbers_tools_in_tinyagents_order_and_join_last():
    now = dt.datetime(2024, 6, 3, 9, 0)
    text = ta.system_prompt(["send_sms", "get_phone_number"], now=now, examples=[])
    assert text.startswith("Given a user query") and "from the following 3 types:\n" in text
    assert "1. get_phone_number(name: str) -> str\n" in text and "2. send_sms(" in text and "\n3. join():\n" in text
    assert " - Today's date is Monday 2024-06-03 09:00\n" in text
    assert "Before sending an SMS" in text and "Before sending an email" not in text
    assert text.endswith("Here are some examples:\n\n###\n")  # no examples: the bare separator
    with pytest.raises(ValueError):
        ta.system_prompt(["open_app"], now=now)


def test_user_instructions_are_appended_verbatim():
    now = dt.datetime(2024, 6, 3, 9, 0)
    text = ta.system_prompt(["send_sms"], now=now, examples=[], instructions="Sign as Kim.\nThanks")
    assert " - Sign as Kim.\nThanks\n\nHere are some examples:" in text
    assert ta.system_prompt(["send_sms"], now=now, examples=[], instructions="") == \
        ta.system_prompt(["send_sms"], now=now, examples=[], instructions=None)


def test_stringify_rules_follow_tinyagents_tools():
    assert tj.stringify("send_sms", (["+1 415"], "Hi")) == "send_sms(recipients=['+1 415'], message=Hi)"
    assert tj.stringify("get_email_address", ("Sid",)) == "get_email_address(Sid)"
    assert tj.stringify("reply_to_email", ([], "ok", [])) == "reply_to_email(cc=[], content=ok, attachments=[])"
    assert tj.stringify("create_calendar_event", ("T", "a", "b", "", [], "", None)).endswith("calendar=None)")
    assert tj.stringify("join", ()) == "join()"


def test_joiner_output_is_read_as_tinyagent_reads_it():
    out = tj.parse_joiner("Thought: all done.\nAction: Finish(Sent (twice) to Sarah.)", final=False)
    assert (out.thought, out.answer, out.replan) == ("all done.", "Sent (twice) to Sarah.", False)
    out = tj.parse_joiner("Thought: step 2 failed, fixable.\nAction: Replan", final=False)
    assert out.replan and out.thought == "step 2 failed, fixable."
    assert not tj.parse_joiner("Thought: x\nAction: Replan", final=True).replan  # the last round only finishes


# -- grammars, on llama.cpp's own engine ---------------------------------------------------------


def test_joiner_grammar_gives_exactly_tinyagents_format(vocab_llm):
    grammar = tj.joiner_grammar(final=False)
    assert accepts(vocab_llm, grammar, "Thought: I sent it.\nAction: Finish(Task completed!)")
    assert accepts(vocab_llm, grammar, "Thought: The error is fixable.\nAction: Replan")
    assert not accepts(vocab_llm, grammar, "Thought: I sent it.\nAction: Finish: Task completed!")
    assert not accepts(vocab_llm, grammar, "Action: Finish(no thought)")
    final = tj.joiner_grammar(final=True)
    assert accepts(vocab_llm, final, "Thought: done.\nAction: Finish(Summary)")
    assert not accepts(vocab_llm, final, "Thought: again.\nAction: Replan")


def test_plan_grammar_takes_tinyagents_replan_plans_with_thoughts(vocab_llm):
    tools = [REGISTRY["get_phone_number"], REGISTRY["send_sms"]]
    grammar = plan_grammar(tools, **PLANNER_LIMITS.as_kwargs())
    replan = ("Thought: The error is fixable since I have the get_phone_number tool.\n"
              '1. get_phone_number("Sid")\n2. send_sms(["$1"], "Hi Sid!")\n'
              "Thought: I have succesfully retrieved the phone number and sent the SMS.\n3. join()<END_OF_PLAN>")
    assert accepts(vocab_llm, grammar, replan)
    assert not accepts(vocab_llm, grammar, 'Thought: x\n1. get_contact_info("Sid")\n2. join()<END_OF_PLAN>')


# -- which profile, which template -------------------------------------------------------------
def test_profile_choice(tmp_path):
    assert choose_profile("auto", "TinyAgent-1.1B-Q4_K_M.gguf")[0] == "tinyagent"
    assert choose_profile("auto", "TinyAgent-7B-Q4_K_M.gguf")[0] == "tinyagent"
    assert choose_profile("auto", tmp_path / "TinyAgent-1.1B-Q8_0.gguf")[0] == "tinyagent"
    assert choose_profile("auto", "x.gguf", {"general.name": "TinyAgent 1.1B"})[0] == "tinyagent"
    assert choose_profile("auto", "x.gguf", {"general.name": "tinyagent-test-random"})[0] == UNKNOWN_MODEL_PROFILE
    assert choose_profile("auto", "qwen2.5-coder.gguf")[0] == UNKNOWN_MODEL_PROFILE
    assert choose_profile("compact", "TinyAgent-1.1B-Q4_K_M.gguf")[0] == "compact"
    with pytest.raises(ProfileError):
        choose_profile("fancy")


def test_config_refuses_an_unknown_profile(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("planner:\n  prompt: fancy\n")
    out = tinyagent("prompt", "hi", config=path)
    assert out.returncode == 2 and "planner.prompt" in out.stderr


def test_named_layouts_render_their_exact_bytes():
    alpaca = named("tinyllama-32k-instruct").chat("SYS", "Question: q")
    assert alpaca == "\n### Instruction:\nSYS\n\n### Input:\nQuestion: q\n\n### Response:\n"  # BOS left to llama.cpp
    assert named("vicuna").chat("SYS", "Q") == "SYS USER: Q ASSISTANT:"
    assert named("chatml").chat("S", "U") == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n" \
                                            "<|im_start|>assistant\n"
    with pytest.raises(ChatTemplateError):
        named("nope")
    assert set(NAMED_TEMPLATES) >= {"tinyllama-32k-instruct", "vicuna", "chatml"}


def test_template_choice_order():
    own = "{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}{% endfor %}"
    meta = {"tokenizer.chat_template": own}
    assert choose("auto", metadata=meta, bos_token="<s>", eos_token="</s>", fallback="vicuna").name == "gguf"
    assert choose("auto", metadata={}, bos_token="<s>", eos_token="</s>", fallback="vicuna").name == "vicuna"
    assert choose("auto", metadata={}, bos_token="", eos_token="").plain
    assert choose("none", metadata=meta, bos_token="", eos_token="").plain
    assert choose("chatml", metadata=meta, bos_token="", eos_token="").name == "chatml"


def test_no_double_bos_with_a_template_that_writes_it(tiny_gguf, vocab_file):
    llm = LocalLLM(tiny_gguf, vocab_only=True)
    try:
        text = named("tinyllama-32k-instruct").chat("SYS", "Question: hi")
        tokens = llm.tokenize(text, special=True)
        bos = int(llm.metadata["tokenizer.ggml.bos_token_id"])
        assert tokens[0] == bos and bos not in tokens[1:]
    finally:
        llm.close()


def test_random_gguf_without_a_template_gets_the_manifests_fallback(tiny_gguf, tmp_path):
    named_like_tinyagent = tmp_path / "TinyAgent-1.1B-Q4_K_M.gguf"
    shutil.copy(tiny_gguf, named_like_tinyagent)
    config = tmp_path / "config.yaml"
    config.write_text("backend: sandbox\napps: [contacts, messages]\ntoolrag:\n  enabled: false\n"
                      "planner:\n  max_tokens: 48\n  threads: 1\n  max_replans: 0\n")
    out = tinyagent("plan", "Text Sarah I'm late", "--model", str(named_like_tinyagent), "--show-prompt", "--json",
                    config=config)
    assert out.returncode in (0, 1), out.stderr
    report = json.loads(out.stdout)
    assert report["profile"] == "tinyagent" and "tinyllama-32k-instruct" in report["chat_template"]
    prompt = report["prompt"]
    assert prompt.startswith("\n### Instruction:\nGiven a user query, create a plan")
    assert "\n\n### Input:\nQuestion: Text Sarah I'm late\n\n### Response:\n" in prompt
    assert prompt.endswith("### Response:\n")


def test_real_qwen_gets_its_own_chatml_template(tmp_path):
    from tests.support.realmodels import real_model

    qwen = real_model("qwen2.5-coder-0.5b")
    config = tmp_path / "config.yaml"
    config.write_text("backend: sandbox\napps: [contacts, messages]\ntoolrag:\n  enabled: false\n"
                      "planner:\n  max_tokens: 40\n  max_replans: 0\n  examples: 1\n")
    out = tinyagent("plan", "Text Sarah I'm late", "--model", str(qwen), "--show-prompt", config=config, timeout=600)
    assert out.returncode in (0, 1), out.stderr
    assert "<|im_start|>system\nGiven a user query" in out.stdout
    assert "<|im_start|>user\n" in out.stdout and out.stdout.count("<|im_start|>assistant\n") == 1
    assert "tokenizer.chat_template" in out.stdout
    # The same through `prompt --model`, in either profile.
    out = tinyagent("prompt", "Text Sarah I'm late", "--tools", "get_phone_number,send_sms", "--profile", "tinyagent",
                    "--model", str(qwen), "--json", config=config)
    report = json.loads(out.stdout)
    assert report["chat_template"] == "gguf" and report["prompt"].startswith("<|im_start|>system\n" + report["system"])
    assert report["prompt"].endswith(report["user"] + "<|im_end|>\n<|im_start|>assistant\n")


def test_setup_without_a_model_is_the_plain_profile():
    setup = setup_for(Config(), path="TinyAgent-1.1B-Q4_K_M.gguf")
    assert setup.profile == "tinyagent" and setup.template.plain
    rendered = setup.planner_prompt("q", ["send_sms"], None, now=dt.datetime(2024, 1, 1), instructions=None)
    assert rendered.text == rendered.system + "\n\n" + rendered.user  # TinyAgent's completion-model form
    compact = PromptSetup("compact", "test").planner_prompt("q", ["send_sms"], [], now=dt.datetime(2024, 1, 1),
                                                            instructions=None)
    assert compact.text == compact.system + compact.user


def test_tinyagent_example_block_format():
    ex = [SimpleNamespace(query="Text Ann", plan='1. get_phone_number("Ann")\n2. join()<END_OF_PLAN>')]
    assert ta.example_block(ex) == 'Question: Text Ann\n1. get_phone_number("Ann")\n2. join()<END_OF_PLAN>\n###\n'
    assert ta.example_block([]) == "###\n"
    assert ta.example_block(None) == ta.T.DEFAULT_EXAMPLES
