"""Sub-commands of `hark`. Each module has `add_parser(subparsers)`; the parser's `run` does the work."""

from hark.commands import demo, devices, doctor, say, talk, transcribe

COMMANDS = (talk, demo, say, transcribe, devices, doctor)
