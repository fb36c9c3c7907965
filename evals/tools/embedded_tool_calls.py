"""How well the embedded model (SmolLM2-135M, llama.cpp) calls the built-in tools: 30 requests.

Prints one JSON object: `schema_valid` (calls whose arguments match the tool's schema, of all calls: the
grammar should make this 1.0), `correct` (requests where it called the expected tool, or answered in
words when no tool was expected), and each request's outcome.

    PYTHONPATH=. nice -n 5 python evals/tools/embedded_tool_calls.py
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from dialogue.backends.base import GenerationOptions
from dialogue.backends.embedded import EmbeddedBackend
from dialogue.messages import Message
from dialogue.prompts import DEFAULT_SYSTEM_PROMPT
from dialogue.tools.builtins import builtin_tools
from dialogue.tools.registry import ToolRegistry
from dialogue.tools.store import ToolStore

REQUESTS: list[tuple[str, str | None]] = [
    ("What time is it?", "get_time"),
    ("What's the time right now?", "get_time"),
    ("Tell me the current time please.", "get_time"),
    ("What is today's date?", "get_time"),
    ("What time is it in Tokyo?", "get_time"),
    ("Which day of the week is it today?", "get_time"),
    ("What is 12 times 7?", "calculate"),
    ("Calculate 345 plus 678.", "calculate"),
    ("How much is 2 to the power of 10?", "calculate"),
    ("What is the square root of 144?", "calculate"),
    ("Divide 100 by 8.", "calculate"),
    ("What's 15 percent of 80?", "calculate"),
    ("Take a note: buy milk and eggs.", "add_note"),
    ("Please write down that the meeting moved to Friday.", "add_note"),
    ("Note that Anna's birthday is on May 3rd.", "add_note"),
    ("Save a note: call the plumber.", "add_note"),
    ("Read me my notes.", "read_notes"),
    ("What notes do I have?", "read_notes"),
    ("Set a timer for 5 minutes.", "set_timer"),
    ("Remind me in 10 minutes to check the oven.", "set_timer"),
    ("Start a 3 minute timer for the tea.", "set_timer"),
    ("Set a timer for half an hour.", "set_timer"),
    ("Hello!", None),
    ("Tell me a joke.", None),
    ("What is the capital of France?", None),
    ("How are you today?", None),
    ("Thank you, that's all.", None),
    ("Who wrote Romeo and Juliet?", None),
    ("What colour is the sky?", None),
    ("Can you recommend a good book?", None),
]


def main() -> None:
    scratch = tempfile.TemporaryDirectory()  # the notes and timers set by the requests are thrown away
    registry = ToolRegistry(builtin_tools(ToolStore(Path(scratch.name) / "tools.sqlite3")))
    backend = EmbeddedBackend()
    options = replace(GenerationOptions(), tools=registry.specs())
    outcomes = []
    start = time.monotonic()
    try:
        for text, expected in REQUESTS:
            messages = [Message("system", DEFAULT_SYSTEM_PROMPT), Message("user", text)]
            began = time.monotonic()
            call = backend.decide(messages, options)
            problems = registry.problems(call.name, call.arguments) if call else []
            outcomes.append(
                {
                    "request": text,
                    "expected": expected,
                    "called": call.name if call else None,
                    "arguments": call.arguments if call else None,
                    "schema_valid": not problems if call else None,
                    "correct": (call.name if call else None) == expected,
                    "seconds": round(time.monotonic() - began, 2),
                }
            )
    finally:
        backend.close()
        scratch.cleanup()
    calls = [o for o in outcomes if o["called"]]
    print(
        json.dumps(
            {
                "model": backend.model,
                "requests": len(outcomes),
                "calls": len(calls),
                "schema_valid": round(sum(o["schema_valid"] for o in calls) / len(calls), 3)
                if calls
                else None,
                "correct": round(sum(o["correct"] for o in outcomes) / len(outcomes), 3),
                "seconds": round(time.monotonic() - start, 1),
                "outcomes": outcomes,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
