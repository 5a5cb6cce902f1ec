"""get_phone_number, get_email_address: looking people up in Contacts."""

from __future__ import annotations

import re

from tinyagent.tools import args as A
from tinyagent.tools.applescript import AppleScriptBackend
from tinyagent.tools.base import BaseBackend
from tinyagent.tools.sandbox.backend import SandboxBackend
from tinyagent.tools.spec import STR, Args, Effect, Extras, Param, ToolSpec

_NAME = (Param("name", STR, "the person's name as the user said it"),)


def _phone_check(a: Args) -> None:
    A.require(a["name"], "get_phone_number", "the person's name")


def _email_check(a: Args) -> None:
    A.require(a["name"], "get_email_address", "the person's name")


def _phone_summary(b: BaseBackend, a: Args, extras: Extras) -> str:
    return f"Look up {a['name']}'s phone number in Contacts"


def _phone_sandbox(b: SandboxBackend, a: Args, extras: Extras) -> str:
    if A.looks_like_phone(a["name"]):
        return a["name"]
    return str(b.contact(a["name"], "get_phone_number")["phone"])


def _phone_mac(b: AppleScriptBackend, a: Args, extras: Extras) -> str:
    if A.looks_like_phone(a["name"]):
        return a["name"]
    return b.run_script(GET_PHONE_NUMBER, a["name"])


def _email_summary(b: BaseBackend, a: Args, extras: Extras) -> str:
    return f"Look up {a['name']}'s email address in Contacts"


def _email_sandbox(b: SandboxBackend, a: Args, extras: Extras) -> str:
    if A.looks_like_email(a["name"]):
        return a["name"]
    return str(b.contact(a["name"], "get_email_address")["email"])


def _email_mac(b: AppleScriptBackend, a: Args, extras: Extras) -> str:
    if A.looks_like_email(a["name"]):
        return a["name"]
    return b.run_script(GET_EMAIL_ADDRESS, a["name"])


GET_PHONE_NUMBER = ToolSpec(
    "get_phone_number", "contacts", Effect.READ,
    "Looks up a person in Contacts and returns their phone number.",
    _NAME, "the phone number as a string",
    hint="a contact's phone number",
    given_in_request=re.compile(r"\+?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}\b"),
    check=_phone_check, describe=_phone_summary, sandbox=_phone_sandbox, applescript=_phone_mac,
    script="get_phone_number",
)

GET_EMAIL_ADDRESS = ToolSpec(
    "get_email_address", "contacts", Effect.READ,
    "Looks up a person in Contacts and returns their email address.",
    _NAME, "the email address as a string",
    hint="a contact's email address",
    given_in_request=re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),
    check=_email_check, describe=_email_summary, sandbox=_email_sandbox, applescript=_email_mac,
    script="get_email_address",
)
