"""`hark serve`: voice sessions for browsers and programs over the network, sharing one set of models."""

from __future__ import annotations

import argparse
import secrets
import signal
import threading

from hark.commands.common import CONVERSATION, LISTENING, LLM, SPEAKING, add_config_args, config_from_args
from hark.config import HarkConfig
from hark.errors import UserError
from hark.report import Reporter


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the voice page and socket (many sessions at once)")
    p.add_argument("--host", help="address to listen on (serve.host, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (serve.port, default 8780; 0: any free port)")
    p.add_argument("--token", help="the access token (serve.token; default: a random one per start)")
    p.add_argument(
        "--wyoming", metavar="URI", help="also offer Wyoming asr/tts/handle, e.g. tcp://127.0.0.1:10700"
    )
    add_config_args(p, *LLM, *CONVERSATION, *LISTENING, *SPEAKING)
    p.set_defaults(run=run)


def serve_settings(args: argparse.Namespace, config: HarkConfig) -> HarkConfig:
    """The `[serve]` keys given on the command line win over the file."""
    for key, value in (("serve.host", args.host), ("serve.port", args.port), ("serve.token", args.token)):
        if value is not None:
            config = config.replaced(key, value)
    if not 0 <= config.serve.port <= 65535:
        raise UserError(f"--port must be from 0 to 65535, not {config.serve.port}")
    return config


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    from hark.serve.app import ServeApp
    from hark.serve.server import ServerThread
    from hark.serve.session import load_models, serving_config
    from hark.wyoming_server import start_wyoming

    config = serving_config(serve_settings(args, config_from_args(args)))
    token = config.serve.token or secrets.token_urlsafe(16)
    models = load_models(config, reporter)
    app = ServeApp(config, models, token, reporter).build()
    server = ServerThread(app, config.serve.host, config.serve.port)
    server.start()
    reporter.info(f"open {server.url(token)} (programs: Authorization: Bearer <token>, socket /ws)")
    wyoming = None
    if args.wyoming:  # Home Assistant's asr, tts and handle, on the models the web sessions use
        wyoming = start_wyoming(
            args.wyoming,
            config,
            reporter,
            transcriber=models.transcriber,
            speaker=models.speaker,
            backend=models.backend,
        )
        reporter.info(f"Wyoming (asr, tts, handle) on {wyoming.address}")
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _n, _f: stopped.set())
    try:
        stopped.wait()
    finally:
        if wyoming is not None:
            wyoming.stop()
        server.stop()
        models.close()
    return 0
