"""A bounded share of the fuzz suite (the full run is bench/bench_fuzz.py, >= 100,000 inputs).

Parser and check-plans (hypothesis + mutated shared plans), configs, WAV headers, model files:
no input may raise anything but the documented clean error, print JSON that does not parse,
or leave the documented exit codes.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import PLANS_FILE
from tests.support.fuzzing import (
    CONFIG_SEED,
    PLAN_SEEDS,
    WAV_SEEDS,
    YAML_TOKENS,
    mutate_bytes,
    mutate_config_values,
    mutate_text,
    run_cli,
    run_config_file,
    run_config_text,
    run_gguf,
    run_plan_text,
    run_wav,
    run_whisper,
    shared_plan_texts,
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.text(max_size=400))
def test_parser_on_any_text(text):
    run_plan_text(text)


@FUZZ
@given(st.sampled_from(PLAN_SEEDS), st.randoms(use_true_random=False))
def test_parser_on_mutated_seed_plans(seed, rng):
    run_plan_text(mutate_text(rng, seed))


def test_parser_on_mutated_shared_plans():
    plans = shared_plan_texts(PLANS_FILE)
    if not plans:
        pytest.skip(f"shared data not found at {PLANS_FILE}")
    rng = random.Random(10)
    outcomes = [run_plan_text(mutate_text(rng, rng.choice(plans))) for _ in range(600)]
    assert "refused" in outcomes and "ok" in outcomes  # the mutations reach both sides


def test_check_plans_on_mutated_jsonl(tmp_path):
    rng = random.Random(11)
    plans = shared_plan_texts(PLANS_FILE)[:200] or PLAN_SEEDS
    codes = set()
    for round_ in range(6):
        lines = []
        for i in range(25):
            line = json.dumps({"id": f"r{round_}-{i}", "plan": mutate_text(rng, rng.choice(plans))})
            lines.append(mutate_text(rng, line, ops=1) if rng.random() < 0.3 else line)
        path = tmp_path / f"d{round_}.jsonl"
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
        codes.add(run_cli(["check-plans", str(path), "--json"]))
    assert codes <= {0, 1, 2}


def test_run_plan_cli_on_mutated_plans(tmp_path):
    rng = random.Random(12)
    codes = set()
    for i in range(30):
        path = tmp_path / f"p{i}.txt"
        path.write_bytes(mutate_text(rng, rng.choice(PLAN_SEEDS)).encode("utf-8", "surrogatepass"))
        codes.add(run_cli(["run-plan", str(path), "--dry-run", "--strict", "--json"]))
    assert 2 in codes and codes <= {0, 1, 2}


@FUZZ
@given(st.randoms(use_true_random=False))
def test_configs_mutated(rng):
    run_config_text(mutate_text(rng, CONFIG_SEED, YAML_TOKENS))


@FUZZ
@given(st.randoms(use_true_random=False))
def test_configs_with_odd_values(rng):
    run_config_text(mutate_config_values(rng, CONFIG_SEED))


@FUZZ
@given(st.text(max_size=300))
def test_configs_any_text(text):
    run_config_text(text)


@FUZZ
@given(st.binary(max_size=300))
def test_config_files_any_bytes(tmp_path_factory, data):
    run_config_file(tmp_path_factory.mktemp("cfg") / "config.yaml", data)


@FUZZ
@given(st.sampled_from(WAV_SEEDS), st.randoms(use_true_random=False))
def test_wav_headers_mutated(tmp_path_factory, seed, rng):
    run_wav(tmp_path_factory.mktemp("wav") / "x.wav", mutate_bytes(rng, seed, hot=64))


@FUZZ
@given(st.binary(max_size=200))
def test_wav_any_bytes(tmp_path_factory, data):
    run_wav(tmp_path_factory.mktemp("wav") / "x.wav", b"RIFF\x00\x00\x00\x00WAVE" + data)


@pytest.fixture(scope="module")
def small_gguf(tmp_path_factory):
    from tests.support.gguf_model import write_random_llama_gguf

    return write_random_llama_gguf(tmp_path_factory.mktemp("g") / "small.gguf", vocab_file=None,
                                   n_embd=32, n_layer=1, n_head=2, n_head_kv=1, n_ff=32).read_bytes()


def test_gguf_files_mutated(tmp_path, small_gguf):
    rng = random.Random(13)
    outcomes = [run_gguf(tmp_path / "m.gguf", mutate_bytes(rng, small_gguf, hot=8192)) for _ in range(150)]
    assert "refused" in outcomes
    assert run_gguf(tmp_path / "ok.gguf", small_gguf) == "ok"


def test_whisper_files_mutated(tmp_path):
    from tests.support.whisper_model import write_random_whisper_model

    whole = write_random_whisper_model(tmp_path / "w.bin").read_bytes()
    head = whole[:65536]
    rng = random.Random(14)
    outcomes = [run_whisper(tmp_path / "m.bin", mutate_bytes(rng, head, hot=4096), len(whole)) for _ in range(100)]
    assert "refused" in outcomes
