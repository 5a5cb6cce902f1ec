"""Which prompt profile and chat template a planner model gets, and the one table of profiles.

Profiles (each one module behind the PromptProfile protocol of core/planner/profile.py):
  tinyagent  TinyAgent's own planner, joiner and replanner texts (core/planner/profile_tinyagent.py),
             the layout TinyAgent-1.1B/7B were fine-tuned on; sent as [system, user] chat messages.
  compact    this project's shorter layout (core/planner/profile_compact.py), laid out for prefix reuse.
  tuned      the text the shipped planner adapter was trained on (core/planner/profile_tuned.py): the tools'
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

from tinyagent.core.model_manifest import ModelEntry, ModelStoreError, load_manifest
from tinyagent.core.planner.chat import NONE, ChatTemplate, choose, gguf_tokens
from tinyagent.core.planner.lora_gguf import AdapterError, trained_profile
from tinyagent.core.planner.profile import PlannerPrompt, PromptProfile
from tinyagent.core.planner.profile_compact import CompactProfile
from tinyagent.core.planner.profile_names import COMPACT
from tinyagent.core.planner.profile_tinyagent import TinyAgentProfile
from tinyagent.core.planner.profile_tuned import TunedProfile
from tinyagent.tools.registry import REGISTRY
from tinyagent.tools.spec import ToolSpec

# The one table of profiles: a new profile is a module, a name in profile_names.py and a line here.
PROFILE_TABLE: dict[str, PromptProfile] = {p.name: p for p in (TinyAgentProfile(), CompactProfile(), TunedProfile())}
PROFILES = tuple(PROFILE_TABLE)  # == PROFILE_NAMES, which config checks settings against


_TINYAGENT_NAME = re.compile(r"tiny[-_ ]?agent[-_ ]?(1\.1b|7b)", re.IGNORECASE)
# The layout for models we know nothing about. One constant, so the real-model measurements
# (which profile suits untuned small models better) can change it in one place.
# Measured (bench/bench_realmodel.py, README): on Qwen2.5-Coder-0.5B compact evaluates a third of
# the prompt tokens, is ~3x faster end to end and matched more reference plans than tinyagent.
UNKNOWN_MODEL_PROFILE = COMPACT


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
    if entry is not None and entry.prompt in PROFILE_TABLE:
        return entry.prompt, f"the model manifest's entry {entry.name}"
    if entry is not None and entry.prompt:  # a manifest naming no profile gets the unknown models' layout
        return UNKNOWN_MODEL_PROFILE, f"the model manifest's entry {entry.name} names no profile ({entry.prompt!r})"
    if entry is None and adapter:  # e.g. planner.adapter: an adapter train-planner made says what it read
        try:
            trained = trained_profile(adapter)
        except AdapterError:
            trained = ""  # loading the model says what is wrong with the file
        if trained in PROFILE_TABLE:
            return trained, f"the adapter {Path(adapter).name} (trained on the {trained} profile)"
    return UNKNOWN_MODEL_PROFILE, "no manifest entry for this model (the default for unknown models)"


@dataclass(frozen=True)
class PromptSetup:
    """A model's profile (by name, and why it was chosen) and chat template."""

    profile: str
    why: str
    template: ChatTemplate = NONE

    def __post_init__(self) -> None:
        if self.profile not in PROFILE_TABLE:
            raise ProfileError(f"no prompt profile {self.profile!r}: use {', '.join(PROFILES)}")

    @property
    def strategy(self) -> PromptProfile:
        """The profile object: ask it what differs between profiles (examples, tools, joiner, rounds)."""
        return PROFILE_TABLE[self.profile]

    def planner_prompt(self, query: str, tools: Sequence[ToolSpec | str], examples: Sequence[Any] | None, *,
                       now: dt.datetime, instructions: str | None, context: str = "") -> PlannerPrompt:
        """The planner call for `tools`: specs, or built-in tools' names (a golden case names them;
        KeyError for a name the registry lacks)."""
        specs = [REGISTRY[t] if isinstance(t, str) else t for t in tools]
        messages = self.strategy.render(query, specs, examples, now=now, instructions=instructions, context=context)
        return PlannerPrompt(messages.system, messages.user, self.strategy.lay_out(messages, self.template),
                             messages.tool_order, not self.template.plain)


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
