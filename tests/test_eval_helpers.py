"""Shared helpers for the `hark eval` tests (no tests here): suites on disk, the CLI run in-process, repliers
for the Ollama-protocol test server, a test server that also speaks /api/embed, and an HTML tree parser."""

from __future__ import annotations

import itertools
import json
import re
import textwrap
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from fake_ollama import FakeModel, FakeOllama

from hark.cli import main
from hark.evaluation.judge import INSTRUCTIONS
from hark.evaluation.runner import WARM_UP_PROMPT

MODEL = "gemma3:4b"
JUDGE = "judge:7b"
EMBEDDER = "embedder:latest"


def write_suite(folder: Path, text: str, name: str = "suite.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@dataclass
class EvalRun:
    code: int
    out: str
    err: str

    @property
    def summary(self) -> dict:
        """The final stdout line under --json (every stdout line must be JSON then)."""
        lines = [json.loads(line) for line in self.out.splitlines() if line.strip()]
        assert len(lines) == 1, self.out
        return lines[0]

    def case(self, name: str) -> dict:
        return next(r for r in self.summary["results"] if r["name"] == name)


def run_eval(capsys, *args: str) -> EvalRun:
    """`hark eval ARGS` in this process (the models the test session loaded are reused by monkeypatching)."""
    code = main(["eval", *args])
    captured = capsys.readouterr()
    return EvalRun(code, captured.out, captured.err)


def on_server(server: FakeOllama, *args: str) -> tuple[str, ...]:
    return (*args, "--llm", "ollama", "--model", MODEL, "--ollama-host", server.url)


def answered(server: FakeOllama) -> list[dict]:
    """The chat requests of the cases (not the runner's warm-up request)."""
    return [c for c in server.chats() if c["messages"][-1]["content"] != WARM_UP_PROMPT]


def cycling(*answers: str) -> Callable[[list[dict]], str]:
    """The answers in turn, one per case request (the runner's warm-up gets its own), for varying replies."""
    upcoming = itertools.cycle(answers)
    return lambda messages: "OK." if messages[-1]["content"] == WARM_UP_PROMPT else next(upcoming)


def last_user(messages: list[dict]) -> str:
    return next(m["content"] for m in reversed(messages) if m["role"] == "user")


def front_desk_replier(messages: list[dict]) -> str:
    """A well-behaved assistant for the starter suite's questions, remembering names from the history."""
    text = last_user(messages).lower()
    if "my name is" in text:
        name = re.search(r"my name is (\w+)", text, re.I)
        return f"Nice to meet you, {name.group(1).title() if name else 'friend'}."
    if "what is my name" in text:
        said = [
            m["content"] for m in messages if m["role"] == "user" and "my name is" in m["content"].lower()
        ]
        found = re.search(r"my name is (\w+)", said[-1], re.I) if said else None
        return f"Your name is {found.group(1)}." if found else "You have not told me your name yet."
    if "your name" in text:
        return "I am Hark, your voice assistant."
    if "france" in text:
        return "The capital of France is Paris."
    if "sleeping" in text:
        return "Keep a regular bedtime. Avoid screens late at night. Keep your room cool and dark."
    return "I can help with that."


def judge_or(replier):
    """Answer judge requests with a verdict (pass when the reply mentions a cat), the rest with `replier`."""

    def reply(messages: list[dict]) -> str:
        if messages and messages[0]["content"] == INSTRUCTIONS:
            last_reply = last_user(messages).split("Assistant:")[-1].split("Criterion:")[0]
            if "cat" in last_reply.lower():
                return 'Sure. {"pass": true, "reason": "The reply names a cat."}'
            return '{"pass": false, "reason": "No cat is mentioned."}'
        return replier(messages)

    return reply


def bag_of_words(text: str, dims: int = 64) -> list[float]:
    """A deterministic toy embedding: texts sharing words point the same way."""
    vector = np.zeros(dims)
    for word in re.findall(r"[a-z]+", text.lower()):
        vector[zlib.crc32(word.encode()) % dims] += 1.0
    return vector.tolist()


class EmbeddingOllama(FakeOllama):
    """The test server plus /api/embed and an embedding model, for `similar_to`."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.models.append(FakeModel(EMBEDDER, ["embedding"]))

    def _handler_class(self):
        base = super()._handler_class()
        fake = self

        class Handler(base):
            def do_POST(self) -> None:
                if self.path != "/api/embed":
                    super().do_POST()
                    return
                body = self._body()
                fake._record(self.path, body)
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                self._json(200, {"model": body["model"], "embeddings": [bag_of_words(t) for t in texts]})

        return Handler


VOID = {"meta", "br", "img", "link", "input", "hr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    children: list[Element | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag: str, cls: str | None = None) -> list[Element]:
        found = []
        for child in self.children:
            if isinstance(child, Element):
                if child.tag == tag and (cls is None or cls in child.classes):
                    found.append(child)
                found += child.find_all(tag, cls)
        return found


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs))
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert tag in [e.tag for e in self.stack], f"</{tag}> closes nothing"
        while self.stack.pop().tag != tag:
            pass

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Element:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder.root


def sections(root: Element) -> dict[str, Element]:
    return {s.attrs["data-name"]: s for s in root.find_all("section", "case")}
