"""`hark chat`: a typed conversation on the same dialogue manager as `hark talk`, the reply streamed.

The prompt and notes go to stderr and the replies to stdout, one line each, so it works with piped input
(for quick tests and for people who prefer to type).
"""

from __future__ import annotations

import argparse
import sys

from dialogue.manager import DialogueManager
from hark import assembly
from hark.commands.common import (
    CONVERSATION,
    LLM,
    add_config_args,
    add_resume_arg,
    check_message,
    config_from_args,
)
from hark.config import HarkConfig
from hark.errors import UserError
from hark.report import Reporter
from vision.errors import ImageInputError
from vision.sources import open_image

PROMPT = "you> "
HELP = "commands: /image PATH (attach an image to your next message), /reset (start over), /quit"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="type to Hark: a text conversation, the replies streamed")
    p.add_argument(
        "--image", action="append", default=[], metavar="PATH", help="an image for your first message"
    )
    add_resume_arg(p)
    add_config_args(p, *LLM, *CONVERSATION)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    config = config_from_args(args)
    private = config.vision.allow_private_urls
    images = [open_image(spec, allow_private=private).data for spec in args.image]  # before models load
    manager = assembly.build_manager(config, reporter, resume=args.resume)
    try:
        if manager.conversation_id is None:
            print(manager.persona.greeting, flush=True)
        reporter.info(HELP)
        Repl(manager, reporter, images, config).run()
    finally:
        assembly.close_manager(manager)
    if manager.conversation_id is not None:
        reporter.info(f"saved as conversation {manager.conversation_id}: continue it with --resume")
    return 0


class Repl:
    def __init__(
        self, manager: DialogueManager, reporter: Reporter, images: list[bytes], config: HarkConfig
    ) -> None:
        self.config = config
        self.allow_private = config.vision.allow_private_urls
        self.manager = manager
        self.reporter = reporter
        self.images = images

    def run(self) -> None:
        if hasattr(sys.stdin, "reconfigure"):  # bytes that are not UTF-8 are shown as �, never a crash
            sys.stdin.reconfigure(errors="replace")
        while True:
            print(PROMPT, end="", file=sys.stderr, flush=True)
            line = sys.stdin.readline()
            if not line:  # end of input
                print(file=sys.stderr)
                return
            text = line.strip()
            if text.startswith("/"):
                if not self.command(text):
                    return
            elif text:
                self.turn(text)

    def command(self, text: str) -> bool:
        """Run a /command; False ends the session."""
        name, _, rest = text.partition(" ")
        if name in ("/quit", "/exit"):
            return False
        if name == "/reset":
            self.manager.reset()
            self.images = []
            self.reporter.info("(conversation forgotten)")
            print(self.manager.persona.greeting, flush=True)
        elif name == "/image":
            try:
                image = open_image(rest.strip().strip("'\""), allow_private=self.allow_private)
            except ImageInputError as exc:
                self.reporter.info(f"error: {exc}")
            else:
                self.images.append(image.data)
                self.reporter.info(f"(image attached: {image.width}x{image.height}; now ask about it)")
        else:
            self.reporter.info(HELP)
        return True

    def turn(self, text: str) -> None:
        try:
            check_message(text, self.config)
        except UserError as exc:
            self.reporter.info(f"error: {exc}")
            return
        turn = self.manager.begin_turn(text, self.images)
        self.images = []
        pieces = turn.pieces()
        interrupted = False
        try:
            for piece in pieces:
                sys.stdout.write(piece)
                sys.stdout.flush()
        except KeyboardInterrupt:  # Ctrl-C stops the reply, not the session
            interrupted = True
        finally:
            pieces.close()
            print(flush=True)
        turn.finish(interrupted=interrupted)
