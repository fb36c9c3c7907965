"""Argument groups shared by several commands."""

from __future__ import annotations

import argparse

from dialogue.backends.select import LLM_CHOICES


def add_llm_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("language model")
    group.add_argument(
        "--llm",
        default="auto",
        choices=LLM_CHOICES,
        help=f"{'|'.join(LLM_CHOICES)} (default auto: Ollama when it has the model, else embedded)",
    )
    group.add_argument("--model", help="Ollama model name, or a GGUF path with --llm embedded")
    group.add_argument("--ollama-host", help="Ollama URL (default $OLLAMA_HOST or http://127.0.0.1:11434)")


def add_json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object per line on stdout")
