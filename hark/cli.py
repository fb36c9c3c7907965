"""`hark` command line: one sub-command per module in `hark.commands`.

One error path for every command: something the user gave or set up that cannot be used is `error: ...`
and exit code 2; a fault inside Hark is one line and exit code 1, with the traceback only under `--debug`.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import traceback
from collections.abc import Sequence

from hark import __version__
from hark.allocator import share_one_arena
from hark.commands import COMMANDS
from hark.errors import USER_ERRORS
from hark.report import Reporter


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage errors: one line, exit 2
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hark", description="Hark: a local, private voice assistant.")
    parser.add_argument("--version", action="version", version=f"hark {__version__}")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an internal error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    share_one_arena()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    reporter = Reporter(json_mode=getattr(args, "json", False))
    try:
        return int(args.run(args, reporter) or 0)
    except USER_ERRORS as exc:
        print(f"error: {user_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a file or folder Hark was pointed at: a directory, no permission, full disk
        print(f"error: {user_message(exc)}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:
        print(f"error: a database in the data folder is damaged or not Hark's ({exc})", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        hint = "" if args.debug else " (run with --debug for the traceback)"
        print(f"error: internal error: {detail}{hint}", file=sys.stderr)
        return 1


def user_message(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"file not found: {exc.filename}"
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


if __name__ == "__main__":
    sys.exit(main())
