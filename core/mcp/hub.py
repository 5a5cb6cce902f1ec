"""`McpHub`: the session's MCP servers, started on first use, shared, stopped once.

The servers live on one background thread with its own asyncio loop (session.py: one task per
server owns its process and client session); `tools()` and `call()` block their caller, from
any thread, and bring the work over with `asyncio.run_coroutine_threadsafe`. Nothing starts,
and no MCP SDK is imported, until a server is first used. `close()` stops every server; it is
also registered with atexit, so a program that forgets leaves no server behind when it exits
normally (after a crash, a server sees its stdin close, which ends every well-behaved one).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import threading
import weakref
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tinyagent.core.config import McpConfig, McpServerConfig, cache_dir
from tinyagent.core.mcp.model import McpError, McpOutput, McpToolInfo

if TYPE_CHECKING:
    from tinyagent.core.mcp.session import ServerConnection

__all__ = ["McpError", "McpHub", "McpOutput", "McpToolInfo"]

T = TypeVar("T")
# Beyond a server's own deadline (startup_timeout, call_timeout), the time its failure may take to
# be cleaned up (its process stopped: the SDK's shutdown is bounded at ~7 s) before we stop waiting.
GRACE = 10.0
CLOSE_TIMEOUT = 20.0

_SILENT = logging.NullHandler()  # one instance: adding it again is a no-op

Abandon = Callable[[Callable[[], None]], Callable[[], None]]


class McpHub:
    def __init__(self, config: McpConfig, *, log_dir: Path | None = None) -> None:
        """log_dir: where each stdio server's stderr goes (`<name>.log`); default: the cache dir's mcp-logs/."""
        self._config = config
        self._log_dir = log_dir
        self._enabled = {name: cfg for name, cfg in config.servers.items() if cfg.enabled}
        self._connections: dict[str, ServerConnection] = {}  # made on the loop, on first use
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- the contract ----------------------------------------------------------------------------
    def servers(self) -> list[str]:
        """The enabled servers' names, in the config's order."""
        return list(self._enabled)

    def status(self) -> dict[str, str]:
        """name -> not started | starting | running | failed: <reason> | stopped | disabled, for every configured server."""
        out = {}
        for name, cfg in self._config.servers.items():
            connection = self._connections.get(name)
            out[name] = ("disabled" if not cfg.enabled else connection.state if connection
                         else "stopped" if self._closed else "not started")
        return out

    def tools(self, server: str) -> list[McpToolInfo]:
        """The server's tools; starts it on first use (within its startup_timeout). McpError."""
        timeout = self._server_config(server).startup_timeout + GRACE
        return list(self._run(server, lambda c: c.tools(), timeout, "its start"))

    def call(self, server: str, tool: str, arguments: dict[str, Any], *, on_abandon: Abandon | None = None) -> McpOutput:
        """One tools/call, blocking, from any thread; the server's call_timeout bounds it.

        on_abandon: `tools.backend.CallGuard.on_abandon`; an abandoned call is cancelled on the
        server (notifications/cancelled) and raises McpError here. A tool error of the server's
        own is not raised: it is the output, with `is_error`.
        """
        from tinyagent.core.mcp.output import tool_output

        cfg = self._server_config(server)
        # The server's first use starts it (within startup_timeout); call_timeout then bounds the
        # call itself, on the session. This wait only backs both up.
        timeout = cfg.startup_timeout + cfg.call_timeout + GRACE
        result = self._run(server, lambda c: c.call(tool, arguments), timeout, f"the call to {tool}", on_abandon)
        return tool_output(result, self._config.max_output)

    def close(self) -> None:
        """Stop every server and the loop; idempotent, from any thread but the hub's own."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        done = asyncio.run_coroutine_threadsafe(self._stop_all(), loop)
        try:
            done.result(CLOSE_TIMEOUT)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError, RuntimeError):
            pass  # what could be stopped was; the loop goes regardless
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5.0)
        if not thread.is_alive():
            loop.close()

    # -- the loop --------------------------------------------------------------------------------
    def _server_config(self, server: str) -> McpServerConfig:
        cfg = self._config.servers.get(server)
        if cfg is None:
            known = ", ".join(self._config.servers) or "none configured"
            raise McpError(server, f"no such server in mcp.servers ({known})")
        if not cfg.enabled:
            raise McpError(server, "is disabled (enabled: false)")
        return cfg

    def _run(self, server: str, work: Callable[[ServerConnection], Coroutine[Any, Any, T]], timeout: float,
             doing: str, on_abandon: Abandon | None = None) -> T:
        loop = self._started_loop(server)
        future = asyncio.run_coroutine_threadsafe(self._on_loop(server, work), loop)

        def stop() -> None:  # from the abandoning thread: the loop then cancels the request (notifications/cancelled)
            future.cancel()

        unregister = on_abandon(stop) if on_abandon is not None else None
        try:
            return future.result(timeout)
        except concurrent.futures.CancelledError:
            why = f"the MCP servers were stopped during {doing}" if self._closed else f"{doing} was stopped"
            raise McpError(server, why) from None
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise McpError(server, f"{doing} took more than {timeout:g} s") from None
        finally:
            if unregister is not None:
                unregister()

    async def _on_loop(self, server: str, work: Callable[[ServerConnection], Coroutine[Any, Any, T]]) -> T:
        connection = self._connections.get(server)
        if connection is None:
            from tinyagent.core.mcp.session import ServerConnection

            log_dir = self._log_dir if self._log_dir is not None else cache_dir() / "mcp-logs"
            connection = self._connections[server] = ServerConnection(server, self._enabled[server],
                                                                      log_dir / f"{server}.log")
        return await work(connection)

    def _started_loop(self, server: str) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise McpError(server, "not available: the MCP servers were stopped")
            if self._loop is None:
                try:
                    import mcp  # noqa: F401 - loaded here, on this thread: a missing SDK is one clear line
                except ImportError as exc:
                    raise McpError(server, f"needs the MCP SDK: pip install 'mcp>=2.3' ({exc})") from None
                # The SDK logs a server's stray stdout line with a traceback; with no handler of the
                # program's, Python would print it on stderr, across the terminal UI. Faults reach
                # the user as McpError lines; a program that sets up logging still gets these records.
                logging.getLogger("mcp").addHandler(_SILENT)

                loop = asyncio.new_event_loop()
                # A daemon: the interpreter joins other threads before atexit runs close(), and
                # this one only ends when close() stops it.
                thread = threading.Thread(target=loop.run_forever, name="mcp-hub", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
                atexit.register(_close_at_exit, weakref.ref(self))
            return self._loop

    async def _stop_all(self) -> None:
        await asyncio.gather(*(c.stop() for c in self._connections.values()), return_exceptions=True)
        # Anything still waiting on the loop (a caller's start or call) ends now, so no caller
        # thread waits out its timeout on a loop that is going away.
        here = asyncio.current_task()
        rest = [t for t in asyncio.all_tasks() if t is not here]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)


def _close_at_exit(hub: weakref.ref[McpHub]) -> None:
    alive = hub()
    if alive is not None:
        alive.close()
