"""send_sms: a text message with Messages."""

from __future__ import annotations

import json

from tinyagent.tools import args as A
from tinyagent.tools.applescript import AppleScriptBackend
from tinyagent.tools.base import BaseBackend
from tinyagent.tools.sandbox.backend import SandboxBackend, now_text
from tinyagent.tools.spec import LIST_STR, PHONE, STR, Args, Effect, Extras, Param, ToolSpec


def _check(a: Args) -> None:
    A.require(a["recipients"], "send_sms", "at least one phone number")
    A.check_phones(a["recipients"], "send_sms: recipients")
    A.require(a["message"], "send_sms", "the message text")


def _summary(b: BaseBackend, a: Args, extras: Extras) -> str:
    return f"Send an SMS to {b.who(a['recipients'])}: '{A.quote(a['message'])}'"


def _sandbox(b: SandboxBackend, a: Args, extras: Extras) -> str:
    with b.store.write() as conn:
        conn.execute("INSERT INTO sms (recipients, message, sent_at) VALUES (?,?,?)",
                     (json.dumps(a["recipients"]), a["message"], now_text()))
    return f"Sent to {b.who(a['recipients'])}: '{a['message']}'"


def _mac(b: AppleScriptBackend, a: Args, extras: Extras) -> str:
    return b.run_script(SEND_SMS, a["recipients"], a["message"])


SEND_SMS = ToolSpec(
    "send_sms", "messages", Effect.SEND,
    "Sends a text message with Messages to one or more phone numbers.",
    (
        Param("recipients", LIST_STR, "phone numbers, usually outputs of get_phone_number", resolve=PHONE),
        Param("message", STR, "the text to send"),
    ),
    "a confirmation of delivery",
    companions=("get_phone_number",),
    undone="sent", what="the text message",
    hint="texts the phone numbers",
    check=_check, describe=_summary, sandbox=_sandbox, applescript=_mac, script="send_sms",
)
