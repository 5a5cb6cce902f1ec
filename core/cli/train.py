"""`tinyagent train-planner`: train (or resume, or export) the planner's LoRA adapter.

Needs the `train` extra; the training code is core/planner/finetune.py and is imported only
when the command runs, so `tinyagent --help` stays instant.
Exit status: 0 trained or exported; 2 bad data, a missing base model or package, a checkpoint
made with other settings.
"""

from __future__ import annotations

import argparse
from pathlib import Path

BASE_MODEL = "qwen2.5-coder-0.5b"  # the model store's name of the base GGUF (--base overrides it)


def register(sub: argparse._SubParsersAction) -> None:
    from tinyagent.core.planner.finetune import add_arguments

    p = sub.add_parser("train-planner", help="train the planner's LoRA adapter on {query, plan} data (CPU)",
                       description="LoRA on the qwen2.5-coder-0.5b planner for TinyAgent's plans, in the tuned "
                       "profile's prompt. Resumes from the run folder's checkpoint; --export writes the adapter.")
    add_arguments(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from tinyagent.core.planner.finetune import run_args

    return run_args(args, default_base=_downloaded_base)


def _downloaded_base() -> Path:
    """The base the shipped adapter is trained on, as downloaded into the model store."""
    from tinyagent.core.modelstore import ModelStoreError, resolve
    from tinyagent.core.planner.finetune import TrainError

    try:
        return Path(resolve(BASE_MODEL))
    except ModelStoreError as exc:
        raise TrainError(str(exc)) from None
