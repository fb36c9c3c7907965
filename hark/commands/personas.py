"""`hark personas`: the personas to choose from with --persona, or one of them in full."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from dialogue.persona import Persona, list_personas, load_persona
from hark.commands.common import add_json_arg
from hark.paths import personas_dir
from hark.report import Reporter


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "personas", help="list the personas (built-in, and .toml files in $HARK_HOME/personas)"
    )
    p.add_argument("persona", nargs="?", metavar="NAME|FILE", help="show this persona in full")
    add_json_arg(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    if args.persona:
        show(load_persona(args.persona, personas_dir()), args.json)
        return 0
    for entry in list_personas(personas_dir()):
        persona = entry.persona
        if args.json:
            fields = asdict(persona) if persona else {}
            print(json.dumps({"key": entry.key, **fields, "problem": entry.problem}))
        elif persona is None:
            print(f"{entry.key:<12} (cannot be used: {entry.problem})")
        else:
            print(f'{entry.key:<12} {persona.name}: "{persona.greeting}"  [{persona.source}]')
    if not args.json:
        reporter.info(f"add your own as {personas_dir()}/NAME.toml; `hark personas NAME` shows one in full")
    return 0


def show(persona: Persona, as_json: bool) -> None:
    if as_json:
        print(json.dumps(asdict(persona)))
        return
    print(f"name:     {persona.name}")
    print(f"source:   {persona.source}")
    print(f"greeting: {persona.greeting}")
    print(f"style:    {persona.style}")
    print(f"voice:    {persona.voice} at rate {persona.rate:g}")
    print(f"refusal:  {persona.refusal}")
    print(f"reprompt: {persona.reprompt}")
    print("system prompt:")
    for line in persona.system_prompt.splitlines():
        print(f"  {line}")
