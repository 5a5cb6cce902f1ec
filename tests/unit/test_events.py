"""Each event's kind comes from its class: unique, complete, and the same strings as ever
(history files, `--json` output and scripts read them)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tinyagent.core import events as E
from tinyagent.core.plan import Ref, Task, Template

# The wire names as they have always been: a rename breaks every reader of the JSON lines.
KINDS = {
    E.RequestStarted: "request_started", E.ToolsSelected: "tools_selected", E.PlanToken: "plan_token",
    E.StageTiming: "stage_timing", E.Notice: "notice", E.Replanning: "replanning", E.AnswerReady: "answer",
    E.AnswerToken: "answer_token", E.PlanStarted: "plan_started", E.TaskAdded: "task_added",
    E.TaskStarted: "task_started", E.ApprovalRequested: "approval_requested",
    E.ApprovalResolved: "approval_resolved", E.TaskFinished: "task_finished", E.PlanFinished: "plan_finished",
    E.AudioLevel: "audio_level", E.TranscriptReady: "transcript", E.DownloadProgress: "download_progress",
}

TASK = Task(2, "send_sms", (["$1"], Template(("Mail ", Ref(1), " now"))), line=2)
SUMMARY = E.RunSummary("r1", {1: E.TaskStatus.DONE, 2: E.TaskStatus.FAILED}, {1: "+1 555"}, {2: "no"}, 0.5)
SAMPLES = [
    E.RequestStarted("text Ann", dry_run=True),
    E.ToolsSelected({"send_sms": 0.9}, ("send_sms",), 0.5, 0.01),
    E.PlanToken("1. "),
    E.StageTiming("toolrag", 0.01, {"tools": 2}),
    E.Notice("warning", "careful"),
    E.Replanning(2, "the lookup failed"),
    E.AnswerReady("Done.", case="no joiner: actions done"),
    E.AnswerToken("Do"),
    E.PlanStarted("r1", "off"),
    E.TaskAdded(TASK),
    E.TaskStarted(1, "get_phone_number", {"name": "Ann"}),
    E.ApprovalRequested(2, "send_sms", "send", {"message": "hi"}, "Text Ann: hi"),
    E.ApprovalResolved(2, "approve"),
    E.TaskFinished(1, "get_phone_number", E.TaskStatus.DONE, output="+1 555"),
    E.PlanFinished(SUMMARY),
    E.AudioLevel(0.1, 0.4, 1.5),
    E.TranscriptReady("text Ann", 0.8),
    E.DownloadProgress("base.en", 10, None),
]


def _event_classes(cls: type = E.Event) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _event_classes(sub)
    return out


def test_every_event_class_has_its_own_kind_and_a_sample_here():
    classes = _event_classes()
    assert classes == set(KINDS) == {type(e) for e in SAMPLES}, "a new event needs its kind and a sample here"
    assert {cls: cls.kind for cls in classes} == KINDS
    assert len({cls.kind for cls in classes}) == len(classes)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_a_serialized_event_reads_back_as_its_class(event):
    line = json.loads(json.dumps(event.to_json()))
    assert line["event"] == KINDS[type(event)] == event.kind
    assert E.event_class(line["event"]) is type(event)
    assert set(line) == {"event"} | {f.name for f in dataclasses.fields(event) if f.name != "ts"}


def test_two_events_cannot_share_a_kind_nor_go_without_one():
    with pytest.raises(TypeError, match="already Notice's"):
        type("Another", (E.Event,), {}, kind="notice")
    with pytest.raises(TypeError):
        type("Nameless", (E.Event,), {})
    assert E.event_class("notice") is E.Notice
    with pytest.raises(KeyError):
        E.event_class("no_such_event")
