"""Apple Maps links (https://maps.apple.com URL scheme), used by every backend."""

from __future__ import annotations

from urllib.parse import urlencode


def location_url(location: str) -> str:
    return "https://maps.apple.com/?" + urlencode({"q": location})


def directions_url(start: str, end: str, transport: str) -> str:
    """`transport` is d, w or r; an empty start means the current location (saddr left out)."""
    query = {"saddr": start} if start else {}
    query.update({"daddr": end, "dirflg": transport})
    return "https://maps.apple.com/?" + urlencode(query)
