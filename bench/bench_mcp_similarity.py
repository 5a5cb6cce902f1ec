"""How well the built-in encoder's similarity picks an MCP server's tools (toolrag.mcp_similarity, mcp_max_tools).

    .venv/bin/python bench/bench_mcp_similarity.py [--server PROGRAM] [--thresholds 0.6,0.7,0.75,0.8] [--max 4,6]

Starts the reference filesystem server (`.ci/setup --dev` installs it) on an empty temp folder
through the app's own hub, turns its tools into ToolSpecs as a session does, and ranks them
(core/toolrag/similarity.py) for REQUESTS, each written for one of its tools, and for the built-in
example requests (core/toolrag/examples.yaml), which need none of them. Per threshold and cap it
prints how often the needed tool was offered, how many were offered, and how many a built-in
request got. The README's numbers for the default (0.75, at most 4) come from this script.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyagent.core.config import Config, McpServerConfig  # noqa: E402
from tinyagent.core.mcp import McpHub  # noqa: E402
from tinyagent.core.mcp.tools import mcp_tool_specs  # noqa: E402
from tinyagent.core.toolrag.embed import default_encoder  # noqa: E402
from tinyagent.core.toolrag.examples import builtin_examples  # noqa: E402
from tinyagent.core.toolrag.similarity import ToolSimilarity  # noqa: E402
from tinyagent.tools.registry import REGISTRY  # noqa: E402

# request -> the filesystem server's tool it needs (written for this benchmark)
REQUESTS = {
    "Save a note file called todo.txt in my folder saying buy milk": "write_file",
    "Write hello to the file greeting.txt": "write_file",
    "What is in the file report.txt?": "read_text_file",
    "List the files in my folder": "list_directory",
    "Rename draft.txt to final.txt": "move_file",
    "Find every markdown file in my projects": "search_files",
    "Make a new folder called photos": "create_directory",
    "Read notes.md and email it to John": "read_text_file",
    "Show me the contents of config.yaml": "read_text_file",
    "Put the meeting minutes in minutes.txt": "write_file",
    "How big is backup.zip?": "get_file_info",
    "Move old.log into the archive folder": "move_file",
    "Create a file named plan.md with the text step one": "write_file",
    "Which folders am I allowed to access?": "list_allowed_directories",
    "Show the folder tree of my project": "directory_tree",
    "Read the first 10 lines of server.log": "read_text_file",
    "When was budget.xlsx last modified?": "get_file_info",
    "Look for files named invoice in my documents": "search_files",
    "Delete nothing, just list what is in /tmp/work": "list_directory",
    "Create the file todo.txt containing buy milk": "write_file",
    "Write the text buy milk into a new file todo.txt": "write_file",
    "Save buy milk to the file todo.txt in my folder": "write_file",
}
SERVER = Path(".venv/mcp-node/node_modules/.bin/mcp-server-filesystem")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", default=str(ROOT / SERVER), help="the filesystem server's program")
    ap.add_argument("--thresholds", default="0.6,0.65,0.7,0.75,0.8,0.85")
    ap.add_argument("--max", default="4,6", help="caps (toolrag.mcp_max_tools) to try")
    args = ap.parse_args()
    encoder = default_encoder()
    if encoder is None:
        print("the built-in ToolRAG encoder cannot load", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        config = Config()
        config.mcp.servers["files"] = McpServerConfig(command=args.server, args=[folder])
        hub = McpHub(config.mcp)
        try:
            catalog = mcp_tool_specs(hub, config, set(REGISTRY))
        finally:
            hub.close()
    if catalog.failed:
        print(f"the server did not start: {catalog.failed}", file=sys.stderr)
        return 2
    tools = list(catalog.specs)
    names = {t.name for t in tools}
    needing = {r: w for r, w in REQUESTS.items() if w in names}
    others = [e.query for e in builtin_examples()]
    ranker = ToolSimilarity(encoder, -1.0, len(tools))
    scores = {r: ranker.rank(r, tools).similarities for r in [*needing, *others]}
    print(f"{len(tools)} tools of the filesystem server; {len(needing)} requests needing one, "
          f"{len(others)} built-in example requests needing none")
    print("similarity of the needed tool: " + " ".join(f"{scores[r][w]:.2f}" for r, w in needing.items()))
    best = [max(scores[r].values()) for r in others]
    print(f"built-in requests' highest similarity: median {statistics.median(best):.2f}, max {max(best):.2f}")
    for threshold in (float(x) for x in args.thresholds.split(",")):
        for cap in (int(x) for x in args.max.split(",")):
            def offered(request: str, threshold: float = threshold, cap: int = cap) -> list[str]:
                over = [n for n, s in scores[request].items() if s >= threshold]
                return sorted(over, key=lambda n: -scores[request][n])[:cap]
            hits = sum(w in offered(r) for r, w in needing.items())
            each = statistics.mean(len(offered(r)) for r in needing)
            extra = [len(offered(r)) for r in others]
            print(f"threshold {threshold:.2f}, at most {cap}: needed tool offered {hits}/{len(needing)} "
                  f"({each:.1f} offered); built-in requests get {statistics.mean(extra):.2f} "
                  f"(none for {extra.count(0)}/{len(others)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
