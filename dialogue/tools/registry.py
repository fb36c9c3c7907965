"""The tools a model may call: their JSON schemas, argument validation, and bounded execution.

A tool runs on its own daemon thread and is waited for at most its `timeout_s`: a tool that hangs costs
the turn that long once, then the turn goes on with an error result (the thread is abandoned, never joined).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from dialogue.errors import DialogueError

BUILTIN = "builtin"
NO_ARGUMENTS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


class ToolError(RuntimeError):
    """The tool ran and failed; the message is said to the model (not raised to the user)."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    run: Callable[[dict[str, Any]], Any]
    """Called with validated arguments; returns text or a JSON-able value; raises `ToolError` (or any
    exception) on failure."""
    parameters: dict[str, Any] = field(default_factory=lambda: dict(NO_ARGUMENTS))
    """A JSON schema of type object."""
    source: str = BUILTIN
    """`builtin`, or the name of the MCP server it comes from."""
    receives_pii: bool = False
    """Whether arguments may carry personal data (email addresses, phone and card numbers)."""
    confirm: bool = False
    """Ask the user "…, shall I?" and run it only on a yes."""
    timeout_s: float = 10.0

    def spec(self) -> dict[str, Any]:
        """The tool as chat APIs (Ollama, OpenAI) describe a function."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass(frozen=True)
class ToolResult:
    name: str
    ok: bool
    content: str
    duration_s: float


class PendingCall:
    """A tool running on its own thread; `wait()` gives its result, or None while it still runs."""

    def __init__(self, tool: Tool, arguments: dict[str, Any]) -> None:
        self.tool = tool
        self._arguments = arguments
        self._done = threading.Event()
        self._result: ToolResult | None = None
        self._start = time.monotonic()
        threading.Thread(target=self._run, name=f"hark-tool-{tool.name}", daemon=True).start()

    def _run(self) -> None:
        try:
            value = self.tool.run(self._arguments)
            content, ok = (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)), True
        except Exception as exc:  # any failure of a tool is reported to the model, not raised
            content, ok = f"error: {exc}" if str(exc) else f"error: {type(exc).__name__}", False
        self._finish(ok, content)

    def _finish(self, ok: bool, content: str) -> None:
        if not self._done.is_set():
            self._result = ToolResult(self.tool.name, ok, content, round(time.monotonic() - self._start, 4))
            self._done.set()

    def wait(self, timeout: float) -> ToolResult | None:
        """The result once the tool ended or its `timeout_s` passed; None after `timeout` seconds."""
        left = self.tool.timeout_s - (time.monotonic() - self._start)
        if self._done.wait(max(0.0, min(timeout, left))):
            return self._result
        if time.monotonic() - self._start >= self.tool.timeout_s:
            self._finish(False, f"error: the tool did not answer within {self.tool.timeout_s:g}s")
            return self._result
        return None


class ToolRegistry:
    """The tools offered to the model, by name. Thread-safe: MCP servers add and drop theirs at any time."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._lock = threading.Lock()
        self._tools: dict[str, Tool] = {}
        self._validators: dict[str, Draft202012Validator] = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool) -> None:
        try:
            Draft202012Validator.check_schema(tool.parameters)
        except SchemaError as exc:
            raise DialogueError(
                f"tool {tool.name} ({tool.source}) has an invalid schema: {exc.message}"
            ) from None
        if tool.parameters.get("type") != "object":
            raise DialogueError(
                f"tool {tool.name} ({tool.source}): its parameters must be a JSON object schema"
            )
        with self._lock:
            known = self._tools.get(tool.name)
            if known is not None and known.source != tool.source:
                raise DialogueError(f"two tools are named {tool.name} ({known.source} and {tool.source})")
            self._tools[tool.name] = tool
            self._validators[tool.name] = Draft202012Validator(tool.parameters)

    def remove_source(self, source: str) -> None:
        """Drop every tool of `source` (an MCP server that died)."""
        with self._lock:
            for name in [n for n, t in self._tools.items() if t.source == source]:
                del self._tools[name], self._validators[name]

    def get(self, name: str) -> Tool | None:
        with self._lock:
            return self._tools.get(name)

    def tools(self) -> list[Tool]:
        with self._lock:
            return list(self._tools.values())

    def specs(self) -> tuple[dict[str, Any], ...]:
        return tuple(tool.spec() for tool in self.tools())

    def problems(self, name: str, arguments: Any) -> list[str]:
        """What is wrong with a call, in words the model can act on; empty when it is valid."""
        with self._lock:
            validator = self._validators.get(name)
            known = sorted(self._tools)
        if validator is None:
            return [f"there is no tool named {name!r}; the tools are: {', '.join(known) or 'none'}"]
        if not isinstance(arguments, dict):
            return ["the arguments must be a JSON object"]
        return [
            (f"{'/'.join(map(str, e.absolute_path))}: " if e.absolute_path else "") + e.message
            for e in validator.iter_errors(arguments)
        ]

    def start(self, name: str, arguments: dict[str, Any]) -> PendingCall:
        tool = self.get(name)
        if tool is None:
            raise DialogueError(f"there is no tool named {name}")
        return PendingCall(tool, arguments)
