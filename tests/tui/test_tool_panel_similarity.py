"""The tool panel draws MCP tools' similarities beside the classifier's probabilities, marked
as similarities: under their own heading, values written "~0.87", another colour and bar."""

from __future__ import annotations

from tests.support.tui_helpers import make_app, screen_characters, wait_for
from tinyagent.core.events import ToolsSelected
from tinyagent.tools.registry import TOOL_NAMES
from tinyagent.tui.widgets import theme_color
from tinyagent.tui.widgets.tool_panel import ToolBars

PROBS = {n: (0.91 if n == "create_note" else 0.02) for n in TOOL_NAMES}
SIMILAR = {"write_file": 0.873, "edit_file": 0.869, "list_directory": 0.61}
EVENT = ToolsSelected(PROBS, ("create_note", "write_file", "edit_file"), 0.5, 0.01, similarities=SIMILAR,
                      similarity_threshold=0.75)


async def test_similarities_are_drawn_marked_apart_from_probabilities(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 50)) as pilot:
        await pilot.pause()
        app.main_screen.show(EVENT, dry=False)
        bars = app.query_one(ToolBars)
        await wait_for(pilot, lambda: "ToolRAG: 3 of 19 tools" in screen_characters(app))
        text = bars.render()
        lines = text.plain.splitlines()
        assert lines[0].startswith("ToolRAG: 3 of 19 tools, threshold 0.50")
        heading = lines.index("MCP tools by similarity (~, not a probability), threshold 0.75")
        assert heading == 1 + len(TOOL_NAMES)  # after every probability row
        rows = lines[heading + 1:]
        assert [r.split()[0].lstrip("●") for r in rows] == ["write_file", "edit_file", "list_directory"]
        assert [r.split()[-1] for r in rows] == ["~0.87", "~0.87", "~0.61"]
        assert rows[0].startswith("●write_file") and not rows[2].startswith("●")
        assert "▒" in rows[0] and "┊" in rows[0] and "▒" not in "\n".join(lines[:heading])
        # Another colour than a chosen probability row's.
        colour = theme_color(app, "text-secondary")
        styles = {str(span.style) for span in text.spans if text.plain[span.start:span.end].startswith("●write_file")}
        assert styles == {f"bold {colour}"} and colour != theme_color(app, "text-accent")
        assert bars.get_content_height(None, None, 80) == len(lines)
        bars.clear()
        assert bars.similarities == {}
