"""`hark config show|check`: the effective configuration with where each value came from; a file checked."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hark.commands.common import FLAGS, add_config_args, config_from_args
from hark.config import HarkConfig, load_config
from hark.report import Reporter


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="show the effective configuration, or check a config file")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="every setting, its value and where it came from")
    show.add_argument("--json", action="store_true", help="one JSON object: section → key → value, source")
    add_config_args(show, *FLAGS)
    show.set_defaults(run=run_show)
    check = actions.add_parser("check", help="check a config file (exit 2 with the first problem)")
    check.add_argument("file", metavar="FILE")
    check.set_defaults(run=run_check)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def describe(config: HarkConfig) -> dict[str, dict[str, dict[str, Any]]]:
    """section → key → {"value", "source" (default, file, env or flag), "origin" (where exactly)}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for key in config.setting_names():
        section, _, name = key.partition(".")
        origin = config.origin(key)
        entry = {"value": _plain(config.value(key)), "source": origin.kind}
        if origin.where:
            entry["origin"] = origin.where
        out.setdefault(section, {})[name] = entry
    return out


def run_show(args: argparse.Namespace, reporter: Reporter) -> int:
    settings = describe(config_from_args(args))
    if args.json:
        print(json.dumps(settings))
        return 0
    for section, keys in settings.items():
        print(f"[{section}]")
        for name, entry in keys.items():
            where = entry["source"] + (f" {entry['origin']}" if "origin" in entry else "")
            print(f"{name} = {json.dumps(entry['value'])}    # {where}")
        print()
    return 0


def run_check(args: argparse.Namespace, reporter: Reporter) -> int:
    config = load_config(args.file, environ={})
    print(f"{args.file}: ok ({len(config.origins)} settings given, the rest default)")
    return 0
