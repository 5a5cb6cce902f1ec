"""What a tool is: its signature for the model, its effect, and how each backend runs it.

A `ToolSpec` is the one place a tool is defined (see tools/specs/). The plan validator, the
grammar, ToolRAG and the prompts read its data; the backends call its functions. This
module imports nothing of ours, so every other module can use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from re import Pattern
from typing import Any


class Effect(str, Enum):
    """What running a tool does to the user's world; anything but READ needs approval."""

    READ = "read"  # looks something up, changes nothing
    UI = "ui"  # opens an app, a file or a map on screen
    DRAFT = "draft"  # prepares a message the user still sends
    SEND = "send"  # delivers something to other people
    WRITE = "write"  # creates or changes the user's data
    NETWORK = "network"  # calls an online service
    EXTERNAL = "external"  # runs a tool of an MCP server: what it does is the server's word only

    @property
    def changes_something(self) -> bool:
        return self is not Effect.READ


# Argument types as the model writes them.
STR, LIST_STR, INT, BOOL = "str", "list[str]", "int", "bool"

# What a name given where an address, number or path belongs is looked up as (Param.resolve).
EMAIL, PHONE, PATH = "email", "phone", "path"

# The typed arguments of one call (tools.args.coerce_args) and the text `prepare` wrote for it.
Args = dict[str, Any]
Extras = dict[str, Any]
# Handlers get the backend as their first argument: tools.base.BaseBackend for describe and
# write, tools.sandbox.SandboxBackend or tools.applescript.AppleScriptBackend for running.
# They are typed as Any here (this module cannot import them) and exactly in tools/specs/.
Check = Callable[[Args], None]
Describe = Callable[[Any, Args, Extras], str]
Write = Callable[[Any, Args, str], Extras]
Run = Callable[[Any, Args, Extras], Any]


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    description: str
    # EMAIL, PHONE or PATH: a contact or file name given here is looked up before the checks,
    # as TinyAgent's tools do (ensure_email_formatting, ensure_phone_number_formatting,
    # ensure_file_paths in src/tiny_agent/tiny_agent_tools.py).
    resolve: str = ""
    # A plan may leave it out. Optional parameters come last (ToolSpec checks), so a call gives
    # at least `ToolSpec.required` arguments and at most `arity`; only MCP tools have any.
    optional: bool = False
    # A date and time written 'YYYY-MM-DD HH:MM:SS': core/dates.py sets it to the day the
    # request names in words ("tomorrow") when the model wrote another.
    when: bool = False


def _no_check(args: Args) -> None:
    return None


def _no_text(backend: Any, args: Args, request: str) -> Extras:
    return {}


@dataclass(frozen=True)
class ToolSpec:
    name: str
    app: str
    effect: Effect
    description: str
    params: tuple[Param, ...]
    returns: str  # what the output is, for prompts and for `$N` users
    # Tools this one is rarely useful without (ToolRAG adds them when this one is selected).
    companions: tuple[str, ...] = field(default=())
    hint: str = ""  # the short line after the signature in the compact prompt ("" = description)
    # How an answer names a step of this tool that did not run: "Not scheduled: the calendar event."
    undone: str = ""  # what did not happen ("scheduled"); "" = the answer does not list it
    what: str = ""  # the thing it makes ("the calendar event"); "" = the tool's name
    # What this tool's output looks like: as a companion (ToolRAG) it is not added to a request
    # that already contains such text (an email address, a phone number).
    given_in_request: Pattern[str] | None = field(default=None, compare=False)
    # -- behaviour (compare=False: two specs are equal by their data) --------------------------
    # Validates and normalises the typed arguments in place; raises tools.backend.ToolError.
    check: Check = field(default=_no_check, compare=False, repr=False)
    # The one-line summary shown for approval; read-only.
    describe: Describe | None = field(default=None, compare=False, repr=False)
    # Text a writer drafts before approval (email bodies, note content), as call extras.
    write: Write = field(default=_no_text, compare=False, repr=False)
    sandbox: Run | None = field(default=None, compare=False, repr=False)
    applescript: Run | None = field(default=None, compare=False, repr=False)
    script: str = ""  # the applescripts/<script>.applescript the AppleScript handler runs, if any
    # "" for a built-in tool; else the MCP server whose tool this is (core/mcp/tools.py).
    server: str = ""
    # The tool's name on its server, where `name` differs from it (a `<server>_` prefix); "" = `name`.
    remote_name: str = ""

    def __post_init__(self) -> None:
        kinds = [p.optional for p in self.params]
        if kinds != sorted(kinds):  # a plan leaves out trailing arguments only
            raise ValueError(f"{self.name}: optional parameters must come after the required ones")

    @property
    def arity(self) -> int:
        return len(self.params)

    @property
    def required(self) -> int:
        """How many arguments a call must give: the parameters before the first optional one."""
        return sum(1 for p in self.params if not p.optional)

    @property
    def arity_words(self) -> str:
        """How many arguments a call gives, in words: "3", or "1 to 3" where trailing ones are optional."""
        return str(self.arity) if self.required == self.arity else f"{self.required} to {self.arity}"

    def takes(self, count: int) -> bool:
        """Whether a call with `count` arguments fits (trailing optional ones may be left out)."""
        return self.required <= count <= self.arity

    def signature(self) -> str:
        args = ", ".join(f"{p.name}: {p.type}{'?' if p.optional else ''}" for p in self.params)
        return f"{self.name}({args})"
