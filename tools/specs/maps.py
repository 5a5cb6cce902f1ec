"""maps_open_location, maps_show_directions: Apple Maps links, shown in Maps."""

from __future__ import annotations

from tinyagent.tools import args as A
from tinyagent.tools.applescript import AppleScriptBackend
from tinyagent.tools.base import BaseBackend
from tinyagent.tools.maps import directions_url, location_url
from tinyagent.tools.sandbox.backend import SandboxBackend
from tinyagent.tools.spec import STR, Args, Effect, Extras, Param, ToolSpec


def _location_check(a: Args) -> None:
    A.require(a["location"], "maps_open_location", "a place or address")


def _location_summary(b: BaseBackend, a: Args, extras: Extras) -> str:
    return f"Show {a['location']} in Maps"


def _location_sandbox(b: SandboxBackend, a: Args, extras: Extras) -> str:
    url = location_url(a["location"])
    with b.store.write() as conn:
        b.activity(conn, "maps", "showed location", url)
    return url


def _location_mac(b: AppleScriptBackend, a: Args, extras: Extras) -> str:
    url = location_url(a["location"])
    b.run_script(MAPS_OPEN_LOCATION, url)
    return url


def _directions_check(a: Args) -> None:
    A.require(a["end_location"], "maps_show_directions", "end_location")
    a["transport"] = A.check_transport(a["transport"])


def _directions_summary(b: BaseBackend, a: Args, extras: Extras) -> str:
    start = a["start_location"] or "your current location"
    return f"Show {A.TRANSPORT_WORDS[a['transport']]} directions from {start} to {a['end_location']} in Maps"


def _directions_sandbox(b: SandboxBackend, a: Args, extras: Extras) -> str:
    url = directions_url(a["start_location"], a["end_location"], a["transport"])
    with b.store.write() as conn:
        b.activity(conn, "maps", "showed directions", url)
    return url


def _directions_mac(b: AppleScriptBackend, a: Args, extras: Extras) -> str:
    url = directions_url(a["start_location"], a["end_location"], a["transport"])
    b.run_script(MAPS_SHOW_DIRECTIONS, url)
    return url


MAPS_OPEN_LOCATION = ToolSpec(
    "maps_open_location", "maps", Effect.UI,
    "Shows a place in Maps and returns a link to it.",
    (Param("location", STR, "the place or address"),),
    "a Maps link to the place",
    undone="opened", what="opening Maps",
    hint="shows a place in Maps; returns its link",
    check=_location_check, describe=_location_summary, sandbox=_location_sandbox, applescript=_location_mac,
    script="open_maps_url",
)

MAPS_SHOW_DIRECTIONS = ToolSpec(
    "maps_show_directions", "maps", Effect.UI,
    "Shows directions between two places in Maps and returns a link to them.",
    (
        Param("start_location", STR, "where to start; empty for the current location"),
        Param("end_location", STR, "where to go"),
        Param("transport", STR, "'d' driving, 'w' walking, 'r' public transit"),
    ),
    "a Maps link to the directions",
    undone="opened", what="opening Maps",
    hint="directions in Maps, returns their link; start \"\" for here; transport \"d\" drive, \"w\" walk, \"r\" transit",
    check=_directions_check, describe=_directions_summary, sandbox=_directions_sandbox,
    applescript=_directions_mac, script="open_maps_url",
)
