"""From probabilities to the tools that go into the prompt.

Three steps: the threshold picks what the classifier is sure of; tools of disabled apps are
dropped; then each selected tool brings its companions (tools/registry.py `companions`:
contacts lookups before email / SMS / invites, the file lookup before a PDF summary), so
recall does not rest on the classifier alone. A contacts companion is skipped when the
request already spells out what it would look up (an email address, a phone number).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tinyagent.core.toolrag.classifier import ToolClassifier
from tinyagent.core.toolrag.embed import default_encoder
from tinyagent.tools.registry import REGISTRY, TOOL_NAMES


@dataclass(frozen=True)
class Selection:
    probabilities: dict[str, float]  # every tool the classifier scores, by name
    selected: tuple[str, ...]  # registry order
    threshold: float
    seconds: float
    added_by_rules: tuple[str, ...] = ()  # selected only because a selected tool needs them

    def to_json(self) -> dict[str, Any]:
        return {
            "probabilities": {name: round(p, 6) for name, p in self.probabilities.items()},
            "selected": list(self.selected), "added_by_rules": list(self.added_by_rules),
            "threshold": self.threshold, "seconds": round(self.seconds, 6),
        }


def companions_for(selected: Iterable[str], query: str, allowed: set[str]) -> list[str]:
    """Companions the selected tools bring that are not selected yet (closed under the rule)."""
    chosen, added = set(selected), []
    queue = list(chosen)
    while queue:
        for companion in REGISTRY[queue.pop()].companions:
            if companion in chosen or companion not in allowed:
                continue
            given = REGISTRY[companion].given_in_request  # the request already holds its answer
            if given is not None and given.search(query):
                continue
            chosen.add(companion)
            added.append(companion)
            queue.append(companion)
    return added


class ToolRAG:
    """Picks the tools for a request. Load once, reuse; safe to call from a worker thread."""

    def __init__(self, classifier: ToolClassifier, threshold: float = 0.5,
                 enabled_apps: Iterable[str] | None = None, rules: bool = True):
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
        self.classifier = classifier
        self.threshold = threshold
        self.enabled_apps = frozenset(enabled_apps) if enabled_apps is not None else None
        self.rules = rules
        self.allowed = {t for t in TOOL_NAMES if self.enabled_apps is None or REGISTRY[t].app in self.enabled_apps}

    @classmethod
    def from_config(cls, config: Any, classifier: ToolClassifier | None = None) -> ToolRAG:
        """config.models.toolrag (a model dir; empty = built-in), toolrag.threshold, apps."""
        if classifier is None and not config.models.toolrag:
            # The built-in model also ranks the examples: share its one loaded session.
            classifier = default_encoder()
        if classifier is None:
            classifier = ToolClassifier.load(config.models.toolrag or None)
        return cls(classifier, threshold=config.toolrag.threshold, enabled_apps=config.apps)

    def choose(self, probabilities: dict[str, float], query: str,
               threshold: float | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(selected, added_by_rules), both in registry order, for given probabilities."""
        threshold = self.threshold if threshold is None else threshold
        picked = {t for t, p in probabilities.items() if p >= threshold and t in self.allowed}
        added = companions_for(picked, query, self.allowed) if self.rules else []
        chosen = picked | set(added)
        return (tuple(t for t in TOOL_NAMES if t in chosen), tuple(t for t in TOOL_NAMES if t in added))

    def select(self, query: str) -> Selection:
        start = time.perf_counter()
        probs = self.classifier.probabilities(query)
        selected, added = self.choose(probs, query)
        return Selection(
            probabilities=probs,
            selected=selected,
            threshold=self.threshold,
            seconds=time.perf_counter() - start,
            added_by_rules=added,
        )
