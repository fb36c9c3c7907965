"""An Ollama-protocol HTTP server for tests: real HTTP, real `ollama` client, scripted behaviour.

It speaks `/api/tags`, `/api/show` and `/api/chat` (NDJSON streaming), records every request it gets, and can
be told to fail in each way a real server fails: refuse, hang, answer HTTP 500, lose the model (404), or
break a stream half-way (an `{"error": ...}` line, a line that is not JSON, or an end without the final line).
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Replier = Callable[[list[dict]], str]
ToolCaller = Callable[[list[dict], list[dict]], list[dict]]
"""(messages, tools offered) → the tool calls to answer with (`{"function": {"name", "arguments"}}`)."""


def echo_reply(messages: list[dict]) -> str:
    """Default reply: repeats the last user message, so tests can see what arrived."""
    last = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    return f"You said: {last}. That is all I know."


@dataclass
class FakeModel:
    name: str
    capabilities: list[str] = field(default_factory=lambda: ["completion"])
    context_length: int = 8192


@dataclass
class Behaviour:
    """How the server misbehaves. Tests set these fields between requests."""

    fail_status: int | None = None
    """Answer every /api/chat with this HTTP status."""
    fail_count: int | None = None
    """...but only for this many requests, then behave (None: every request)."""
    hang_s: float = 0.0
    """Sleep this long before answering /api/chat."""
    break_after_pieces: int | None = None
    """Send this many pieces, then break the stream as `break_with` says."""
    break_with: str = "error"
    """`error`: an `{"error"}` line; `garbage`: a line that is not JSON; `end`: no final `done` line."""
    piece_delay_s: float = 0.0
    stall: threading.Event | None = None
    """Send nothing at all (not even headers) until this is set or the client hangs up (at most 10 s)."""


class FakeOllama:
    def __init__(
        self,
        models: list[FakeModel] | None = None,
        replier: Replier = echo_reply,
        tool_caller: ToolCaller | None = None,
    ) -> None:
        self.models = models if models is not None else [FakeModel("gemma3:4b", ["completion", "vision"])]
        self.replier = replier
        self.tool_caller = tool_caller
        self.behaviour = Behaviour()
        self.requests: list[tuple[str, dict]] = []
        self.chat_arrived = threading.Event()
        self.client_hung_up = threading.Event()
        """A stalled /api/chat saw its client close the connection."""
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeOllama:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def chats(self) -> list[dict]:
        """Bodies of the /api/chat requests received, oldest first."""
        with self._lock:
            return [body for path, body in self.requests if path == "/api/chat"]

    def _record(self, path: str, body: dict) -> None:
        with self._lock:
            self.requests.append((path, body))

    def _model(self, name: str) -> FakeModel | None:
        wanted = name if ":" in name else f"{name}:latest"
        return next((m for m in self.models if m.name in (name, wanted)), None)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args) -> None:
                pass

            def _json(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def do_GET(self) -> None:
                fake._record(self.path, {})
                if self.path == "/api/tags":
                    self._json(200, {"models": [{"name": m.name, "model": m.name} for m in fake.models]})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                body = self._body()
                fake._record(self.path, body)
                if self.path == "/api/show":
                    model = fake._model(body.get("model", ""))
                    if model is None:
                        self._json(404, {"error": f"model '{body.get('model')}' not found"})
                        return
                    self._json(
                        200,
                        {
                            "capabilities": model.capabilities,
                            "model_info": {
                                "general.architecture": "fake",
                                "fake.context_length": model.context_length,
                            },
                            "details": {"family": "fake"},
                        },
                    )
                elif self.path == "/api/chat":
                    self._chat(body)
                else:
                    self._json(404, {"error": "not found"})

            def _client_gone(self) -> bool:
                readable, _, _ = select.select([self.connection], [], [], 0)
                return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""

            def _stalled(self, until: threading.Event) -> bool:
                """Wait for `until`; True when the client hung up first."""
                for _ in range(500):
                    if until.wait(0.02):
                        return False
                    if self._client_gone():
                        fake.client_hung_up.set()
                        return True
                return False

            def _chat(self, body: dict) -> None:
                b = fake.behaviour
                fake.chat_arrived.set()
                if b.stall is not None and self._stalled(b.stall):
                    return
                if b.hang_s:
                    time.sleep(b.hang_s)
                if b.fail_status is not None and (b.fail_count is None or b.fail_count > 0):
                    if b.fail_count is not None:
                        b.fail_count -= 1
                    self._json(b.fail_status, {"error": "simulated failure"})
                    return
                model = fake._model(body.get("model", ""))
                if model is None:
                    self._json(404, {"error": f"model '{body.get('model')}' not found, try pulling it first"})
                    return
                calls = []
                if fake.tool_caller is not None and body.get("tools"):
                    calls = fake.tool_caller(body.get("messages", []), body["tools"])
                text = "" if calls else fake.replier(body.get("messages", []))
                pieces = [w + " " for w in text.split(" ")]
                pieces[-1] = pieces[-1].rstrip()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i, piece in enumerate(pieces):
                    if b.break_after_pieces is not None and i == b.break_after_pieces:
                        self._break(b.break_with)
                        break
                    if b.piece_delay_s:
                        time.sleep(b.piece_delay_s)
                    self._chunk(
                        {
                            "model": model.name,
                            "message": {"role": "assistant", "content": piece},
                            "done": False,
                        }
                    )
                else:
                    if calls:
                        self._chunk(
                            {
                                "model": model.name,
                                "message": {"role": "assistant", "content": "", "tool_calls": calls},
                                "done": False,
                            }
                        )
                    self._chunk(
                        {
                            "model": model.name,
                            "message": {"role": "assistant", "content": ""},
                            "done": True,
                            "done_reason": "stop",
                            "prompt_eval_count": 10,
                            "eval_count": len(pieces),
                        }
                    )
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _break(self, how: str) -> None:
                if how == "error":
                    self._chunk({"error": "simulated failure mid-stream"})
                elif how == "garbage":
                    self._line(b"<html>502 Bad Gateway</html>\n")

            def _chunk(self, payload: dict) -> None:
                self._line((json.dumps(payload) + "\n").encode())

            def _line(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        return Handler
