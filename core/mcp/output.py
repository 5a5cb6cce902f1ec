"""A tool call's result as the text a plan passes on (`$N`) and a person reads.

Text items are the result (the MCP spec asks a server with structured content to send its JSON
as text too, so that text already says it); structured content is JSON-encoded only when no
text item carries it. Images, audio and binary resources are named with their type and size,
never inlined: their bytes mean nothing to a planner and would fill its context. The whole is
cut at `mcp.max_output` characters, with a last line saying how much was cut.
"""

from __future__ import annotations

import json
from typing import Any

from tinyagent.core.mcp.model import McpOutput


def _decoded_size(data: str) -> int:
    """Bytes that base64 `data` decodes to, without decoding it (a 10 MB image stays unread)."""
    return max(len(data) * 3 // 4 - data[-2:].count("="), 0) if data else 0


def _item_text(item: Any) -> str:
    kind = getattr(item, "type", "")
    if kind == "text":
        return str(item.text)
    if kind in ("image", "audio"):
        return f"[{kind}: {item.mime_type}, {_decoded_size(item.data)} bytes]"
    if kind == "resource":
        resource = item.resource
        text = getattr(resource, "text", None)
        if text is not None:
            return f"[resource: {resource.uri}]\n{text}"
        blob = getattr(resource, "blob", "") or ""
        return f"[resource: {resource.uri}, {resource.mime_type or 'binary'}, {_decoded_size(blob)} bytes]"
    if kind == "resource_link":
        return f"[link: {item.name}, {item.uri}]"
    return f"[{kind or 'unknown'} content]"


def cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return (f"{text[:limit]}\n[cut: {len(text) - limit:,} of {len(text):,} characters not shown "
            f"(mcp.max_output is {limit:,})]")


def tool_output(result: Any, max_output: int) -> McpOutput:
    """`result`: the SDK's CallToolResult."""
    items = list(result.content or [])
    parts = [_item_text(item) for item in items]
    if result.structured_content is not None and not any(getattr(i, "type", "") == "text" for i in items):
        parts.insert(0, json.dumps(result.structured_content, ensure_ascii=False))
    return McpOutput(cut("\n".join(parts), max_output), bool(result.is_error))
