"""`hark tools list`: every tool the model may call, with where it comes from (builtin or an MCP server)."""

from __future__ import annotations

import argparse
import json

from hark import assembly
from hark.commands.common import add_config_args, add_json_arg, config_from_args
from hark.report import Reporter


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tools", help="the tools Hark's model can call (built-in and MCP servers)")
    actions = p.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="name, description and source of every tool")
    add_json_arg(listing)
    add_config_args(listing)
    listing.set_defaults(run=run)


def run(args: argparse.Namespace, reporter: Reporter) -> int:
    config = config_from_args(args)
    toolbox = assembly.build_toolbox(config, reporter)
    if toolbox is None:
        reporter.info("tools are off (tools.enabled = false)")
        return 0
    try:
        tools = sorted(toolbox.registry.tools(), key=lambda t: (t.source != "builtin", t.source, t.name))
        for tool in tools:
            row = {"name": tool.name, "description": tool.description, "source": tool.source}
            if args.json:
                print(json.dumps(row, ensure_ascii=False), flush=True)
            else:
                confirm = "  (asks first)" if tool.confirm else ""
                print(f"{tool.name:<16} {tool.source:<10} {tool.description}{confirm}")
    finally:
        toolbox.close()
    return 1 if toolbox.status else 0
