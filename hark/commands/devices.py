"""`hark devices`: the audio inputs and outputs PortAudio can see."""

from __future__ import annotations

import argparse
import json

from hark.commands.common import add_json_arg
from hark.report import Reporter
from voice.devices import NO_DEVICE_HINT, list_devices


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="list audio devices (for --mic and --speaker)")
    add_json_arg(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    devices = list_devices()
    if args.json:
        for d in devices:
            print(json.dumps(d.__dict__))
        return 0
    if not devices:
        reporter.info(f"no audio devices found; {NO_DEVICE_HINT}")
        return 0
    for d in devices:
        roles = []
        if d.inputs:
            roles.append(f"in {d.inputs}ch" + (" (default)" if d.is_default_input else ""))
        if d.outputs:
            roles.append(f"out {d.outputs}ch" + (" (default)" if d.is_default_output else ""))
        print(f"{d.index:3d}  {d.name}  [{', '.join(roles)}, {d.default_rate:.0f} Hz]")
    return 0
