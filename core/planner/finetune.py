"""Training the planner adapter: LoRA on Qwen2.5-Coder-0.5B for TinyAgent's plans, on 2 CPU cores.

    tinyagent train-planner --data ../shared/data/tinyagent_plans.jsonl --out runs/planner
    tinyagent train-planner ... --export models/planner-lora/qwen2.5-coder-0.5b-tinyagent-lora.gguf
    tinyagent train-planner --average A.gguf B.gguf --export SOUP.gguf

Needs the `train` extra (torch CPU, transformers, peft, gguf). What makes it practical here:
- the base weights are the planner GGUF the app runs, de-quantized by transformers at load;
- the prompt is the `tuned` profile's (core/planner/tuned.py), rendered with the GGUF's own chat
  template and tokenized by llama.cpp, so training reads exactly the tokens the app sends;
- loss on the plan tokens only, and the 152k-word output head applied only at those positions;
- batches of similar length (little padding), a token budget per batch; a prompt prefix the
  whole batch shares (the system part offering every tool) runs once per batch;
- `--init` starts from a trained adapter (the shipped one, or `--average` of a run's checkpoints);
- a checkpoint every `--save-every` steps (atomic), resumed by running the same command again;
- seeded: the same data, seed and settings give the same batches and the same initial adapter.

Augmentation (drawn per epoch from the seed, never from held-out rows): the offered tools are
the plan's own plus ToolRAG-like extras (none, a few, or every tool), in the profile's fixed
order, and today's date in the prompt varies; with `--p-swap` a share of rows have their
people, files, places and titles swapped for other training rows' (core/planner/augment.py).
With `--order just-in-time` every target plan is written with each step right before the first
step that needs it (core.dag.just_in_time), one order where TinyAgent's references have two;
`--order request` also puts the steps nothing needs in the order the request asks for them.
Rows of the test and validation splits (core.toolrag.data.split_of) never enter training.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyagent.core.dag import just_in_time, renumber
from tinyagent.core.jsonl import parse_jsonl, read_limited
from tinyagent.core.parser import PlanError, parse_plan
from tinyagent.core.plan import END_OF_PLAN, Plan, serialize
from tinyagent.core.planner.augment import Combiner, Swapper
from tinyagent.core.planner.graph_tokens import graph_spans, token_weights
from tinyagent.core.planner.recombine import Recombiner
from tinyagent.core.planner.request_order import request_order
from tinyagent.core.planner.tuned import render
from tinyagent.core.toolrag.data import split_of
from tinyagent.tools.registry import REGISTRY, TOOLS, ToolSpec

# How a plan's steps are ordered in its target text: as the reference wrote them, each step
# right before the first that needs it (core.dag.just_in_time), or that with the steps nothing
# needs in the order the request asks for them (request_order.py): the graph is the same.
WRITTEN, JUST_IN_TIME, REQUEST = "written", "just-in-time", "request"
STEP_ORDERS = (WRITTEN, JUST_IN_TIME, REQUEST)
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class TrainError(RuntimeError):
    """Something that stops training, said in one line (bad data, missing packages, a bad checkpoint)."""


@dataclass(frozen=True)
class TrainSettings:
    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.05
    lr: float = 3e-4
    epochs: float = 1.0
    batch_tokens: int = 1400  # tokens per step, padding included
    max_batch: int = 8
    warmup: int = 8
    seed: int = 0
    threads: int = 0  # 0: every core
    p_all_tools: float = 0.15  # share of prompts offering every tool
    max_extra_tools: int = 2  # otherwise 0..this many tools beyond the plan's own
    p_swap: float = 0.0  # share of rows whose names, files and places are swapped (augment.py)
    p_combine: float = 0.0  # share of rows asked together with another row (augment.py)
    p_recombine: float = 0.0  # share of rows replaced by clauses of other rows asked as one (recombine.py)
    graph_weight: float = 1.0  # loss weight of the tokens that decide the plan's graph (graph_tokens.py)
    neftune: float = 0.0  # NEFTune's alpha: noise on the input embeddings while training (embedding_noise)
    init: str = ""  # start from this adapter (.gguf) or run checkpoint (.pt) instead of a fresh one
    order: str = WRITTEN  # the plan's steps as written, just in time, or as requested (STEP_ORDERS)

    def __post_init__(self) -> None:
        if self.order not in STEP_ORDERS:
            raise TrainError(f"--order must be one of {', '.join(STEP_ORDERS)}, not {self.order!r}")

    def fingerprint(self) -> str:
        """What a checkpoint must match to be resumed. Threads do not change the result, and
        epochs only set how long the run is (each epoch's samples come from its own seed, so a
        longer run draws the same first epochs): a run can be extended by asking for more."""
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("threads", "epochs")}
        for newer, unset in (("p_swap", 0.0), ("p_combine", 0.0), ("p_recombine", 0.0), ("graph_weight", 1.0), ("order", WRITTEN),
                              ("neftune", 0.0)):
            if fields[newer] == unset:
                del fields[newer]  # runs made before it existed resume as they were
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Row:
    id: str
    query: str
    plan: Plan


@dataclass(frozen=True)
class Sample:
    prompt: list[int]
    target: list[int]
    weights: tuple[float, ...] = ()  # the loss weight of each target token; () weighs them alike

    def __len__(self) -> int:
        return len(self.prompt) + len(self.target)


# -- data --------------------------------------------------------------------------------------
def load_rows(path: Path | str, splits: Sequence[str]) -> list[Row]:
    """{id, query, plan} rows of the given splits whose plan parses and uses known tools."""
    try:
        records = parse_jsonl(read_limited(str(path), dash_is_stdin=False), str(path))
    except (OSError, ValueError) as exc:
        raise TrainError(str(exc)) from None
    rows: list[Row] = []
    for n, obj in records:
        if not isinstance(obj.get("query"), str) or not isinstance(obj.get("plan"), str):
            raise TrainError(f"{path}, line {n}: expected an object with text 'query' and 'plan'")
        if split_of(str(obj.get("id", ""))) not in splits:
            continue
        try:
            plan = parse_plan(obj["plan"])
        except PlanError:
            continue  # a reference the parser refuses teaches nothing right
        if not plan.tasks or not plan.joined:
            continue
        rows.append(Row(str(obj.get("id", "")), obj["query"], plan))
    return rows


def target_text(plan: Plan) -> str:
    """The plan as the model must write it: numbered calls, no thoughts or comments, join()<END_OF_PLAN>."""
    text = serialize(plan, thoughts=False, comments=False).rstrip("\n")
    if not text.endswith(END_OF_PLAN):
        raise TrainError("a training plan must end with join()<END_OF_PLAN>")
    return text


def offered_tools(plan: Plan, rng: random.Random, settings: TrainSettings) -> list[ToolSpec]:
    """The plan's tools plus ToolRAG-like extras: sometimes every tool, else up to a few more."""
    needed = set(plan.tools)
    if rng.random() < settings.p_all_tools:
        return list(TOOLS)
    others = [t.name for t in TOOLS if t.name not in needed]
    extra = rng.sample(others, min(len(others), rng.randint(0, settings.max_extra_tools)))
    return [REGISTRY[n] for n in sorted(needed | set(extra))]


def random_day(rng: random.Random) -> dt.date:
    return dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(3 * 365))


class PromptCoder:
    """The tuned profile's prompt as the app sends it: rendered, chat-templated and tokenized."""

    def __init__(self, chat: Callable[[str, str], str], tokenize: Callable[[str, bool, bool], list[int]],
                 eos_text: str, piece: Callable[[int], bytes] | None = None):
        self.chat = chat
        self.tokenize = tokenize
        self.eos_text = eos_text
        self.piece = piece  # the bytes a token adds to the text: needed to weigh the graph's tokens

    @classmethod
    def from_gguf(cls, path: Path | str) -> PromptCoder:
        from tinyagent.core.planner.chat import choose, gguf_tokens
        from tinyagent.core.planner.llm import LocalLLM

        vocab = LocalLLM(path, vocab_only=True, plain_vocab=True)  # tokenized as the loaded model does
        bos, eos = gguf_tokens(vocab)
        template = choose("auto", metadata=vocab.metadata, bos_token=bos, eos_token=eos)
        if template.plain:
            raise TrainError(f"{path} has no chat template; the tuned profile is trained on a chat model")

        def tokenize(text: str, bos_: bool, special: bool) -> list[int]:
            return vocab.tokenize(text, bos=bos_, special=special)

        return cls(template.chat, tokenize, eos, vocab.piece)

    def sample(self, row: Row, rng: random.Random, settings: TrainSettings, swapper: Swapper | None = None,
               combiner: Combiner | None = None, recombiner: Recombiner | None = None) -> Sample:
        query, plan = row.query, row.plan
        if recombiner is not None and settings.p_recombine and rng.random() < settings.p_recombine:
            query, plan = recombiner.recombine(query, plan, rng)
        if swapper is not None and settings.p_swap and rng.random() < settings.p_swap:
            query, plan = swapper.swap(query, plan, rng)
        if combiner is not None and settings.p_combine and rng.random() < settings.p_combine:
            query, plan = combiner.combine(query, plan, rng)
        if settings.order == JUST_IN_TIME:
            plan = renumber(plan, just_in_time(plan))
        elif settings.order == REQUEST:
            plan = renumber(plan, request_order(query, plan))
        prompt = render(query, offered_tools(plan, rng, settings), today=random_day(rng))
        # The app tokenizes the templated prompt with BOS per the GGUF and special tokens read as such.
        ids = self.tokenize(self.chat(prompt.system, prompt.user), True, True)
        text = target_text(plan)
        target = self.tokenize(text + self.eos_text, False, True)
        if settings.graph_weight == 1.0:
            return Sample(ids, target)
        if self.piece is None:
            raise TrainError("--graph-weight needs each token's text; this prompt coder has none")
        weights = token_weights([self.piece(t) for t in target], graph_spans(text), settings.graph_weight)
        return Sample(ids, target, weights)


def batches(samples: Sequence[Sample], rng: random.Random, settings: TrainSettings) -> list[list[Sample]]:
    """Samples grouped by length under the token budget (padding counted), in a seeded order."""
    order = sorted(range(len(samples)), key=lambda i: (len(samples[i]), rng.random()))
    out: list[list[Sample]] = []
    current: list[Sample] = []
    for i in order:
        s = samples[i]
        longest = max([len(s)] + [len(c) for c in current])
        if current and (longest * (len(current) + 1) > settings.batch_tokens or len(current) >= settings.max_batch):
            out.append(current)
            current = []
        current.append(s)
    if current:
        out.append(current)
    rng.shuffle(out)
    return out


# -- model -------------------------------------------------------------------------------------
def return_freed_memory() -> bool:
    """Have glibc's malloc give freed memory back to the system at once (large blocks from mmap,
    no trim threshold, one arena). A step's activations are gigabytes of tensors of new sizes
    each batch; kept by malloc for reuse, they grew the process to 24 GB by step 74 of a run
    with combined requests on this 24 GB machine, where the kernel killed it. Resumed with these
    settings (as MALLOC_MMAP_THRESHOLD_=65536 MALLOC_TRIM_THRESHOLD_=0 MALLOC_ARENA_MAX=1), the
    same steps peaked at 17 GB and fell to 6-7 GB between steps. True where it took effect."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if sys.platform != "linux" or not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8  # glibc's <malloc.h>
        return all(libc.mallopt(option, value) == 1 for option, value in
                   ((m_mmap_threshold, 64 * 1024), (m_trim_threshold, 0), (m_arena_max, 1)))
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False


def _need_training_packages() -> None:
    missing = []
    for name in ("torch", "transformers", "peft", "gguf"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise TrainError(f"training needs {', '.join(missing)}: pip install -e '.[train]' (torch CPU: torch==2.13.0)")


def load_base(gguf_path: Path) -> Any:
    """The base model in float32, de-quantized from the GGUF the app runs (~15 s here)."""
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32)


def with_lora(model: Any, settings: TrainSettings) -> Any:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=settings.rank, lora_alpha=settings.alpha,  # type: ignore[arg-type]  # peft scales by alpha / r
                        lora_dropout=settings.dropout, target_modules=list(TARGET_MODULES), bias="none",
                        task_type="CAUSAL_LM")
    return get_peft_model(model, config)


MIN_SHARED_PREFIX = 32  # tokens; below this, running the prefix once saves less than it costs


def shared_prefix(batch: Sequence[Sample]) -> int:
    """How many leading prompt tokens every sample of the batch has in common (at most all but
    one token of the shortest prompt, so each sample keeps a token that predicts its plan's first)."""
    first = batch[0].prompt
    n = min(len(s.prompt) for s in batch) - 1
    for s in batch[1:]:
        n = next((i for i in range(n) if s.prompt[i] != first[i]), n)
    return max(0, n)


def start_from(model: Any, path: Path, settings: TrainSettings) -> None:
    """Load a trained adapter's weights into the fresh LoRA model: a shipped GGUF adapter or a run's
    checkpoint, of the same rank (B is rescaled where its alpha differs, so B @ A means the same)."""
    import numpy as np
    import torch
    from peft import set_peft_model_state_dict

    from tinyagent.core.planner.lora_gguf import AdapterError, peft_state

    try:
        if path.suffix == ".pt":
            saved = torch.load(path, weights_only=False)
            alpha, state = float(saved["settings"]["alpha"]), {k: v.float().numpy() for k, v in saved["adapter"].items()}
        else:
            alpha, state = peft_state(path)
    except (OSError, KeyError, TypeError, AdapterError) as exc:
        raise TrainError(f"cannot start from {path}: {exc}") from None
    ranks = {int(v.shape[0]) for k, v in state.items() if ".lora_A." in k}
    if ranks != {settings.rank}:
        raise TrainError(f"{path} has rank {sorted(ranks)}, and this run has rank {settings.rank}")
    rescale = alpha / settings.alpha
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v * rescale if ".lora_B." in k else v)) for k, v in state.items()}
    unexpected: list[str] = list(getattr(set_peft_model_state_dict(model, tensors), "unexpected_keys", None) or [])
    if unexpected:
        raise TrainError(f"{path} does not fit this model: {unexpected[0]}")


def embedding_noise(shape: Sequence[int], length: int, alpha: float, generator: Any) -> Any:
    """NEFTune (Jain et al., 2023): uniform noise in [-1, 1] scaled by alpha / sqrt(L * d), L the
    sequence's length and d the embedding width, added to the input embeddings while training: a
    regulariser for small instruction sets, which the model otherwise learns by heart."""
    import torch

    scale = alpha / math.sqrt(length * shape[-1])
    return (torch.rand(tuple(shape), generator=generator) * 2 - 1) * scale


def batch_loss(model: Any, batch: Sequence[Sample], pad_id: int, *, weighted: bool = True,
               noise: float = 0.0, generator: Any = None) -> tuple[Any, int]:
    """Mean cross-entropy over the plan tokens; the output head runs only where the loss is taken.
    Samples with weights (--graph-weight) give a weighted mean, unless `weighted` is False.
    With `noise` (NEFTune's alpha), the input embeddings get embedding_noise, drawn from `generator`.

    Where the batch's prompts begin alike (the system part offering every tool: ~500 of a
    sample's ~700 tokens), that prefix runs once and its keys and values are repeated for each
    sample, gradients included: the same loss as running every sequence whole, with about a
    third of the tokens to run for a batch of 8."""
    import torch

    inner = model.get_base_model()
    prefix = shared_prefix(batch) if len(batch) > 1 else 0
    if prefix < MIN_SHARED_PREFIX:
        prefix = 0
    width = max(len(s) for s in batch) - prefix
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), prefix + width), dtype=torch.long)
    rows, cols, labels = [], [], []
    weights: list[float] = []
    for b, s in enumerate(batch):
        seq = s.prompt + s.target
        ids[b, : len(seq) - prefix] = torch.tensor(seq[prefix:])
        mask[b, : len(seq)] = 1
        for j in range(len(s.prompt), len(seq)):  # the hidden state at j-1 predicts token j
            rows.append(b)
            cols.append(j - 1 - prefix)
            labels.append(seq[j])
        weights += s.weights or [1.0] * len(s.target)
    embed = inner.model.get_input_embeddings()

    def inputs(tokens: Any) -> Any:
        vectors = embed(tokens)
        if noise:
            vectors = vectors + embedding_noise(vectors.shape, prefix + width, noise, generator)
        return vectors

    if prefix:
        cache = inner.model(inputs_embeds=inputs(torch.tensor([batch[0].prompt[:prefix]])), use_cache=True).cache
        cache.batch_repeat_interleave(len(batch))
        hidden = inner.model(inputs_embeds=inputs(ids), attention_mask=mask, cache=cache).last_hidden_state
    else:
        hidden = inner.model(inputs_embeds=inputs(ids), attention_mask=mask).last_hidden_state
    picked = hidden[torch.tensor(rows), torch.tensor(cols)]
    logits = inner.lm_head(picked)
    if not weighted or all(not s.weights for s in batch):
        return torch.nn.functional.cross_entropy(logits.float(), torch.tensor(labels)), len(labels)
    each = torch.nn.functional.cross_entropy(logits.float(), torch.tensor(labels), reduction="none")
    w = torch.tensor(weights, dtype=each.dtype)
    return (each * w).sum() / w.sum(), len(labels)


# -- the run -----------------------------------------------------------------------------------
@dataclass
class Progress:
    step: int = 0
    tokens: int = 0
    seconds: float = 0.0
    losses: list[float] = dataclasses.field(default_factory=list)


def _save(path: Path, payload: dict) -> None:
    import torch

    tmp = path.with_name(path.name + ".part")
    torch.save(payload, tmp)
    tmp.replace(path)


def _saved_fingerprint(state: dict) -> str | None:
    """A checkpoint's settings fingerprint, worked out again from its saved settings (checkpoints
    written before epochs left the fingerprint hold a hash that still counted them)."""
    saved = state.get("settings")
    if not isinstance(saved, dict):
        return state.get("fingerprint")
    try:
        return TrainSettings(**saved).fingerprint()
    except TypeError:
        return None


@dataclass(frozen=True)
class TrainBase:
    """What the adapter is trained on: the planner GGUF (its weights de-quantized, its tokens as
    llama.cpp counts them), or a test's tiny model and prompt coder handed in instead."""
    gguf: Path
    coder: PromptCoder | None = None  # None: from the GGUF
    model: Any = None  # a transformers causal LM (torch is an optional extra); None: from the GGUF


def train(data: Path, base: TrainBase, out: Path, settings: TrainSettings, *, save_every: int = 20,
          max_steps: int | None = None, stop_at: int | None = None, log: Callable[[str], None] = print) -> dict:
    """Train (or resume) the adapter in `out`; returns a summary. `max_steps` makes the run that
    long (its schedule ends there); `stop_at` stops this call after that step and keeps the whole
    run's schedule, so a long run can be trained in several sittings and resumed as if never stopped."""
    _need_training_packages()
    import torch

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(settings.seed)
    return_freed_memory()
    if settings.threads > 0:
        torch.set_num_threads(settings.threads)
    rows = load_rows(data, ("train",))
    val_rows = load_rows(data, ("val",))
    if not rows:
        raise TrainError(f"{data}: no usable training rows")
    log(f"data: {len(rows)} training rows, {len(val_rows)} validation rows (test rows never read)")
    coder = base.coder or PromptCoder.from_gguf(base.gguf)
    model = with_lora(base.model if base.model is not None else load_base(base.gguf), settings)
    if settings.init and not (out / "checkpoint.pt").exists():
        start_from(model, Path(settings.init), settings)
        log(f"starting from the adapter in {settings.init}")
    pad_id = 0
    trainable = [p for p in model.parameters() if p.requires_grad]
    log(f"LoRA rank {settings.rank}, alpha {settings.alpha}: {sum(p.numel() for p in trainable):,} trainable parameters")
    optimizer = torch.optim.AdamW(trainable, lr=settings.lr, weight_decay=0.0)

    # One sample per row per epoch, each epoch drawn from its own seed (so resuming redraws it).
    epochs = max(1, math.ceil(settings.epochs))
    plan_batches: list[list[Sample]] = []
    swapper = Swapper([(r.query, r.plan) for r in rows]) if settings.p_swap else None
    combiner = Combiner([(r.query, r.plan) for r in rows]) if settings.p_combine else None
    recombiner = Recombiner([(r.query, r.plan) for r in rows]) if settings.p_recombine else None
    for epoch in range(epochs):
        rng = random.Random(f"{settings.seed}:{epoch}")
        samples = [coder.sample(r, rng, settings, swapper, combiner, recombiner) for r in rows]
        plan_batches += batches(samples, rng, settings)
    total = int(len(plan_batches) * settings.epochs / epochs)
    if max_steps is not None:
        total = min(total, max_steps)

    def lr_at(step: int) -> float:
        if step < settings.warmup:
            return settings.lr * (step + 1) / settings.warmup
        frac = (step - settings.warmup) / max(1, total - settings.warmup)
        return settings.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))

    ckpt = out / "checkpoint.pt"
    progress = Progress()
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        if _saved_fingerprint(state) != settings.fingerprint():
            raise TrainError(f"{ckpt} was made with other settings; use another --out or delete it")
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, state["adapter"])
        optimizer.load_state_dict(state["optimizer"])
        progress = Progress(**state["progress"])
        log(f"resuming at step {progress.step} of {total}")
    model.train()

    def checkpoint() -> None:
        from peft import get_peft_model_state_dict

        _save(ckpt, {"fingerprint": settings.fingerprint(), "settings": dataclasses.asdict(settings),
                     "adapter": get_peft_model_state_dict(model), "optimizer": optimizer.state_dict(),
                     "progress": dataclasses.asdict(progress)})

    end = total if stop_at is None else min(total, stop_at)
    while progress.step < end:
        batch = plan_batches[progress.step]
        for group in optimizer.param_groups:
            group["lr"] = lr_at(progress.step)
        started = time.perf_counter()
        draws = torch.Generator().manual_seed(settings.seed * 1_000_003 + progress.step)  # the same on resuming
        loss, _ = batch_loss(model, batch, pad_id, noise=settings.neftune, generator=draws)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        progress.seconds += time.perf_counter() - started
        progress.tokens += sum(len(s) for s in batch)
        progress.step += 1
        progress.losses.append(round(float(loss.detach()), 4))
        rate = progress.tokens / max(progress.seconds, 1e-9)
        eta = (total - progress.step) * progress.seconds / progress.step
        recent = progress.losses[-10:]
        log(f"step {progress.step}/{total}  loss {sum(recent) / len(recent):.3f}  {rate:.0f} tok/s  "
            f"ETA {eta / 60:.0f} min")
        if progress.step % save_every == 0 or progress.step == end:
            checkpoint()
    summary = {"steps": progress.step, "tokens": progress.tokens, "seconds": round(progress.seconds, 1),
               "tokens_per_second": round(progress.tokens / max(progress.seconds, 1e-9), 1),
               "final_loss": round(sum(progress.losses[-10:]) / max(1, len(progress.losses[-10:])), 4),
               "settings": dataclasses.asdict(settings), "train_rows": len(rows)}
    if val_rows:
        summary["val_loss"] = round(validation_loss(model, coder, val_rows, settings, pad_id), 4)
        log(f"validation loss {summary['val_loss']}")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def validation_loss(model: Any, coder: PromptCoder, rows: Sequence[Row], settings: TrainSettings, pad_id: int) -> float:
    import torch

    rng = random.Random(f"{settings.seed}:val")
    samples = [coder.sample(r, rng, settings) for r in rows]
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in batches(samples, rng, settings):
            loss, n = batch_loss(model, batch, pad_id, weighted=False)  # comparable across weights
            total += float(loss) * n
            count += n
    model.train()
    return total / max(1, count)


def export(out: Path, adapter: Path, *, architecture: str = "qwen2", name: str = "") -> Path:
    """The checkpoint in `out` written as a llama.cpp GGUF LoRA adapter."""
    import torch

    from tinyagent.core.planner.lora_gguf import write_adapter

    ckpt = out / "checkpoint.pt"
    if not ckpt.exists():
        raise TrainError(f"no checkpoint in {out}: train first")
    state = torch.load(ckpt, weights_only=False)
    settings = state["settings"]
    meta = {"tinyagent.profile": "tuned", "tinyagent.trained_steps": str(state["progress"]["step"]),
            "tinyagent.settings": json.dumps(settings, sort_keys=True)}
    adapter.parent.mkdir(parents=True, exist_ok=True)
    return write_adapter(adapter, state["adapter"], alpha=float(settings["alpha"]), architecture=architecture,
                         name=name, metadata=meta)


def export_average(adapters: Sequence[Path], adapter: Path, *, rank: int, architecture: str = "qwen2") -> Path:
    """The average of trained adapters (core.planner.lora_gguf.average) written as one adapter; its
    metadata names each source by file name and SHA-256."""
    from tinyagent.core.planner.lora_gguf import AdapterError, average, write_adapter

    try:
        alpha, state = average(adapters, rank=rank)
        sources = [{"file": Path(a).name, "sha256": hashlib.sha256(Path(a).read_bytes()).hexdigest()} for a in adapters]
    except (OSError, AdapterError) as exc:
        raise TrainError(str(exc)) from None
    meta = {"tinyagent.profile": "tuned", "tinyagent.averaged_from": json.dumps(sources)}
    adapter.parent.mkdir(parents=True, exist_ok=True)
    return write_adapter(adapter, state, alpha=alpha, architecture=architecture,
                         name="qwen2.5-coder-0.5b tinyagent adapter (average)", metadata=meta)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """`tinyagent train-planner`'s options (an argparse parser)."""
    p.add_argument("--data", type=Path, default=None, help="JSONL of {id, query, plan}; only the train split is read")
    p.add_argument("--base", type=Path, default=None, help="the base GGUF (default: the qwen2.5-coder-0.5b download)")
    p.add_argument("--out", type=Path, default=None, help="run folder: checkpoint.pt and summary.json")
    p.add_argument("--export", type=Path, default=None, metavar="ADAPTER.gguf",
                   help="write the run's checkpoint (or, with --average, the average) as a llama.cpp LoRA adapter and stop")
    p.add_argument("--average", type=Path, nargs="+", default=None, metavar="ADAPTER.gguf",
                   help="average these adapters' weight changes into one of --rank, written to --export (no training)")
    p.add_argument("--max-steps", type=int, default=None, help="make the run this many steps long (a smoke run)")
    p.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                   help="stop after this step, keeping the whole run's schedule (train a long run in sittings)")
    p.add_argument("--save-every", type=int, default=20, help="steps between checkpoints (default 20)")
    said = {"init": "start from this LoRA adapter (.gguf, e.g. the shipped one) or run checkpoint (.pt) of the same rank",
            "p_all_tools": "share of prompts offering every tool, as the app does (the rest: the plan's tools and a few others)",
            "p_swap": "share of rows per epoch whose people, files, places and titles are swapped for other rows'",
            "p_combine": "share of rows per epoch asked together with another training row (its plan after theirs)",
            "p_recombine": "share of rows per epoch replaced by a request of 2-4 clauses of other training rows, "
                           "with the plan their pieces make",
            "order": "the order of a plan's steps in training: as written, each right before the first step that needs "
                     "it, or that with the request's actions in the order it asks for them",
            "neftune": "NEFTune's alpha: uniform noise of alpha / sqrt(length * width) on the input embeddings "
                       "while training (0: none; the paper used 5)",
            "graph_weight": "loss weight of the plan tokens that decide its graph (tool names, $N) against the rest's 1",
            "batch_tokens": "tokens per step, padding included (a prompt prefix the batch shares is counted for each sample)"}
    for f in dataclasses.fields(TrainSettings):
        p.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default,
                       choices=STEP_ORDERS if f.name == "order" else None,
                       help=f"{said.get(f.name, '')} (default {f.default!r})".lstrip())


def run_args(args: argparse.Namespace, default_base: Callable[[], Path]) -> int:
    """Train or export as the parsed options say; errors are one line and exit status 2.
    `default_base` finds the base GGUF where --base is not given (the CLI asks the model store:
    this layer is below it), raising TrainError where it is not there."""
    try:
        if args.average:
            if args.export is None:
                raise TrainError("--average writes its adapter to --export ADAPTER.gguf: name it")
            path = export_average(args.average, args.export, rank=args.rank)
            print(f"wrote {path} ({path.stat().st_size:,} bytes)")
            return 0
        if args.out is None or (args.data is None and args.export is None):
            raise TrainError("training needs --data DATA.jsonl and --out RUN_FOLDER (--export needs --out)")
        if args.export is not None:
            path = export(args.out, args.export, name="qwen2.5-coder-0.5b tinyagent adapter")
            print(f"wrote {path} ({path.stat().st_size:,} bytes)")
            return 0
        base = args.base if args.base is not None else default_base()
        settings = TrainSettings(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainSettings)})
        summary = train(args.data, TrainBase(base), args.out, settings, save_every=args.save_every,
                        max_steps=args.max_steps, stop_at=args.stop_at, log=lambda line: print(line, flush=True))
    except TrainError as exc:
        print(f"tinyagent: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0
