"""Which prompt layout and chat template a planner model gets.

Profiles:
  tinyagent  TinyAgent's own planner, joiner and replanner texts (core/planner/tinyagent*.py),
             the layout TinyAgent-1.1B/7B were fine-tuned on; sent as [system, user] chat messages.
  compact    this project's shorter layout (core/planner/prompt.py), laid out for prefix reuse.
  tuned      the text the shipped planner adapter was trained on (core/planner/tuned.py): the tools'
             signatures and hints, the date and the request; no rules, no in-context examples.

`planner.prompt: auto` takes the model manifest's `prompt:` for the model file, else
recognises a TinyAgent GGUF by its metadata or file name, else UNKNOWN_MODEL_PROFILE.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.model_manifest import ModelEntry, ModelStoreError, load_manifest
from core.planner import tuned
from core.planner.chat import NONE, ChatTemplate, choose, gguf_tokens
from core.planner.prompt import prompt_order, prompt_prefix, request_part
from core.planner.tinyagent import render
from tools.registry import REGISTRY

PROFILES = ("tinyagent", "compact", "tuned")
_TINYAGENT_NAME = re.compile(r"tiny[-_ ]?agent[-_ ]?(1\.1b|7b)", re.IGNORECASE)
# The layout for models we know nothing about. One constant, so the real-model measurements
# (which profile suits untuned small models better) can change it in one place.
# Measured (bench/bench_realmodel.py, README): on Qwen2.5-Coder-0.5B compact evaluates a third of
# the prompt tokens, is ~3x faster end to end and matched more reference plans than tinyagent.
UNKNOWN_MODEL_PROFILE = "compact"


class ProfileError(ValueError):
    """A bad planner.prompt value."""


def _manifest() -> list[ModelEntry]:
    try:
        return [e for e in load_manifest() if e.kind == "planner"]
    except ModelStoreError:  # a broken manifest is reported by `models list`; recognition by name still works
        return []


def manifest_entry(path: Path | str | None, metadata: dict[str, str] | None = None,
                   adapter: Path | str | None = None) -> ModelEntry | None:
    """The manifest entry of a planner file (and adapter): by file names, else a TinyAgent GGUF by name/metadata."""
    entries = _manifest()
    name = Path(path).name if path else ""
    adapter_name = Path(adapter).name if adapter else ""
    found = next((e for e in entries if e.filename and e.filename == name
                  and Path(e.adapter).name == adapter_name), None)
    if found is not None:
        return found
    label = " ".join([name, (metadata or {}).get("general.name", ""), (metadata or {}).get("general.basename", "")])
    # Another quantisation or copy of a TinyAgent model: "TinyAgent-1.1B-Q8_0.gguf", "TinyAgent 7B".
    match = _TINYAGENT_NAME.search(label)
    if match:
        wanted = "tinyagent-7b" if match.group(1).lower() == "7b" else "tinyagent-1.1b"
        return next((e for e in entries if e.name == wanted), None)
    return None


def choose_profile(setting: str, path: Path | str | None = None,
                   metadata: dict[str, str] | None = None, adapter: Path | str | None = None) -> tuple[str, str]:
    """(profile, why) for `planner.prompt`."""
    setting = (setting or "auto").strip()
    if setting in PROFILES:
        return setting, f"planner.prompt: {setting}"
    if setting != "auto":
        raise ProfileError(f"planner.prompt must be auto, {', '.join(PROFILES)}, not {setting!r}")
    entry = manifest_entry(path, metadata, adapter)
    if entry is not None and entry.prompt:
        return entry.prompt, f"the model manifest's entry {entry.name}"
    return UNKNOWN_MODEL_PROFILE, "no manifest entry for this model (the default for unknown models)"


@dataclass(frozen=True)
class PlannerPrompt:
    """One planner call: the two messages and the exact text the model receives."""

    system: str
    user: str
    text: str
    tool_order: tuple[str, ...]
    templated: bool  # the text holds the template's special tokens (tokenize them as such)


@dataclass(frozen=True)
class PromptSetup:
    profile: str
    why: str
    template: ChatTemplate = NONE

    @property
    def tinyagent(self) -> bool:
        return self.profile == "tinyagent"

    @property
    def offers_every_tool(self) -> bool:
        """The tuned profile plans over every enabled tool (core/pipeline.py `_offered`)."""
        return self.profile == "tuned"

    @property
    def uses_examples(self) -> bool:
        """The tuned profile was trained without in-context examples, so it is shown none."""
        return self.profile != "tuned"

    def planner_prompt(self, query: str, tools: Sequence[Any], examples: Sequence[Any] | None, *,
                       now: dt.datetime, instructions: str | None, context: str = "") -> PlannerPrompt:
        names = [getattr(t, "name", t) for t in tools]
        if self.tinyagent:
            r = render(query, names, now=now, examples=examples, instructions=instructions, context=context)
            system, user, order = r.system, r.user, r.tool_order
        elif self.profile == "tuned":
            t = tuned.render(query, [REGISTRY[n] for n in names], today=now.date(), instructions=instructions or "",
                             context=context)
            return PlannerPrompt(t.system, t.user, self.template.chat(t.system, t.user), t.tool_order,
                                 not self.template.plain)
        else:
            specs = [REGISTRY[n] for n in names]
            system = prompt_prefix(specs, examples or ())
            user = request_part(query, today=now.date(), instructions=instructions or "", context=context)
            order = tuple(t.name for t in prompt_order(specs))
        if self.template.plain:
            # compact without a template is today's one raw completion; tinyagent's plain
            # form is TinyAgent's completion-model path (system + blank line + user).
            text = system + user if not self.tinyagent else self.template.chat(system, user)
        else:
            text = self.template.chat(system, user if self.tinyagent else user.lstrip("\n"))
        return PlannerPrompt(system, user, text, order, not self.template.plain)

    def single(self, prompt: str) -> tuple[str, bool]:
        """A one-message prompt (the joiner) as the model receives it, and whether it is templated."""
        if self.template.plain:
            return prompt, False
        return self.template.single(prompt), True


def setup_for(config: Any, *, path: Path | str | None = None, model: Any = None,
              profile: str | None = None) -> PromptSetup:
    """Profile and chat template for a model; `model` is the loaded LocalLLM (or None: no template)."""
    metadata: dict[str, str] = model.metadata if model is not None else {}
    planner = config.planner
    adapter = model.adapter_path if model is not None else None
    chosen, why = choose_profile(profile or str(planner.prompt), path, metadata, adapter)
    if model is None:
        return PromptSetup(chosen, why)
    bos, eos = gguf_tokens(model)
    entry = manifest_entry(path, metadata, adapter)
    fallback = (entry.chat_template or None) if entry is not None else None
    template = choose(getattr(planner, "chat_template", "auto"), metadata=metadata, bos_token=bos, eos_token=eos,
                      fallback=fallback,
                      fallback_source=f"the manifest's fallback for {entry.name}: {fallback}" if entry else "")
    return PromptSetup(chosen, why, template)
