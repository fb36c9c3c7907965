"""Loading a YAML suite and validating it, with every error pointing at its line.

The YAML is composed into nodes (not loaded into plain dicts) so each value keeps the line it came from:
`front_desk.yaml:12: unknown key 'expekt' in turn (did you mean 'expect'? allowed: user, audio, ...)`.
Files the suite names (audio clips, images, the persona) are resolved against the suite's folder and must
exist before anything runs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hark.errors import UserError
from hark.evaluation.expectations import EXPECT_KEYS, Expectation, Kind, SpecError, build

SUITE_KEYS = ("name", "persona", "cases")
CASE_KEYS = ("name", "turns")
TURN_KEYS = ("user", "audio", "images", "expect")

_TAG = "tag:yaml.org,2002:"


class SuiteError(UserError):
    """The suite cannot be run as written (exit code 2)."""


@dataclass(frozen=True)
class Turn:
    line: int
    text: str | None
    """What the user types; None for a spoken turn."""
    audio: Path | None
    """The recording the user speaks, resolved against the suite's folder."""
    audio_label: str | None
    """The recording's path as the suite wrote it, for reports."""
    images: tuple[Path, ...]
    expectations: tuple[Expectation, ...]

    @property
    def spoken(self) -> bool:
        return self.audio is not None


@dataclass(frozen=True)
class Case:
    name: str
    line: int
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    persona: str | None
    """A persona file (resolved against the suite's folder) or the name of a built-in persona."""
    cases: tuple[Case, ...]

    def select(self, patterns: Sequence[str]) -> tuple[Case, ...]:
        """The cases whose name contains any of `patterns` (case-insensitive); all cases when none given."""
        if not patterns:
            return self.cases
        wanted = [p.casefold() for p in patterns]
        return tuple(c for c in self.cases if any(p in c.name.casefold() for p in wanted))


def uses(cases: Iterable[Case], key: str) -> bool:
    """Whether any turn of `cases` has the expectation `key` (so its model is worth looking for)."""
    return any(e.key == key for case in cases for turn in case.turns for e in turn.expectations)


def has_spoken_turns(cases: Iterable[Case]) -> bool:
    return any(turn.spoken for case in cases for turn in case.turns)


def load_suite(path: str | Path) -> Suite:
    p = Path(path)
    if not p.is_file():
        raise SuiteError(f"suite file not found: {path}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SuiteError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from exc
    return _Reader(p).suite(text)


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    kind = node.tag.removeprefix(_TAG)
    return {
        "str": "a text",
        "int": "a number",
        "float": "a number",
        "bool": "true/false",
        "null": "nothing",
    }.get(kind, kind)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = path.parent
        self._constructor = SafeConstructor()

    def error(self, node: Node | int, message: str) -> SuiteError:
        line = node if isinstance(node, int) else _line(node)
        return SuiteError(f"{self.path}:{line}: {message}")

    def suite(self, text: str) -> Suite:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            problem = ", ".join(part for part in (exc.context, exc.problem) if part)
            raise self.error(line, f"invalid YAML: {problem}") from exc
        except yaml.YAMLError as exc:
            raise SuiteError(f"{self.path}: invalid YAML: {exc}") from exc
        if root is None:
            raise SuiteError(f"{self.path}: the suite is empty: it needs 'name' and 'cases'")
        fields = self.mapping(root, "suite", SUITE_KEYS, required=("name", "cases"))
        name = self.text(fields["name"])
        persona = self.persona(fields["persona"]) if "persona" in fields else None
        cases = [self.case(node) for node in self.sequence(fields["cases"][1], "cases")]
        self.check_unique_names(cases)
        return Suite(name, self.path, persona, tuple(cases))

    def case(self, node: Node) -> Case:
        fields = self.mapping(node, "case", CASE_KEYS, required=("name", "turns"))
        name = self.text(fields["name"])
        turns = tuple(self.turn(t) for t in self.sequence(fields["turns"][1], "turns"))
        if not any(t.expectations for t in turns):
            raise self.error(node, f"case {name!r} expects nothing: give a turn an 'expect' so it can fail")
        return Case(name, _line(node), turns)

    def turn(self, node: Node) -> Turn:
        fields = self.mapping(node, "turn", TURN_KEYS)
        if "user" in fields and "audio" in fields:
            raise self.error(node, "a turn has both 'user' and 'audio': give one of them")
        if "user" not in fields and "audio" not in fields:
            raise self.error(node, "a turn needs 'user' (typed text) or 'audio' (a recording)")
        audio = fields.get("audio")
        images = fields.get("images")
        expect = fields.get("expect")
        return Turn(
            line=_line(node),
            text=self.text(fields["user"]) if "user" in fields else None,
            audio=self.file(audio, "audio file") if audio else None,
            audio_label=self.text(audio) if audio else None,
            images=tuple(self.file((images[0], n), "image") for n in self.sequence(images[1], "images"))
            if images
            else (),
            expectations=tuple(self.expectations(expect, spoken=audio is not None)) if expect else (),
        )

    def expectations(self, field: tuple[Node, Node], spoken: bool) -> list[Expectation]:
        fields = self.mapping(field[1], "expect", tuple(EXPECT_KEYS))
        if not fields:
            raise self.error(field[0], "'expect' is empty")
        values = {key: self.typed(pair, EXPECT_KEYS[key]) for key, pair in fields.items()}
        try:
            return build(values, spoken)
        except SpecError as exc:
            raise self.error(fields[exc.key][0], str(exc)) from exc

    def mapping(
        self, node: Node, what: str, allowed: Sequence[str], required: Sequence[str] = ()
    ) -> dict[str, tuple[Node, Node]]:
        """The mapping's (key node, value node) pairs by key, refusing unknown, duplicate and missing keys."""
        if not isinstance(node, MappingNode):
            raise self.error(node, f"a {what} must be a mapping (key: value), not {_describe(node)}")
        fields: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str) or key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise self.error(
                    key_node, f"unknown key '{key}' in {what} ({hint}allowed: {', '.join(allowed)})"
                )
            if key in fields:
                raise self.error(key_node, f"duplicate key '{key}' in {what}")
            fields[key] = (key_node, value_node)
        for key in required:
            if key not in fields:
                raise self.error(node, f"{what} is missing '{key}'")
        return fields

    def sequence(self, node: Node, key: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.error(node, f"'{key}' must be a list, not {_describe(node)}")
        if not node.value:
            raise self.error(node, f"'{key}' is empty")
        return list(node.value)

    def text(self, field: tuple[Node, Node]) -> str:
        key, node = field
        if not isinstance(node, ScalarNode) or node.tag != _TAG + "str":
            quote = " (put it in quotes)" if isinstance(node, ScalarNode) else ""
            raise self.error(node, f"'{key.value}' must be a text, not {_describe(node)}{quote}")
        if not node.value.strip():
            raise self.error(node, f"'{key.value}' is empty")
        return node.value

    def typed(self, field: tuple[Node, Node], kind: Kind) -> Any:
        key, node = field
        if kind is Kind.TEXT:
            return self.text(field)
        if kind is Kind.TEXTS:
            items = self.sequence(node, key.value) if isinstance(node, SequenceNode) else [node]
            return tuple(self.text((key, item)) for item in items)
        if kind is Kind.VALUES and isinstance(node, MappingNode) and node.value:
            return tuple(
                (self.text((k, k)), str(self._constructor.construct_object(v))) for k, v in node.value
            )
        value = self._constructor.construct_object(node) if isinstance(node, ScalarNode) else None
        if kind is Kind.BOOL and isinstance(value, bool):
            return value
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind is Kind.FRACTION and number and 0 <= value <= 1:
            return float(value)
        if kind is Kind.SECONDS and number and value > 0:
            return float(value)
        got = f"{value!r}" if number else _describe(node)
        raise self.error(node, f"'{key.value}' must be {kind.value}, not {got}")

    def persona(self, field: tuple[Node, Node]) -> str:
        """A path when it looks like one (`.toml`, or a slash), else a persona name left to the loader."""
        written = self.text(field)
        if written.endswith(".toml") or "/" in written:
            return str(self.file(field, "persona"))
        return written

    def file(self, field: tuple[Node, Node], what: str) -> Path:
        """A path the suite names, relative to the suite's folder; it must exist."""
        written = self.text(field)
        path = (self.base / Path(written).expanduser()).resolve()
        if not path.is_file():
            raise self.error(field[1], f"{what} not found: {written} (looked for {path})")
        return path

    def check_unique_names(self, cases: list[Case]) -> None:
        seen: dict[str, int] = {}
        for case in cases:
            key = re.sub(r"\s+", " ", case.name.strip().casefold())
            if key in seen:
                raise self.error(case.line, f"duplicate case name {case.name!r} (first at line {seen[key]})")
            seen[key] = case.line
