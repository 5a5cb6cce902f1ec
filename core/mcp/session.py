"""One MCP server's life on the hub's event loop (hub.py owns the loop and its thread).

The transport and the client session are entered and left by one long task (`_live`), as the
SDK's task groups require: it starts the server, initializes, lists the tools, then waits to be
told to stop. Calls come from other tasks and only send requests through the session. Leaving
the transport is the SDK's shutdown: close the server's stdin, wait, then SIGTERM and SIGKILL its
whole process group (the server was started in a session of its own), so a server that ignores
the end of its input is still ended, with whatever it started.

Everything that can go wrong becomes one `McpError` line naming the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any, TextIO

import anyio
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT

from tinyagent.core.config import McpServerConfig
from tinyagent.core.mcp.model import McpError, McpToolInfo, one_line

MAX_TOOL_PAGES = 100  # tools/list pages followed; a server that pages on forever is refused
STOP_TIMEOUT = 15.0  # the SDK's shutdown is at most ~7 s (stdin close, SIGTERM, SIGKILL, each bounded)


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside the SDK's task-group wrappers (ExceptionGroup), in order."""
    inner = getattr(exc, "exceptions", None)
    if isinstance(inner, tuple):
        return [leaf for e in inner for leaf in _leaves(e)]
    return [exc]


def _root(exc: BaseException) -> BaseException:
    """The exception that says what happened: the first leaf that is not a cancellation."""
    leaves = _leaves(exc)
    return next((e for e in leaves if not isinstance(e, (asyncio.CancelledError, anyio.get_cancelled_exc_class()))),
                leaves[0])


class ServerConnection:
    """One configured server: `tools()` starts it (once, on first use), `call()` sends one tools/call,
    `stop()` ends it. Loop-side only: every method runs on the hub's event loop."""

    def __init__(self, name: str, config: McpServerConfig, log_path: Path | None):
        self.name, self.config, self.log_path = name, config, log_path
        self.state = "not started"  # -> starting -> running -> stopped, or failed: <reason>
        self.reason = ""
        self._session: ClientSession | None = None
        self._ready: asyncio.Future[list[McpToolInfo]] | None = None
        self._stop = asyncio.Event()
        self._life: asyncio.Task[None] | None = None
        self._stopping = False

    # -- what the hub asks -----------------------------------------------------------------------
    async def tools(self) -> list[McpToolInfo]:
        if self._ready is None:
            if self._stopping:
                raise McpError(self.name, "was stopped")
            self._ready = asyncio.get_running_loop().create_future()
            self.state = "starting"
            self._life = asyncio.create_task(self._live(), name=f"mcp server {self.name}")
        tools = await asyncio.shield(self._ready)  # one waiter giving up does not stop the start
        if self.state.startswith("failed"):  # it started, then went away: its tools are gone with it
            raise McpError(self.name, self.reason)
        return tools

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        await self.tools()
        session = self._session
        if session is None:
            raise McpError(self.name, self.reason or "is not running")
        try:
            return await session.call_tool(tool, arguments, read_timeout_seconds=self.config.call_timeout)
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                raise McpError(self.name, f"{tool} did not answer within {self.config.call_timeout:g} s "
                               "(call_timeout); the call was cancelled") from None
            if exc.code != CONNECTION_CLOSED:
                raise McpError(self.name, f"{tool}: {one_line(exc.message)}") from None
            if self._stopping:
                raise McpError(self.name, f"was stopped during the call to {tool}") from None
            self._fail(f"exited during the call to {tool}{self._last_words()}")
            self._stop.set()  # the task that owns the transport reaps what is left of the process
            raise McpError(self.name, self.reason) from None
        except (McpError, asyncio.CancelledError):
            raise
        except Exception as exc:  # noqa: BLE001 - a result that is not MCP (validation), an SDK refusal
            raise McpError(self.name, f"{tool}: {one_line(f'{type(exc).__name__}: {exc}')}") from None

    async def stop(self) -> None:
        self._stopping = True
        self._stop.set()  # a running server: its task leaves the session and the transport
        if self._life is not None and self._ready is not None and not self._ready.done():
            self._life.cancel()  # a starting one is not waiting for the word: stop the start itself
        if self._life is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._life), STOP_TIMEOUT)
        if self.state in ("not started", "running", "starting"):
            self.state = "stopped"

    # -- the long task ---------------------------------------------------------------------------
    async def _live(self) -> None:
        assert self._ready is not None
        log: TextIO | None = None
        try:
            async with contextlib.AsyncExitStack() as stack:
                if self.config.command:
                    log = self._open_log()
                    read, write = await stack.enter_async_context(stdio_client(self._stdio_parameters(), errlog=log))
                else:
                    read, write = await self._enter_http(stack)
                session = await stack.enter_async_context(ClientSession(read, write))
                with anyio.fail_after(self.config.startup_timeout):
                    await session.initialize()
                    tools = await self._list_tools(session)
                self._session, self.state = session, "running"
                self._ready.set_result(tools)
                await self._stop.wait()
        except BaseException as exc:  # noqa: BLE001 - every failure becomes the server's one line
            if self._stopping:
                pass  # stopped on purpose (close()), not failed: the state becomes "stopped"
            elif not self._ready.done():
                self._fail(self._start_failure(_root(exc)))
            elif not self.state.startswith("failed"):
                self._fail(f"stopped working: {one_line(_root(exc))}")
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._session = None
            if not self._ready.done():
                self._ready.set_exception(McpError(self.name, self.reason or "was stopped while starting"))
                self._ready.exception()  # retrieved: nobody may be waiting any more
            if log is not None:
                log.close()
            if self.state in ("starting", "running"):
                self.state = "stopped"

    def _fail(self, reason: str) -> None:
        if not self.state.startswith("failed"):
            self.reason, self.state = reason, f"failed: {reason}"

    def _stdio_parameters(self) -> StdioServerParameters:
        home = os.path.expanduser  # `~/notes` in args means what it means in a shell
        return StdioServerParameters(command=home(self.config.command), args=[home(a) for a in self.config.args],
                                     env=dict(self.config.env) or None, cwd=home(self.config.cwd) or None)

    async def _enter_http(self, stack: contextlib.AsyncExitStack) -> tuple[Any, Any]:
        import httpx2

        headers = {}
        for header, variable in self.config.headers_env.items():
            value = os.environ.get(variable)
            if value is None:
                raise McpError(self.name, f"headers_env: the environment variable {variable} (for {header}) is not set")
            headers[header] = value
        # The SDK's own client timeouts (30 s to connect, 300 s to read an event stream); the
        # call's own deadline is call_timeout.
        client = await stack.enter_async_context(
            httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=300.0)))
        streams = await stack.enter_async_context(streamable_http_client(self.config.url, http_client=client))
        return streams[0], streams[1]

    async def _list_tools(self, session: ClientSession) -> list[McpToolInfo]:
        tools, cursor = [], None
        for _ in range(MAX_TOOL_PAGES):
            from mcp.types import PaginatedRequestParams

            page = await session.list_tools(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
            tools += [self._info(t) for t in page.tools]
            cursor = page.next_cursor
            if not cursor:
                return tools
        raise McpError(self.name, f"lists its tools in more than {MAX_TOOL_PAGES} pages")

    def _info(self, tool: Any) -> McpToolInfo:
        hints = tool.annotations
        return McpToolInfo(server=self.name, name=tool.name, description=tool.description or "",
                           input_schema=dict(tool.input_schema or {}),
                           read_only_hint=hints.read_only_hint if hints is not None else None,
                           title=tool.title or (hints.title if hints is not None else None))

    # -- saying what went wrong ------------------------------------------------------------------
    def _start_failure(self, exc: BaseException) -> str:
        if isinstance(exc, McpError):
            return exc.reason
        if isinstance(exc, TimeoutError):
            return f"did not answer within {self.config.startup_timeout:g} s of starting (startup_timeout){self._last_words()}"
        if isinstance(exc, OSError) and self.config.command:
            detail = exc.strerror or str(exc)
            if exc.filename and exc.filename != self._stdio_parameters().command:  # e.g. its cwd
                detail += f": {exc.filename!r}"
            return f"cannot start {self.config.command!r}: {one_line(detail)}"
        if isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED:
            gone = "exited while starting" if self.config.command else f"closed the connection to {self.config.url}"
            return gone + self._last_words()
        if isinstance(exc, MCPError):
            return f"refused to start: {one_line(exc.message)}"
        if self.config.url and type(exc).__module__.startswith("httpx"):
            return f"cannot be reached at {self.config.url}: {one_line(exc or type(exc).__name__)}"
        return f"failed to start: {one_line(f'{type(exc).__name__}: {exc}')}"

    def _open_log(self) -> TextIO:
        """The server's stderr: a file per server (its last line explains a failure), else nowhere."""
        if self.log_path is not None:
            try:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                return self.log_path.open("w", encoding="utf-8")
            except OSError:
                self.log_path = None
        return open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - closed by _live

    def _last_words(self) -> str:
        if self.log_path is None:
            return ""
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(max(fh.seek(0, os.SEEK_END) - 4096, 0))
                lines = [ln for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        except OSError:
            return ""
        return f"; its last words on stderr: {one_line(lines[-1], 200)}" if lines else ""
