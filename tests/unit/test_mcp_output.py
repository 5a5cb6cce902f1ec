"""A tool call's result as text (core/mcp/output.py), from the SDK's own result types."""

from __future__ import annotations

import base64

from mcp.types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
)

from tinyagent.core.mcp.output import tool_output


def _b64(n: int) -> str:
    return base64.b64encode(bytes(n)).decode()


def test_text_items_are_the_output_and_structured_content_is_not_said_twice():
    result = CallToolResult(content=[TextContent(type="text", text='{"files": 3}'), TextContent(type="text", text="ok")],
                            structured_content={"files": 3})
    assert tool_output(result, 1000).text == '{"files": 3}\nok'


def test_structured_content_alone_is_json():
    result = CallToolResult(content=[], structured_content={"city": "Zürich", "temperature": 21.5})
    assert tool_output(result, 1000).text == '{"city": "Zürich", "temperature": 21.5}'


def test_binary_content_is_named_with_its_size_never_inlined():
    for size in (0, 1, 2, 3, 1234):  # every base64 padding
        image = CallToolResult(content=[ImageContent(type="image", data=_b64(size), mime_type="image/png")])
        assert tool_output(image, 1000).text == f"[image: image/png, {size} bytes]"
    result = CallToolResult(content=[
        AudioContent(type="audio", data=_b64(10), mime_type="audio/wav"),
        EmbeddedResource(type="resource", resource=BlobResourceContents(uri="file:///a.pdf", blob=_b64(7),
                                                                        mime_type="application/pdf")),
        EmbeddedResource(type="resource", resource=TextResourceContents(uri="file:///notes.txt", text="buy milk")),
        ResourceLink(type="resource_link", name="report", uri="file:///report.md"),
    ])
    assert tool_output(result, 1000).text == (
        "[audio: audio/wav, 10 bytes]\n[resource: file:///a.pdf, application/pdf, 7 bytes]\n"
        "[resource: file:///notes.txt]\nbuy milk\n[link: report, file:///report.md]")


def test_output_is_cut_at_max_output_with_a_line_saying_how_much():
    exact = CallToolResult(content=[TextContent(type="text", text="x" * 100)])
    assert tool_output(exact, 100).text == "x" * 100
    long = CallToolResult(content=[TextContent(type="text", text="x" * 12_345)])
    assert tool_output(long, 100).text == "x" * 100 + "\n[cut: 12,245 of 12,345 characters not shown (mcp.max_output is 100)]"


def test_a_tool_error_stays_an_error():
    out = tool_output(CallToolResult(content=[TextContent(type="text", text="no such file")], is_error=True), 1000)
    assert out.is_error and out.text == "no such file"
