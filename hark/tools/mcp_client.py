"""MCP servers as tool sources: discovered at start, supervised, restarted with backoff when they die.

The `mcp` client is asyncio; Hark's turns are threads. All servers share one event loop running on its own
thread (`AsyncThread`), and every wait from a turn's thread on it is bounded (the server's `timeout_s`), so a
server that hangs or dies costs a turn at most that long, and the conversation goes on without its tools.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from mcp import Client, StdioServerParameters

from dialogue.errors import DialogueError
from dialogue.tools.registry import Tool, ToolError, ToolRegistry
from dialogue.tools.toolbox import Toolbox
from hark.config import McpServer

BACKOFF_S = (1.0, 2.0, 5.0, 15.0, 60.0)
"""Waits before each restart of a server that failed or died; the last one repeats."""
PYTHON_NAMES = ("python", "python3")
"""A server command starting with one of these runs on the Python running Hark (a virtual environment's
`python3` is not always the one on PATH, and a Python MCP server needs the `mcp` package)."""
PROBE_S = 5.0
"""How often a connected server is asked for its tools, to notice that it died between calls."""


class AsyncThread:
    """An asyncio event loop on a daemon thread; `submit` runs a coroutine on it from any thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="hark-mcp", daemon=True)
        self._thread.start()

    def submit(self, coroutine: Coroutine[Any, Any, Any]) -> Future:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def close(self, timeout_s: float = 5.0) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout_s)


def result_text(result: Any) -> str:
    """A `CallToolResult` as text: its text parts, else its structured content as JSON."""
    texts = [part.text for part in result.content if getattr(part, "type", "") == "text"]
    if texts:
        return "\n".join(texts)
    return json.dumps(result.structured_content, ensure_ascii=False) if result.structured_content else ""


class McpConnection:
    """One configured server: its tools are in the registry while it is connected, and gone while not.

    `toolbox.status[name]` says what is wrong (failed to start, died, restarting) until it is back.
    """

    def __init__(self, server: McpServer, toolbox: Toolbox, runner: AsyncThread) -> None:
        self.server = server
        self.toolbox = toolbox
        self.runner = runner
        self._client: Client | None = None
        self._ready = threading.Event()
        self._settled = threading.Event()
        """The first attempt is over: the tools are offered, or it failed."""
        self._dead: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._task: Future | None = None
        self.restarts = 0

    @property
    def registry(self) -> ToolRegistry:
        return self.toolbox.registry

    def launch(self) -> None:
        """Start connecting (and keep the server running) in the background."""
        self._task = self.runner.submit(self._supervise())

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait at most `timeout_s` for the first attempt to end; True when the tools are offered."""
        self._settled.wait(timeout_s)
        return self._ready.is_set()

    def _target(self) -> StdioServerParameters | str:
        if self.server.url:
            return self.server.url
        program, *args = self.server.command
        if program in PYTHON_NAMES:
            program = sys.executable  # Hark's own Python, which has `mcp` installed
        return StdioServerParameters(command=program, args=args)

    async def _supervise(self) -> None:
        self._stop, failures = asyncio.Event(), 0
        while not self._stop.is_set():
            try:
                await self._serve()
                failures = 0
                what = "died"
            except Exception as exc:  # anything a server does wrong must not end the supervision
                what = f"failed ({_reason(exc)})"
                failures += 1
            self.registry.remove_source(self.server.name)
            self._client = None
            if self._stop.is_set():
                break
            delay = BACKOFF_S[min(max(failures - 1, 0), len(BACKOFF_S) - 1)]
            self.toolbox.status[self.server.name] = (
                f"MCP server {self.server.name} {what}; restarting in {delay:g}s"
            )
            self.restarts += 1
            self._settled.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    async def _serve(self) -> None:
        """One life of the server: connect, register its tools, then watch until it dies or Hark stops."""
        self._dead = asyncio.Event()
        async with Client(self._target(), read_timeout_seconds=self.server.timeout_s) as client:
            listed = await asyncio.wait_for(client.list_tools(), self.server.timeout_s)
            self._client = client
            self._register(listed.tools)
            self.toolbox.status.pop(self.server.name, None)
            self._ready.set()
            self._settled.set()
            while not self._stop.is_set() and not self._dead.is_set():
                try:
                    await asyncio.wait_for(self._wake(), PROBE_S)
                except TimeoutError:
                    await asyncio.wait_for(client.list_tools(), self.server.timeout_s)

    async def _wake(self) -> None:
        assert self._stop is not None and self._dead is not None
        stop, dead = asyncio.ensure_future(self._stop.wait()), asyncio.ensure_future(self._dead.wait())
        try:
            await asyncio.wait({stop, dead}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            dead.cancel()

    def _register(self, tools: list[Any]) -> None:
        allow, confirm = set(self.server.allow), set(self.server.confirm)
        for listed in tools:
            if allow and listed.name not in allow:
                continue
            tool = Tool(
                listed.name,
                (listed.description or listed.name).strip().splitlines()[0],
                lambda arguments, name=listed.name: self.call(name, arguments),
                _object_schema(listed.input_schema),
                source=self.server.name,
                confirm=listed.name in confirm,
                timeout_s=self.server.timeout_s,
            )
            try:
                self.registry.add(tool)
            except DialogueError as exc:
                self.toolbox.status[f"{self.server.name}.{listed.name}"] = str(exc)

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        """Run a tool on the server from a turn's thread, waiting at most `timeout_s`."""
        client = self._client
        if client is None:
            raise ToolError(f"the MCP server {self.server.name} is not running")
        future = self.runner.submit(
            client.call_tool(name, arguments, read_timeout_seconds=self.server.timeout_s)
        )
        try:
            result = future.result(self.server.timeout_s + 1.0)
        except FutureTimeout:
            future.cancel()
            raise ToolError(f"{self.server.name} did not answer within {self.server.timeout_s:g}s") from None
        except Exception as exc:
            if "closed" in str(exc).lower():
                self.runner.loop.call_soon_threadsafe(self._mark_dead)
            raise ToolError(f"{self.server.name} failed: {_reason(exc)}") from None
        if result.is_error:
            raise ToolError(result_text(result) or "the tool failed")
        return result_text(result)

    def _mark_dead(self) -> None:
        if self._dead is not None:
            self._dead.set()

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the supervision and the server (bounded wait)."""

        def stop() -> None:
            if self._stop is not None:
                self._stop.set()

        self.runner.loop.call_soon_threadsafe(stop)
        if self._task is not None:
            try:
                self._task.result(timeout_s)
            except Exception:  # a server that will not end is abandoned with its thread
                self._task.cancel()


def _object_schema(schema: dict[str, Any] | None) -> dict[str, Any]:
    """The server's input schema without its cosmetic `title`, always an object schema."""
    schema = {k: v for k, v in (schema or {}).items() if k != "title"}
    schema.setdefault("type", "object")
    return schema


def _reason(exc: BaseException) -> str:
    """The first real error inside (possibly nested) exception groups, in a few words."""
    while getattr(exc, "exceptions", None):  # an exception group from the client's task groups
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    if isinstance(exc, FileNotFoundError):
        return f"the command {exc.filename or ''} does not exist".replace("  ", " ")
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def connect_servers(toolbox: Toolbox, servers: tuple[McpServer, ...]) -> list[McpConnection]:
    """Start every configured server (concurrently, each waited for at most its `timeout_s`) and make
    the toolbox stop them when it closes."""
    if not servers:
        return []
    logging.getLogger("mcp").setLevel(logging.CRITICAL)  # a broken server is reported in `status`, once
    runner = AsyncThread()
    connections = [McpConnection(server, toolbox, runner) for server in servers]
    for connection in connections:
        connection.launch()
    for connection in connections:
        if not connection.wait_ready(connection.server.timeout_s):
            toolbox.status.setdefault(
                connection.server.name,
                f"MCP server {connection.server.name} did not start within {connection.server.timeout_s:g}s",
            )

    def close() -> None:
        for connection in connections:
            connection.stop()
        runner.close()

    toolbox.on_close(close)
    return connections
