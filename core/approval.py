"""The one gate every side effect passes: policy first, then (if it says ask) a person."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum

from tinyagent.core.config import ApprovalConfig
from tinyagent.core.plan import Task
from tinyagent.tools.backend import ToolCall
from tinyagent.tools.registry import Effect


class Decision(str, Enum):
    APPROVE = "approve"
    DENY = "deny"
    APPROVE_ALL = "approve_all"  # this task and every later one in the same plan


@dataclass(frozen=True)
class ApprovalRequest:
    task: Task
    call: ToolCall

    @property
    def effect(self) -> Effect:
        return self.call.tool.effect


Approver = Callable[[ApprovalRequest], Awaitable[Decision]]


@dataclass(frozen=True)
class ApprovalPolicy:
    """What to do per effect: "allow", "ask" or "deny". `yes` turns every ask into allow."""

    rules: ApprovalConfig = field(default_factory=ApprovalConfig)
    yes: bool = False

    def decide(self, effect: Effect) -> str:
        rule = self.rules.for_effect(effect)
        if rule == "ask" and self.yes:
            return "allow"
        return rule


async def deny_all(request: ApprovalRequest) -> Decision:
    """The approver when nobody can be asked (headless, no --yes): say no."""
    return Decision.DENY
