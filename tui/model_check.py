"""At start-up: which models are missing, what to tell the person, and which planner the
status line names. Plain code (no widgets), run in a worker thread."""

from __future__ import annotations

from dataclasses import dataclass

from tinyagent.core.config import Config
from tinyagent.core.modelstore import ModelChoice, ModelStoreError, PlannerChoice
from tinyagent.core.voice.transcribe import whisper_choice
from tinyagent.tui.services import ModelStore, model_label, model_rows

KIND_WORDS = {"planner": "planner", "whisper": "voice", "toolrag": "tool choice"}


@dataclass(frozen=True)
class ModelCheck:
    note: str  # what the chat says ("" when all is well)
    planner: str | None  # what the status line names as the planner; None leaves it as it is


def check_models(store: ModelStore | None, config: Config) -> ModelCheck:
    if store is None:
        return ModelCheck("" if config.models.planner else (
            "No planner model is set up, so requests cannot be planned yet; "
            "the plan editor (ctrl+e) works without one."), None)
    try:
        rows = model_rows(store)
        choice, voice = models_in_use(store, config)
    except (ModelStoreError, OSError) as exc:
        return ModelCheck(f"Cannot read the model store ({exc}).", None)
    # a kind the config points elsewhere, or a model standing in, is not missing
    elsewhere = {"planner": bool(config.models.planner or choice.path or config.planner.server),
                 "whisper": bool(config.models.whisper or voice.path)}
    wanted = [r for r in rows if r["default"]] or rows
    missing = [f"{r['name']} ({KIND_WORDS.get(r['kind'], r['kind'])})"
               for r in wanted if not r["present"] and not elsewhere.get(r["kind"])]
    note = (f"Missing models: {', '.join(missing)}. Press ctrl+n (Models) to download them in the "
            "background; meanwhile the plan editor (ctrl+e) works without a model.") if missing else ""
    stand_ins = " ".join(f"{c.notice}." for c in (choice, voice) if c.notice)
    note = f"{stand_ins} {note}".strip()
    return ModelCheck(note, _planner_label(rows, choice, config))


def models_in_use(store: ModelStore, config: Config) -> tuple[PlannerChoice, ModelChoice]:
    """The planner and the whisper model the app loads for this config (a stand-in where the
    default is missing); raises ModelStoreError / OSError where the store cannot be read."""
    return store.planner_choice(config.models.planner), whisper_choice(config.models.whisper, store)


def _planner_label(rows: list[dict], choice: PlannerChoice, config: Config) -> str | None:
    if config.planner.server:
        return model_label(config)  # planning on a server: whatever is downloaded here
    if choice.path is not None and choice.notice:
        return choice.name  # a stand-in for the missing default
    if config.models.planner:
        return None  # a configured file: the pipeline reports it if it cannot load
    planner = next((r for r in rows if r["kind"] == "planner" and r["default"]), None)
    if planner is None:
        return None
    return model_label(config) + ("" if planner["present"] else " (missing)")
