"""`hark kiosk`: Hark unattended — sessions for visitor after visitor, health endpoints, structured logs.

Everything is configured in a TOML file (see `hark.toml`), `HARK_*` environment variables and the shared
options (`--llm`, `--persona`, `--hang`, ...), which mean what they mean on every command.
"""

from __future__ import annotations

import argparse

from hark.commands.common import (
    CONVERSATION,
    DEVICES,
    LISTENING,
    LLM,
    SPEAKING,
    add_config_args,
    config_from_args,
)
from hark.errors import UserError
from hark.kiosk.service import KioskService
from hark.report import Reporter


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "kiosk",
        help="run unattended: wake phrase, visitor sessions, /healthz and /metrics, JSON logs",
        description="Run Hark as a kiosk. Logs are JSON lines on stdout; SIGHUP reloads the configuration, "
        "SIGUSR1 is push-to-talk, SIGTERM stops.",
    )
    p.add_argument(
        "--input", metavar="FILE", help="an audio file as the microphone, in real time; exit at its end"
    )
    p.add_argument(
        "--output", metavar="FILE", help="write the spoken replies to this WAV instead of playing them"
    )
    p.add_argument(
        "--health-port",
        type=int,
        metavar="N",
        help="serve /healthz and /metrics on this port (default kiosk.health_port; 0: any free port, logged)",
    )
    add_config_args(p, *LLM, *CONVERSATION, *LISTENING, *SPEAKING, *DEVICES, "--kb")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    config = config_from_args(args)
    if args.health_port is not None and not 0 <= args.health_port <= 65535:
        raise UserError(f"--health-port must be a port number from 0 to 65535 (got {args.health_port})")
    return KioskService(config, args.input, args.output, args.health_port).run()
