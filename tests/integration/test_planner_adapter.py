"""The planner adapter: written in llama.cpp's LoRA format and applied by real llama.cpp, and the
training command run for a few steps on a tiny model made here (torch, transformers, peft)."""

from __future__ import annotations

import dataclasses
import json
import random

import numpy as np
import pytest

from tinyagent.core.planner.llm import LocalLLM
from tinyagent.core.planner.lora_gguf import AdapterError, gguf_tensors, read_adapter, write_adapter
from tinyagent.core.toolrag.data import split_of


def _random_adapter(n_layer: int, n_embd: int, n_ff: int, kv: int, rank: int, *, b_scale: float, seed: int = 1) -> dict:
    """peft-style names and shapes (lora_A [rank, in], lora_B [out, rank]) for a tiny LLaMA."""
    rng = np.random.default_rng(seed)
    shapes = {"self_attn.q_proj": (n_embd, n_embd), "self_attn.k_proj": (kv, n_embd), "self_attn.v_proj": (kv, n_embd),
              "self_attn.o_proj": (n_embd, n_embd), "mlp.gate_proj": (n_ff, n_embd), "mlp.up_proj": (n_ff, n_embd),
              "mlp.down_proj": (n_embd, n_ff)}
    state = {}
    for layer in range(n_layer):
        for module, (out, inp) in shapes.items():
            key = f"base_model.model.model.layers.{layer}.{module}"
            state[f"{key}.lora_A.weight"] = rng.standard_normal((rank, inp)).astype(np.float32)
            state[f"{key}.lora_B.weight"] = (rng.standard_normal((out, rank)) * b_scale).astype(np.float32)
    return state


def _logits(model: LocalLLM, text: str) -> np.ndarray:
    """The next-token logits after `text`, read from llama.cpp's context."""
    import llama_cpp

    llama = model.llama
    llama.reset()
    llama.eval(model.tokenize(text))
    n_vocab = llama_cpp.llama_vocab_n_tokens(model.vocab)
    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llama.ctx, -1), shape=(n_vocab,)).copy()


# tests/conftest.py's tiny_gguf: n_embd 64, 2 layers, 4 heads (2 for K/V), n_ff 128
TINY = dict(n_layer=2, n_embd=64, n_ff=128, kv=32)


def test_adapter_is_applied_by_llama_cpp(tiny_gguf, tmp_path):
    base = LocalLLM(tiny_gguf, n_ctx=256, n_threads=1)
    zero = write_adapter(tmp_path / "zero.gguf", _random_adapter(**TINY, rank=4, b_scale=0.0), alpha=8,
                         architecture="llama")
    live = write_adapter(tmp_path / "live.gguf", _random_adapter(**TINY, rank=4, b_scale=0.5), alpha=8,
                         architecture="llama")
    with_zero = LocalLLM(tiny_gguf, n_ctx=256, n_threads=1, adapter=zero)
    with_live = LocalLLM(tiny_gguf, n_ctx=256, n_threads=1, adapter=live)
    try:
        text = "get the email of Sarah"
        plain = _logits(base, text)
        # B = 0 adds nothing: llama.cpp read every tensor with the shapes it expects
        assert np.allclose(_logits(with_zero, text), plain, atol=1e-3)
        assert not np.allclose(_logits(with_live, text), plain, atol=1e-2)  # a real adapter changes the model
        assert with_live.adapter_path == live and base.adapter_path is None
    finally:
        for m in (base, with_zero, with_live):
            m.close()


def test_adapter_file_says_what_it_is(tmp_path):
    path = write_adapter(tmp_path / "a.gguf", _random_adapter(**TINY, rank=4, b_scale=0.1), alpha=8,
                         architecture="llama", metadata={"tinyagent.profile": "tuned"})
    info = read_adapter(path)
    assert info == {"alpha": 8.0, "architecture": "llama", "rank": 4, "tensors": 2 * 7 * 2, "layers": 2}
    assert not (tmp_path / "a.gguf.part").exists()


def test_adapter_writer_refuses_what_llama_cpp_would_not_read(tmp_path):
    state = _random_adapter(**TINY, rank=4, b_scale=0.1)
    lone = {k: v for k, v in state.items() if "layers.0.self_attn.q_proj.lora_B" not in k}
    with pytest.raises(AdapterError, match="pairs"):
        gguf_tensors(lone)
    with pytest.raises(AdapterError, match="unexpected adapter weight"):
        gguf_tensors({"base_model.model.lm_head.lora_A.weight": np.zeros((4, 64), np.float32)})
    from tests.support.gguf_model import write_random_llama_gguf

    model = write_random_llama_gguf(tmp_path / "model.gguf", vocab_file=None, n_layer=1)
    with pytest.raises(AdapterError, match="not a LoRA adapter"):
        read_adapter(model)  # a whole model is not an adapter


def test_adapters_average_into_one_of_the_asked_rank(tmp_path, capsys):
    from tinyagent.core.cli import main
    from tinyagent.core.planner.lora_gguf import average, peft_state

    one = write_adapter(tmp_path / "one.gguf", _random_adapter(2, 64, 128, 32, 4, b_scale=0.1, seed=1), alpha=8,
                        architecture="llama", f16=False)
    two = write_adapter(tmp_path / "two.gguf", _random_adapter(2, 64, 128, 32, 4, b_scale=0.1, seed=2), alpha=4,
                        architecture="llama", f16=False)
    (_, first), (_, second) = peft_state(one), peft_state(two)

    def change(state: dict, key: str, scale: float) -> np.ndarray:
        return scale * state[key.replace("lora_A", "lora_B")].astype(np.float64) @ state[key]

    key = "base_model.model.model.layers.1.mlp.up_proj.lora_A.weight"
    mean = (change(first, key, 8 / 4) + change(second, key, 4 / 4)) / 2
    alpha, exact = average([one, two], rank=8)  # rank 8 holds both rank-4 changes: exact
    assert alpha == 8.0 and exact[key].shape == (8, 64)
    assert np.allclose(change(exact, key, 1.0), mean, atol=1e-5)
    _, halved = average([one, two], rank=4)  # rank 4: the best rank-4 approximation of the mean
    u, s, vt = np.linalg.svd(mean)
    assert np.allclose(change(halved, key, 1.0), (u[:, :4] * s[:4]) @ vt[:4], atol=1e-5)

    out = tmp_path / "average.gguf"
    assert main(["train-planner", "--average", str(one), str(two), "--rank", "8", "--export", str(out)]) == 0
    assert read_adapter(out)["rank"] == 8 and "wrote" in capsys.readouterr().out
    assert main(["train-planner", "--average", str(one), str(two)]) == 2  # no --export: said, nothing written
    assert "--export" in capsys.readouterr().err
    (tmp_path / "bad.gguf").write_bytes(b"not an adapter")
    assert main(["train-planner", "--average", str(one), str(tmp_path / "bad.gguf"), "--export", str(out)]) == 2
    assert main(["train-planner", "--rank", "8"]) == 2 and "--data" in capsys.readouterr().err


# -- training -----------------------------------------------------------------------------------
def _training_rows(n: int) -> list[dict]:
    """Requests written for this test, with ids that fall in the train split (and a few in val/test)."""
    rows, i = [], 0
    names = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fay"]
    while len(rows) < n:
        i += 1
        row_id = f"t{i:04d}"
        name = names[i % len(names)]
        rows.append({"id": row_id, "query": f"Text {name} that I'm late",
                     "plan": f'1. get_phone_number("{name}")\n2. send_sms(["$1"], "I\'m late")\n3. join()<END_OF_PLAN>\n'})
    return rows


def byte_coder():
    """A PromptCoder over bytes (ids 3..258) for a tiny model: the same rendering, no GGUF needed."""
    from tinyagent.core.planner.finetune import PromptCoder

    def chat(system: str, user: str) -> str:
        return f"<s>{system}\n{user}\n>"

    def tokenize(text: str, bos: bool, special: bool) -> list[int]:
        return ([1] if bos else []) + [3 + b for b in text.encode("utf-8")[-160:]]

    return PromptCoder(chat, tokenize, "")


def _tiny_qwen(seed: int = 0):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(vocab_size=260, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=False)
    return Qwen2ForCausalLM(config)


def test_training_runs_resumes_and_exports(tmp_path):
    pytest.importorskip("peft", reason="the train extra (peft) is not installed")
    from tinyagent.core.planner.finetune import TrainBase, TrainError, TrainSettings, export, train

    data = tmp_path / "plans.jsonl"
    rows = _training_rows(40)
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    train_ids = {r["id"] for r in rows if split_of(r["id"]) == "train"}
    assert len(train_ids) >= 20
    settings = TrainSettings(rank=4, alpha=8, lr=1e-2, epochs=3, batch_tokens=2000, max_batch=8, warmup=1, seed=3,
                             threads=1)
    out = tmp_path / "run"
    lines: list[str] = []
    summary = train(data, TrainBase(tmp_path / "unused.gguf", byte_coder(), _tiny_qwen()), out, settings,
                    save_every=2, max_steps=4, log=lines.append)
    assert summary["steps"] == 4 and summary["train_rows"] == len(train_ids)
    assert any("step 4/4" in line and "ETA" in line for line in lines)  # progress with an ETA
    assert (out / "checkpoint.pt").exists() and "val_loss" in summary

    # The same command again resumes from the checkpoint: nothing is trained twice.
    lines.clear()
    again = train(data, TrainBase(tmp_path / "unused.gguf", byte_coder(), _tiny_qwen()), out, settings,
                  save_every=2, max_steps=6, log=lines.append)
    assert any("resuming at step 4" in line for line in lines)
    assert again["steps"] == 6 and [s for s in lines if s.startswith("step ")][0].startswith("step 5/")
    import torch

    losses = torch.load(out / "checkpoint.pt", weights_only=False)["progress"]["losses"]
    assert len(losses) == 6 and losses[-1] < losses[0]  # it learns the plans

    # Other settings may not continue this run.
    with pytest.raises(TrainError, match="other settings"):
        train(data, TrainBase(tmp_path / "unused.gguf", byte_coder(), _tiny_qwen()), out,
              TrainSettings(rank=8, seed=3), max_steps=7, log=lines.append)

    adapter = export(out, tmp_path / "adapter.gguf", architecture="qwen2")
    info = read_adapter(adapter)
    assert info["rank"] == 4 and info["alpha"] == 8.0 and info["layers"] == 2 and info["tensors"] == 2 * 7 * 2


def _lora_deltas(model) -> dict:
    """{module name: scale * B @ A} of a peft model: what llama.cpp adds to each base weight."""
    out = {}
    for name, module in model.named_modules():
        if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
            a, b = module.lora_A["default"].weight, module.lora_B["default"].weight
            out[name] = (module.scaling["default"] * (b @ a)).detach()
    return out


def test_a_shared_prompt_prefix_runs_once_with_the_same_loss_and_gradients(monkeypatch):
    pytest.importorskip("peft", reason="the train extra (peft) is not installed")
    import torch

    from tinyagent.core.planner import finetune
    from tinyagent.core.planner.finetune import Sample, TrainSettings, batch_loss, shared_prefix, with_lora

    model = with_lora(_tiny_qwen(), TrainSettings(rank=4, alpha=8, dropout=0.0))
    for name, p in model.named_parameters():
        if "lora_B" in name:  # peft starts B at zero; a live adapter shows more
            torch.nn.init.normal_(p, std=0.1)
    gen = torch.Generator().manual_seed(7)

    def ids(n: int) -> list[int]:
        return torch.randint(3, 250, (n,), generator=gen).tolist()

    system = ids(40)
    batch = [Sample(system + ids(k), ids(t)) for k, t in ((5, 9), (8, 4), (3, 12))]
    assert shared_prefix(batch) == 40
    assert shared_prefix([Sample(system, [5]), Sample(system + [9], [5])]) == 39  # a token left to predict from

    def loss_and_grads(min_prefix: int):
        monkeypatch.setattr(finetune, "MIN_SHARED_PREFIX", min_prefix)
        model.zero_grad()
        loss, count = batch_loss(model, batch, 0)
        loss.backward()
        return float(loss.detach()), count, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    shared, n_shared, grads_shared = loss_and_grads(32)
    whole, n_whole, grads_whole = loss_and_grads(10**6)
    assert n_shared == n_whole == 9 + 4 + 12
    assert shared == pytest.approx(whole, rel=1e-5)
    assert grads_shared.keys() == grads_whole.keys() and grads_shared
    for name in grads_whole:
        assert torch.allclose(grads_shared[name], grads_whole[name], atol=1e-6), name


def test_a_run_can_start_from_a_shipped_adapter(tmp_path):
    pytest.importorskip("peft", reason="the train extra (peft) is not installed")
    import torch

    from tinyagent.core.planner.finetune import TrainError, TrainSettings, start_from, with_lora

    first = with_lora(_tiny_qwen(), TrainSettings(rank=4, alpha=8))
    for name, p in first.named_parameters():
        if "lora_" in name:
            torch.nn.init.normal_(p, std=0.1)
    from peft import get_peft_model_state_dict

    adapter = write_adapter(tmp_path / "shipped.gguf", get_peft_model_state_dict(first), alpha=8,
                            architecture="qwen2", f16=False)
    # Another alpha: B is rescaled so that each layer's change to the base weights is the same.
    second = with_lora(_tiny_qwen(), TrainSettings(rank=4, alpha=16))
    start_from(second, adapter, TrainSettings(rank=4, alpha=16))
    before, after = _lora_deltas(first), _lora_deltas(second)
    assert before.keys() == after.keys() and len(before) == 2 * 7
    for name in before:
        assert torch.allclose(before[name], after[name], atol=1e-6), name
    with pytest.raises(TrainError, match="rank"):
        start_from(with_lora(_tiny_qwen(), TrainSettings(rank=8)), adapter, TrainSettings(rank=8))
    (tmp_path / "broken.gguf").write_bytes(b"GGUF not really")
    with pytest.raises(TrainError, match="cannot start from"):
        start_from(second, tmp_path / "broken.gguf", TrainSettings(rank=4, alpha=16))


def test_training_is_seeded(tmp_path):
    pytest.importorskip("peft", reason="the train extra (peft) is not installed")
    from tinyagent.core.planner.finetune import TrainBase, TrainSettings, train

    data = tmp_path / "plans.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _training_rows(30)))
    settings = TrainSettings(rank=4, alpha=8, lr=5e-3, epochs=1, batch_tokens=2000, warmup=1, seed=5, threads=1)
    a = train(data, TrainBase(tmp_path / "x.gguf", byte_coder(), _tiny_qwen()), tmp_path / "a", settings,
              max_steps=2, log=lambda _: None)
    b = train(data, TrainBase(tmp_path / "x.gguf", byte_coder(), _tiny_qwen()), tmp_path / "b", settings,
              max_steps=2, log=lambda _: None)
    assert a["final_loss"] == pytest.approx(b["final_loss"], rel=1e-4)


def test_training_reads_no_held_out_row(tmp_path):
    from tinyagent.core.planner.finetune import load_rows

    data = tmp_path / "plans.jsonl"
    rows = _training_rows(60)
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = {r.id for r in load_rows(data, ("train",))}
    assert got and all(split_of(i) == "train" for i in got)
    assert got == {r["id"] for r in rows if split_of(r["id"]) == "train"}


def test_offered_tools_always_hold_the_plans_own():
    from tinyagent.core.parser import parse_plan
    from tinyagent.core.planner.finetune import TrainSettings, offered_tools

    plan = parse_plan('1. get_email_address("A")\n2. compose_new_email(["$1"], [], "Hi", "hello", [])\n3. join()<END_OF_PLAN>')
    rng = random.Random(0)
    sizes = set()
    for _ in range(200):
        names = {t.name for t in offered_tools(plan, rng, TrainSettings())}
        assert {"get_email_address", "compose_new_email"} <= names
        sizes.add(len(names))
    assert 2 in sizes and 16 in sizes and 4 in sizes  # none extra, every tool, and a couple extra


def test_a_run_is_extended_by_asking_for_more_epochs(tmp_path):
    """Epochs only say how long the run is: a finished run resumes where it stopped when asked for
    more, while a setting that changes what is learned (here the rank) still may not continue it."""
    pytest.importorskip("peft", reason="the train extra (peft) is not installed")
    from tinyagent.core.planner.finetune import TrainBase, TrainError, TrainSettings, train

    data = tmp_path / "plans.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _training_rows(30)))
    short = TrainSettings(rank=4, alpha=8, lr=5e-3, epochs=0.3, batch_tokens=2000, max_batch=2, warmup=1, seed=5,
                          threads=1)
    first = train(data, TrainBase(tmp_path / "x.gguf", byte_coder(), _tiny_qwen()), tmp_path / "run", short,
                  log=lambda _: None)
    lines: list[str] = []
    assert first["steps"] > 0
    longer = train(data, TrainBase(tmp_path / "x.gguf", byte_coder(), _tiny_qwen()), tmp_path / "run",
                   dataclasses.replace(short, epochs=1.0), log=lines.append)
    assert any(f"resuming at step {first['steps']}" in line for line in lines)
    assert longer["steps"] > first["steps"]
    with pytest.raises(TrainError, match="other settings"):
        train(data, TrainBase(tmp_path / "x.gguf", byte_coder(), _tiny_qwen()), tmp_path / "run",
              dataclasses.replace(short, epochs=2.0, rank=8), log=lambda _: None)


def test_prose_is_written_without_the_adapter_and_plans_with_it(tiny_gguf, tmp_path):
    """The planner adapter is switched off for the joiner's and writers' prose and on again for the
    next plan; no KV cell or saved state of one weight set is ever reused by the other."""
    live = write_adapter(tmp_path / "live.gguf", _random_adapter(**TINY, rank=4, b_scale=0.5), alpha=8,
                         architecture="llama")
    base = LocalLLM(tiny_gguf, n_ctx=256, n_threads=1)
    tuned = LocalLLM(tiny_gguf, n_ctx=256, n_threads=1, adapter=live)
    fresh = LocalLLM(tiny_gguf, n_ctx=256, n_threads=1, adapter=live)
    text = "get the email of Sarah and text her that the meeting moved to Friday at noon, " * 2
    try:
        planned = tuned.complete(text, max_tokens=8)
        prose = tuned.complete(text, max_tokens=8, use_adapter=False)
        assert prose.stats and prose.stats.cached_tokens == 0  # the adapted context was not reused
        assert prose.text == base.complete(text, max_tokens=8).text
        again = tuned.complete(text, max_tokens=8)
        assert again.stats and again.stats.restored_tokens > 0  # the plan's own saved state came back
        assert again.text == planned.text == fresh.complete(text, max_tokens=8).text

        # The switch is real: llama.cpp's logits are the base model's while it is off, not after.
        tuned.complete(text, max_tokens=1, use_adapter=False)
        assert np.allclose(_logits(tuned, text), _logits(base, text), atol=1e-3)
        tuned.complete(text, max_tokens=1)
        assert not np.allclose(_logits(tuned, text), _logits(base, text), atol=1e-2)
    finally:
        for m in (base, tuned, fresh):
            m.close()

def test_a_run_trained_in_sittings_keeps_one_schedule(tmp_path):
    """--stop-at ends a sitting after that step; the next sitting resumes the same run: the same
    total steps (so the same learning-rate schedule), unlike --max-steps, which shortens the run."""
    pytest.importorskip("peft", reason="the train extra (peft) is not installed")
    from tinyagent.core.planner.finetune import TrainBase, TrainSettings, train

    data = tmp_path / "plans.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _training_rows(30)))
    settings = TrainSettings(rank=4, alpha=8, lr=5e-3, epochs=1.0, batch_tokens=2000, max_batch=2, warmup=1, seed=5,
                             threads=1)
    sittings: list[list[str]] = [[], []]
    first = train(data, TrainBase(tmp_path / "x.gguf", byte_coder(), _tiny_qwen()), tmp_path / "run", settings,
                  stop_at=2, log=sittings[0].append)
    whole = train(data, TrainBase(tmp_path / "x.gguf", byte_coder(), _tiny_qwen()), tmp_path / "run", settings,
                  log=sittings[1].append)
    total = whole["steps"]
    assert first["steps"] == 2 and total > 3
    assert [line.split()[1] for line in sittings[0] if line.startswith("step ")] == [f"1/{total}", f"2/{total}"]
    assert any(f"resuming at step 2 of {total}" in line for line in sittings[1])


class _AdaptedScript(LocalLLM):
    """A real llama.cpp instance with a real adapter whose generations are scripted; it records
    whether the adapter was on for each (the switch happens on the worker before generating)."""

    def __init__(self, path, adapter, texts):
        super().__init__(path, n_ctx=1024, n_threads=1, adapter=adapter)
        self.texts, self.calls = list(texts), []

    def _generate(self, prompt, **kwargs):
        self.calls.append((prompt, self._adapter_on))
        yield self.texts.pop(0)


async def test_the_pipeline_plans_with_the_adapter_and_answers_without_it(tiny_gguf, tmp_path):
    """The planner adapter was trained on plans only: the joiner's prose comes from the base model."""
    from tinyagent.core.config import Config
    from tinyagent.core.pipeline import Pipeline

    live = write_adapter(tmp_path / "live.gguf", _random_adapter(**TINY, rank=4, b_scale=0.5), alpha=8,
                         architecture="llama")
    llm = _AdaptedScript(tiny_gguf, live, ['1. get_phone_number("Sarah")\n2. join()<END_OF_PLAN>',
                                           "Thought: I have it.\nAction: Finish: Sarah's number is +1 415 555 0102."])
    config = Config(backend="sandbox")
    config.toolrag.enabled = False
    config.planner.prompt = "compact"
    config.planner.chat_template = "none"
    try:
        result = await Pipeline(config, llm=llm).ask("What is Sarah's phone number?", emit=lambda _: None, yes=True)
    finally:
        llm.close()
    assert result.joins == 1 and result.answer == "Sarah's number is +1 415 555 0102."
    assert [on for _, on in llm.calls] == [True, False]  # the plan with the adapter, the answer without


def test_a_configured_adapter_is_loaded_and_chooses_the_profile_it_was_trained_on(tiny_gguf, tmp_path):
    """planner.adapter (`--adapter`): the user's adapter replaces the manifest entry's, and its
    `tinyagent.profile` (train-planner writes it) picks the prompt profile under `auto`."""
    from tinyagent.core.config import Config
    from tinyagent.core.planner.profiles import setup_for
    from tinyagent.core.planner_model import load_planner

    mine = write_adapter(tmp_path / "mine.gguf", _random_adapter(**TINY, rank=4, b_scale=0.5), alpha=8,
                         architecture="llama", metadata={"tinyagent.profile": "tuned"})
    plain = write_adapter(tmp_path / "plain.gguf", _random_adapter(**TINY, rank=4, b_scale=0.5), alpha=8,
                          architecture="llama")
    config = Config()
    config.planner.adapter = str(mine)
    llm = load_planner(config, tiny_gguf)
    try:
        assert llm.adapter_path == mine
        setup = setup_for(config, path=tiny_gguf, model=llm)
        assert setup.profile == "tuned" and "mine.gguf" in setup.why
        config.planner.prompt = "compact"  # a profile set on purpose wins
        assert setup_for(config, path=tiny_gguf, model=llm).profile == "compact"
    finally:
        llm.close()
    config = Config()
    config.planner.adapter = str(plain)  # no profile in its metadata: the unknown models' default
    llm = load_planner(config, tiny_gguf)
    try:
        assert llm.adapter_path == plain and setup_for(config, path=tiny_gguf, model=llm).profile != "tuned"
    finally:
        llm.close()


def test_a_configured_adapter_that_is_missing_or_for_a_server_is_one_clear_line(tiny_gguf, tmp_path, capsys):
    from tinyagent.core.cli import main
    from tinyagent.core.config import ConfigError, load_config

    data = tmp_path / "one.jsonl"
    data.write_text(json.dumps({"id": "a", "query": "Text Sam hi", "plan": "1. join()<END_OF_PLAN>\n"}) + "\n")
    assert main(["eval", str(data), "--model", str(tiny_gguf), "--adapter", str(tmp_path / "nope.gguf")]) == 2
    err = capsys.readouterr().err
    assert "nope.gguf" in err and "not found" in err, err
    cfg = tmp_path / "config.yaml"
    cfg.write_text("planner:\n  adapter: mine.gguf\n  server: http://127.0.0.1:8080\n")
    with pytest.raises(ConfigError, match="planner.adapter"):
        load_config(cfg)


def test_graph_weight_weighs_the_tokens_that_decide_the_graph():
    pytest.importorskip("peft", reason="the train extra (peft) is not installed")
    import torch

    from tinyagent.core.parser import parse_plan
    from tinyagent.core.planner.finetune import Row, Sample, TrainSettings, batch_loss, with_lora

    coder = byte_coder()
    coder.piece = lambda t: bytes([t - 3])  # the byte coder's ids are bytes + 3
    plan = parse_plan('1. get_phone_number("Ana")\n2. send_sms(["$1"], "late")\n3. join()<END_OF_PLAN>')
    row = Row("t1", "Text Ana that I'm late", plan)
    plain = coder.sample(row, random.Random(0), TrainSettings())
    heavy = coder.sample(row, random.Random(0), TrainSettings(graph_weight=4.0))
    assert plain.weights == () and heavy.target == plain.target
    marked = bytes(t - 3 for t, w in zip(heavy.target, heavy.weights) if w == 4.0)
    assert marked == b"get_phone_numbersend_sms$1join"  # tool names and the reference, nothing else

    model = with_lora(_tiny_qwen(), TrainSettings(rank=4, alpha=8, dropout=0.0))
    model.eval()
    with torch.no_grad():
        base, n = batch_loss(model, [plain], 0)
        same, _ = batch_loss(model, [Sample(plain.prompt, plain.target, (1.0,) * n)], 0)
        weighted, _ = batch_loss(model, [heavy], 0)
        unweighted, _ = batch_loss(model, [heavy], 0, weighted=False)  # what validation reports
        seq = torch.tensor([heavy.prompt + heavy.target])
        logits = model(input_ids=seq).logits[0, len(heavy.prompt) - 1:-1]
        each = torch.nn.functional.cross_entropy(logits.float(), torch.tensor(heavy.target), reduction="none")
        w = torch.tensor(heavy.weights)
    assert float(same) == pytest.approx(float(base), rel=1e-6)
    assert float(unweighted) == pytest.approx(float(base), rel=1e-6)
    assert float(weighted) == pytest.approx(float((each * w).sum() / w.sum()), rel=1e-5)
    assert float(weighted) != pytest.approx(float(base), rel=1e-4)
    # Settings that leave the weight at 1 keep the fingerprint of runs made before it existed.
    assert TrainSettings(graph_weight=1.0).fingerprint() == TrainSettings().fingerprint()
    assert TrainSettings(graph_weight=4.0).fingerprint() != TrainSettings().fingerprint()


def test_neftune_noise_is_bounded_seeded_and_resumes_as_it_was(tmp_path):
    pytest.importorskip("peft", reason="the train extra (peft) is not installed")
    import torch

    from tinyagent.core.planner.finetune import Sample, TrainBase, TrainSettings, batch_loss, embedding_noise, train, with_lora

    def gen(seed: int) -> torch.Generator:
        return torch.Generator().manual_seed(seed)

    noise = embedding_noise((2, 10, 32), 10, 5.0, gen(1))
    bound = 5.0 / (10 * 32) ** 0.5
    assert float(noise.abs().max()) <= bound and float(noise.abs().max()) > bound / 2
    assert torch.equal(noise, embedding_noise((2, 10, 32), 10, 5.0, gen(1)))
    assert not torch.equal(noise, embedding_noise((2, 10, 32), 10, 5.0, gen(2)))

    model = with_lora(_tiny_qwen(), TrainSettings(rank=4, alpha=8, dropout=0.0))
    batch = [Sample(list(range(3, 60)), list(range(60, 70))), Sample(list(range(3, 50)), list(range(80, 95)))]
    with torch.no_grad():
        clean, _ = batch_loss(model, batch, 0)
        noisy, _ = batch_loss(model, batch, 0, noise=5.0, generator=gen(1))
        again, _ = batch_loss(model, batch, 0, noise=5.0, generator=gen(1))
    assert float(noisy) == float(again) and float(noisy) != pytest.approx(float(clean), rel=1e-4)
    assert TrainSettings(neftune=5.0).fingerprint() != TrainSettings().fingerprint()

    # Each step's noise comes from the seed and the step: a run resumed half-way ends as one never stopped.
    data = tmp_path / "plans.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _training_rows(30)))
    settings = TrainSettings(rank=4, alpha=8, lr=5e-3, epochs=1, batch_tokens=2000, warmup=1, seed=5, threads=1,
                             dropout=0.0, neftune=5.0)

    def run(out: str, *stops: int) -> list[float]:
        for stop in stops:
            train(data, TrainBase(tmp_path / "x.gguf", byte_coder(), _tiny_qwen()), tmp_path / out, settings,
                  max_steps=3, stop_at=stop, log=lambda _: None)
        return torch.load(tmp_path / out / "checkpoint.pt", weights_only=False)["progress"]["losses"]

    whole, resumed = run("whole", 3), run("halves", 1, 3)
    assert len(whole) == 3 and whole == pytest.approx(resumed, rel=1e-4)


def test_just_in_time_order_trains_each_step_right_before_the_first_that_needs_it():
    from tinyagent.core.parser import parse_plan
    from tinyagent.core.planner.finetune import Row, TrainError, TrainSettings

    coder = byte_coder()
    written = ('1. get_phone_number("Ana")\n2. open_note("Trip", "")\n3. send_sms(["$1"], "late")\n'
               '4. join()<END_OF_PLAN>')
    row = Row("t1", "Open my Trip note and text Ana that I'm late", parse_plan(written))
    as_written = coder.sample(row, random.Random(0), TrainSettings())
    moved = coder.sample(row, random.Random(0), TrainSettings(order="just-in-time"))
    text = lambda s: bytes(t - 3 for t in s.target).decode()  # noqa: E731 (the byte coder's ids are bytes + 3)
    assert text(as_written) == written
    assert text(moved) == ('1. open_note("Trip", "")\n2. get_phone_number("Ana")\n3. send_sms(["$2"], "late")\n'
                           '4. join()<END_OF_PLAN>')
    assert moved.prompt == as_written.prompt  # the model reads the same; only what it writes moves
    # In the request's order the note, asked for first, comes first whatever the reference wrote.
    late = Row("t2", row.query, parse_plan('1. get_phone_number("Ana")\n2. send_sms(["$1"], "late")\n'
                                           '3. open_note("Trip", "")\n4. join()<END_OF_PLAN>'))
    asked = coder.sample(late, random.Random(0), TrainSettings(order="request"))
    assert text(asked) == text(moved) and asked.prompt == as_written.prompt
    assert text(coder.sample(late, random.Random(0), TrainSettings(order="just-in-time"))) != text(moved)
    assert len({TrainSettings(order=o).fingerprint() for o in ("written", "just-in-time", "request")}) == 3
    assert TrainSettings(order="written").fingerprint() == TrainSettings().fingerprint()
    assert TrainSettings(order="just-in-time").fingerprint() != TrainSettings().fingerprint()
    with pytest.raises(TrainError, match="--order"):
        TrainSettings(order="shuffled")
