"""What a request's attempts did, one entry per task that ran: a replan is answered from it.

A replan never repeats work: a task of the new plan that an earlier attempt already did is
reported with that outcome instead of being run. Two levels find it: the pipeline by the
task's work key (its tool and arguments, `$N` replaced by what task N did) while the plan
streams, the executor by the change as prepared (tool and resolved arguments), which also
catches the same change written another way (a name where a lookup was).

Each change made answers one task at most, whichever level finds it: two identical sends
are two sends, and one earlier send never reports both done.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Work:
    key: Any  # the pipeline's work key
    change: str | None  # the change as prepared; None for a task that changes nothing
    done: bool  # False: stopped mid-change, so nobody knows whether it happened
    value: Any  # the output when done; why the outcome is unknown otherwise


class WorkLedger:
    """Everything a request did so far; each attempt reads it through its own `AttemptLedger`."""

    def __init__(self) -> None:
        self.entries: list[Work] = []

    def record(self, work: Work) -> None:
        self.entries.append(work)

    def attempt(self) -> AttemptLedger:
        return AttemptLedger(self.entries)


class AttemptLedger:
    """One attempt's view of the earlier work: each change answers one task of this attempt.

    Work that changes nothing (a lookup) answers any number of tasks: asking twice gives the
    same answer. The attempt's own work is recorded in the request's ledger afterwards, so it
    is never taken for a repeat of itself.
    """

    def __init__(self, entries: list[Work]):
        self._open = list(entries)

    def take_work(self, key: Any) -> Work | None:
        return self._take(lambda w: w.key == key)

    def take_change(self, change: str) -> Work | None:
        return self._take(lambda w: w.change == change)

    def _take(self, matches: Callable[[Work], bool]) -> Work | None:
        for i, work in enumerate(self._open):
            if matches(work):
                if work.change is not None:  # a change made once answers one task only
                    del self._open[i]
                return work
        return None
