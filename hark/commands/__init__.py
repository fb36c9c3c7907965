"""Sub-commands of `hark`. Each module has `add_parser(subparsers)`; the parser's `run` does the work."""

from hark.commands import (
    ask,
    bench,
    chat,
    demo,
    devices,
    doctor,
    eval,
    kiosk,
    personas,
    say,
    serve,
    settings,
    stats,
    talk,
    transcribe,
)

COMMANDS = (
    talk,
    ask,
    demo,
    say,
    transcribe,
    devices,
    doctor,
    eval,
    bench,
    chat,
    personas,
    stats,
    kiosk,
    settings,
    serve,
)
