"""The tools a session may plan with: the built-in tools of the enabled apps, then the tools of
its MCP servers, and which of the servers' tools a request is offered.

It owns the session's MCP hub (started on first use, stopped by `close`) and the similarity
ranking of the servers' tools; the pipeline asks it, so the request path stays one line each.
What could not be had (a server that did not start, a tool refused, a ranking that cannot
run) goes to `note`, which the pipeline says once as a warning.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from tinyagent.core.config import Config
from tinyagent.core.mcp import McpHub
from tinyagent.core.mcp.tools import mcp_tool_specs
from tinyagent.core.toolrag import ToolRAGError
from tinyagent.core.toolrag.embed import default_encoder
from tinyagent.core.toolrag.similarity import SimilarTools, ToolSimilarity
from tinyagent.tools.registry import REGISTRY, ToolSpec, tools_for_apps


def built_in_registry(config: Config) -> dict[str, ToolSpec]:
    """The built-in tools of the apps `config` enables, by name (no MCP server is asked)."""
    return {t.name: t for t in tools_for_apps(set(config.apps))}


class Toolbox:
    def __init__(self, config: Config, note: Callable[[str], None]):
        self.config = config
        self._note = note
        self._hub: McpHub | None = None  # the session's MCP servers, made on first use (registry())
        self._registry: Mapping[str, ToolSpec] | None = None
        self._lock = threading.Lock()  # registry() is called from worker threads side by side
        self._similarity: ToolSimilarity | None = None  # made on the first request that has MCP tools
        self._similarity_failed = False

    def registry(self) -> Mapping[str, ToolSpec]:
        """Every tool a plan may call: the built-in tools of the enabled apps, then the tools of
        every enabled MCP server. The first call starts the servers (it blocks: call it off the
        event loop); a server that cannot start, or a tool refused, is noted once."""
        with self._lock:
            if self._registry is None:
                tools = built_in_registry(self.config)
                if any(s.enabled for s in self.config.mcp.servers.values()):
                    self._hub = self._hub or McpHub(self.config.mcp)
                    # Every built-in name is taken, enabled or not: a server's tool never takes the
                    # name the prompts and ToolRAG know for another tool.
                    catalog = mcp_tool_specs(self._hub, self.config, set(REGISTRY))
                    tools.update((t.name, t) for t in catalog.specs)
                    for line in catalog.notices():
                        self._note(line)
                self._registry = tools
            return self._registry

    def mcp_tools(self) -> list[ToolSpec]:
        """The tools of the session's MCP servers (those of the registry with a `server`)."""
        return [t for t in self.registry().values() if t.server]

    def offered_mcp(self, request: str, *, rank: bool) -> tuple[list[ToolSpec], SimilarTools | None]:
        """The MCP tools `request` is offered, and their similarities: ranked (with ToolRAG),
        those most similar to the request; unranked (without ToolRAG, or without its encoder),
        every one, as every enabled built-in tool is then."""
        mcp = self.mcp_tools()
        ranker = self._ranker() if mcp and rank else None
        if ranker is None:
            return mcp, None
        try:
            similar = ranker.rank(request, mcp)
        except ToolRAGError as exc:  # the encoder cannot read this text (a vocab without [UNK])
            self._ranking_unavailable(str(exc))
            return mcp, None
        by_name = {t.name: t for t in mcp}
        return [by_name[n] for n in similar.selected], similar

    def _ranker(self) -> ToolSimilarity | None:
        if self._similarity is None and not self._similarity_failed:
            encoder = default_encoder()
            if encoder is None:
                self._ranking_unavailable("the built-in ToolRAG encoder cannot load")
            else:
                rag = self.config.toolrag
                self._similarity = ToolSimilarity(encoder, rag.mcp_similarity, rag.mcp_max_tools)
        return self._similarity

    def _ranking_unavailable(self, why: str) -> None:
        self._similarity, self._similarity_failed = None, True
        self._note(f"MCP tools cannot be ranked ({why}); the planner gets every MCP tool")

    def close(self) -> None:
        """Stop the MCP servers (idempotent)."""
        hub, self._hub = self._hub, None
        if hub is not None:
            hub.close()
