"""An exception in plain words, with what to do for the common ones."""

from __future__ import annotations


def explain(exc: BaseException) -> str:
    name = type(exc).__name__
    text = str(exc) or name
    if name == "ModelLoadError":
        return (f"The planner model is not available: {text}. Download it in Models (ctrl+n), or write a "
                "plan yourself with the plan editor (ctrl+e).")
    if name == "ModelFileError":
        return f"The speech model is not available: {text}. Download it in Models (ctrl+n)."
    if name == "PlanError":
        return f"The plan has problems: {text}"
    if name == "ConfigError":
        return f"Your settings have a problem: {text}"
    return f"Something went wrong ({name}): {text}"
