"""An MCP server's tools as tools of the plan: one ToolSpec each, under the same approval gate.

What a server says about a tool (its description, its annotations, its outputs) is text from
a program that may not be trusted. None of it decides policy: a tool's effect comes from the
config alone (`trusted: true` lets the server's readOnlyHint count; `read_only` names tools the
user vouches for). Everything else is EXTERNAL, asks before it runs and is not called by a dry run.

A tool's parameters come from its input JSON schema, in the schema's property order with the
required ones first; a plan may leave out trailing optional ones. Types the plan language can
write: string (enum values checked before the call), integer and number (as whole numbers,
range checked), boolean, array of strings. A required parameter of any other type refuses the
tool, with the reason; an optional one is left out (the server's default applies).
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from tinyagent.core.config import Config
from tinyagent.core.mcp import McpError, McpHub, McpToolInfo
from tinyagent.core.tool_text import flat
from tinyagent.tools import args as A
from tinyagent.tools.backend import OutcomeUnknown, ToolError, begin_effect, current_guard
from tinyagent.tools.spec import BOOL, INT, LIST_STR, STR, Args, Effect, Extras, Param, ToolSpec

APP = "mcp"  # ToolSpec.app of every server's tool (the server itself is ToolSpec.server)
MAX_DESCRIPTION = 300  # characters of a tool's description the prompt gets
MAX_PARAM_DESCRIPTION = 120
MAX_ERROR = 300  # characters of a server's error line kept
MAX_SHOWN = 160  # characters of one text argument in the approval's one line
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # what a plan can call (core/parser.py's _CALL_START)
# Names a plan cannot use for a tool: `join()` ends a plan, Python's keywords do not parse as calls.
RESERVED = frozenset({"join", *keyword.kwlist})


@dataclass(frozen=True)
class McpCatalog:
    """The tools of every enabled server, what was refused and which servers could not start."""

    specs: tuple[ToolSpec, ...] = ()
    refused: tuple[tuple[str, str, str], ...] = ()  # (server, tool, why)
    failed: dict[str, str] = field(default_factory=dict)  # server -> why it could not start

    def notices(self) -> list[str]:
        """One line per problem, for a Notice: a server that did not start, a tool refused."""
        lines = [f"MCP server {server} is not available: {why}" for server, why in self.failed.items()]
        lines += [f"MCP tool {tool} of {server} is left out: {why}" for server, tool, why in self.refused]
        return lines


class Refused(ValueError):
    """A tool (or parameter) a plan cannot call; the message says why."""


def mcp_tool_specs(hub: McpHub, config: Config, taken: Collection[str]) -> McpCatalog:
    """Every enabled server's tools as ToolSpecs. `taken`: the names already in the registry (the
    built-in tools); a server's tool whose name clashes with one of those, or with another
    server's tool, is named `<server>_<tool>`. Servers start here (the hub starts them lazily)."""
    listed: list[tuple[str, McpToolInfo]] = []
    failed: dict[str, str] = {}
    for server in hub.servers():
        try:
            listed += [(server, info) for info in hub.tools(server)]
        except McpError as exc:
            failed[server] = _error_line(getattr(exc, "reason", "") or str(exc))
    plain = [_plain_name(info.name) for _, info in listed]
    servers_of: dict[str, set[str]] = {}
    for (server, _), name in zip(listed, plain):
        servers_of.setdefault(name, set()).add(server)
    specs: list[ToolSpec] = []
    refused: list[tuple[str, str, str]] = []
    names = set(taken)
    for (server, info), name in zip(listed, plain):
        if name in names or name in RESERVED or len(servers_of[name]) > 1 or not _NAME.fullmatch(name):
            name = f"{server}_{name}"
        shown = flat(info.name, 80)
        if not _NAME.fullmatch(name):
            refused.append((server, shown, "its name is not one a plan can call (letters, digits and _)"))
            continue
        if name in names:
            refused.append((server, shown, f"its name {name} is taken by another tool"))
            continue
        try:
            spec = _spec(hub, config, server, info, name)
        except Refused as exc:
            refused.append((server, shown, str(exc)))
            continue
        names.add(name)
        specs.append(spec)
    return McpCatalog(tuple(specs), tuple(refused), failed)


def _plain_name(remote: str) -> str:
    """A server's tool name as a plan writes it: `get-weather` and `files.read` become
    `get_weather` and `files_read` (the call still uses the server's own name)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", remote)


def _spec(hub: McpHub, config: Config, server: str, info: McpToolInfo, name: str) -> ToolSpec:
    params, rules = _params(info.input_schema)
    effect = effect_of(config, server, info)
    remote = info.name
    run = _runner(hub, server, remote, effect)
    description = flat(_first_paragraph(info.description), MAX_DESCRIPTION) or flat(info.title or "", 80) \
        or f"a tool of the MCP server {server}"
    return ToolSpec(
        name, APP, effect, description, params, f"the output of {server}'s {remote}",
        check=_checker(name, rules), describe=_describer(server, remote), sandbox=run, applescript=run,
        server=server, remote_name=remote if remote != name else "",
    )


def effect_of(config: Config, server: str, info: McpToolInfo) -> Effect:
    """READ only on the user's word: the tool is in the server's `read_only` list, or the server
    is `trusted` and says readOnlyHint. Nothing the server writes elsewhere can make it a read."""
    settings = config.mcp.servers.get(server)
    if settings is None:
        return Effect.EXTERNAL
    if info.name in settings.read_only or (settings.trusted and info.read_only_hint is True):
        return Effect.READ
    return Effect.EXTERNAL


# -- parameters ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Rule:
    """What a value must be beyond its type, checked before the call."""

    name: str
    required: bool
    nullable: bool = False
    enum: tuple[str, ...] = ()  # strings, or a list's items
    low: float | None = None  # numbers: inclusive bounds
    high: float | None = None
    above: float | None = None  # exclusive bounds
    below: float | None = None
    min_items: int | None = None
    max_items: int | None = None


def _params(schema: Mapping[str, Any]) -> tuple[tuple[Param, ...], list[_Rule]]:
    if not isinstance(schema, Mapping) or schema.get("type", "object") != "object":
        raise Refused("its input schema is not an object of named parameters")
    properties = schema.get("properties") or {}
    required = schema.get("required") or []
    if not isinstance(properties, Mapping) or not isinstance(required, list):
        raise Refused("its input schema's properties or required list are malformed")
    missing = [str(r) for r in required if r not in properties]
    if missing:
        raise Refused(f"it requires {flat(', '.join(missing), 80)}, which its schema does not describe")
    ordered = [n for n in properties if n in required] + [n for n in properties if n not in required]
    params: list[Param] = []
    rules: list[_Rule] = []
    for prop in ordered:
        is_required = prop in required
        try:
            param, rule = _param(prop, properties[prop], is_required)
        except Refused as exc:
            if is_required:
                raise Refused(f"parameter {flat(prop, 40)!r} {exc}") from None
            continue  # an optional parameter a plan cannot write: the server's default applies
        params.append(param)
        rules.append(rule)
    return tuple(params), rules


def _param(prop: str, schema: Any, required: bool) -> tuple[Param, _Rule]:
    if not isinstance(prop, str) or not prop or flat(prop, 200) != prop or len(prop) > 64:
        raise Refused("has a name a plan cannot show (control characters, or over 64 characters)")
    if not isinstance(schema, Mapping):
        raise Refused("has no schema")
    schema, nullable = _without_null(schema)
    kind = schema.get("type")
    rule: dict[str, Any] = {"name": prop, "required": required, "nullable": nullable}
    if "const" in schema:
        schema = {**schema, "enum": [schema["const"]]}
    if kind == "string":
        type_, rule["enum"] = STR, _enum(schema)
    elif kind in ("integer", "number"):
        type_ = INT
        for key, slot in (("minimum", "low"), ("maximum", "high"), ("exclusiveMinimum", "above"),
                          ("exclusiveMaximum", "below")):
            bound = schema.get(key)
            if isinstance(bound, (int, float)) and not isinstance(bound, bool) and math.isfinite(bound):
                rule[slot] = bound
        if "enum" in schema:
            raise Refused("is a number from a list, which a plan cannot be held to")
    elif kind == "boolean":
        type_ = BOOL
    elif kind == "array":
        items, _ = _without_null(schema.get("items") if isinstance(schema.get("items"), Mapping) else {})
        if items.get("type") != "string":
            raise Refused(f"is a list of {_type_words(items)}; a plan writes lists of text only")
        type_, rule["enum"] = LIST_STR, _enum(items)
        for key, slot in (("minItems", "min_items"), ("maxItems", "max_items")):
            if isinstance(schema.get(key), int) and not isinstance(schema.get(key), bool):
                rule[slot] = schema[key]
    else:
        raise Refused(f"is {_type_words(schema)}, which a plan cannot write")
    words = flat(_first_paragraph(str(schema.get("description") or "")), MAX_PARAM_DESCRIPTION)
    if rule.get("enum"):
        words = _joined(words, "one of " + ", ".join(rule["enum"]))
    return Param(prop, type_, words, optional=not required), _Rule(**rule)


def _without_null(schema: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    """`schema` with a null alternative taken out (`type: [string, null]`, `anyOf: [.., {type: null}]`),
    and whether there was one. More than one other alternative stays (and is refused)."""
    kind = schema.get("type")
    if isinstance(kind, list):
        others = [k for k in kind if k != "null"]
        if len(others) == 1:
            return {**schema, "type": others[0]}, len(others) < len(kind)
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list):
            others = [o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")]
            if len(others) == 1 and isinstance(others[0], Mapping):
                merged = {k: v for k, v in schema.items() if k != key}
                return {**others[0], **merged}, len(others) < len(options)
    return schema, False


def _enum(schema: Mapping[str, Any]) -> tuple[str, ...]:
    values = schema.get("enum")
    if values is None:
        return ()
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise Refused("is a choice of values that are not all text")
    return tuple(values)


def _type_words(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if "$ref" in schema:
        return "a nested type ($ref)"
    if kind == "object":
        return "an object"
    if isinstance(kind, str):
        return f"of type {flat(kind, 20)}"
    if "anyOf" in schema or "oneOf" in schema:
        return "one of several types"
    return "of no given type"


# -- behaviour ------------------------------------------------------------------------------------------
def _checker(tool: str, rules: list[_Rule]) -> Callable[[Args], None]:
    """The tool's check (ToolSpec.check): every rule the schema states, before the server sees the call."""

    def check(a: Args) -> None:
        for rule in rules:
            if rule.name not in a:
                continue  # an optional parameter the plan left out
            where = f"{tool}: {rule.name}"
            value = a[rule.name]
            if value is None:
                if rule.required and not rule.nullable:
                    raise ToolError(f"{where}: a value is required")
                continue
            values = value if isinstance(value, list) else [value]
            if rule.enum:
                for item in values:
                    if item not in rule.enum:
                        raise ToolError(f"{where}: must be one of {', '.join(map(repr, rule.enum))}, "
                                        f"not {A.quote(str(item), 40)!r}")
            if isinstance(value, list):
                if rule.min_items is not None and len(value) < rule.min_items:
                    raise ToolError(f"{where}: needs at least {rule.min_items} item(s), got {len(value)}")
                if rule.max_items is not None and len(value) > rule.max_items:
                    raise ToolError(f"{where}: takes at most {rule.max_items} item(s), got {len(value)}")
            elif isinstance(value, int) and not isinstance(value, bool):
                _check_range(where, value, rule)

    return check


def _check_range(where: str, value: int, rule: _Rule) -> None:
    if rule.low is not None and value < rule.low:
        raise ToolError(f"{where}: must be at least {rule.low:g}, not {value}")
    if rule.high is not None and value > rule.high:
        raise ToolError(f"{where}: must be at most {rule.high:g}, not {value}")
    if rule.above is not None and value <= rule.above:
        raise ToolError(f"{where}: must be more than {rule.above:g}, not {value}")
    if rule.below is not None and value >= rule.below:
        raise ToolError(f"{where}: must be less than {rule.below:g}, not {value}")


def _describer(server: str, remote: str) -> Callable[[Any, Args, Extras], str]:
    """The approval's one line: which server, which of its tools, with what. Raw text here: every
    approval text is shown through core.sanitize.visible, which makes control characters visible."""

    def describe(backend: Any, a: Args, extras: Extras) -> str:
        shown = ", ".join(f"{k}={_brief(v)}" for k, v in a.items())
        return f"MCP server {server}: {remote}({shown})"

    return describe


def _brief(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_brief(v) for v in value) + "]"
    if isinstance(value, str):  # a path is shown whole; a long text is cut (each argument follows in full)
        return '"' + A.quote(value, MAX_SHOWN) + '"'
    return str(value)


def _runner(hub: McpHub, server: str, remote: str, effect: Effect) -> Callable[[Any, Args, Extras], str]:
    """The handler on every backend: the call goes to the server, not to the Mac or the sandbox."""
    changes = effect.changes_something

    def run(backend: Any, a: Args, extras: Extras) -> str:
        guard = current_guard()
        if changes:
            begin_effect()  # an abandoned call stops here, before the server is asked
        try:
            output = hub.call(server, remote, dict(a), on_abandon=guard.on_abandon if guard else None)
        except McpError as exc:  # its line names the server
            if changes:  # the request may have reached the server and done its work
                raise OutcomeUnknown(f"{remote}: {_error_line(str(exc))}; it may or may not have run: check "
                                     f"before trying again") from None
            raise ToolError(f"{remote}: {_error_line(str(exc))}") from None
        if output.is_error:  # the server ran the call and says it failed, in its own words
            why = _error_line(output.text) or "it gave no reason"
            raise ToolError(f"{remote} (MCP server {server}) failed: {why}")
        return output.text

    return run


# -- text from the server ---------------------------------------------------------------------------
def _first_paragraph(text: str) -> str:
    return re.split(r"\n\s*\n", (text or "").strip(), maxsplit=1)[0]


def _error_line(text: str) -> str:
    return flat(text, MAX_ERROR)


def _joined(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
