"""`hark` command line: one sub-command per module in `hark.commands`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hark import __version__
from hark.commands import COMMANDS
from hark.errors import USER_ERRORS
from hark.report import Reporter


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage errors: one line, exit 2
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hark", description="Hark: a local, private voice assistant.")
    parser.add_argument("--version", action="version", version=f"hark {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    reporter = Reporter(json_mode=getattr(args, "json", False))
    try:
        return int(args.run(args, reporter) or 0)
    except USER_ERRORS as exc:
        message = (
            str(exc)
            if not isinstance(exc, FileNotFoundError) or not exc.filename
            else (f"file not found: {exc.filename}")
        )
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
