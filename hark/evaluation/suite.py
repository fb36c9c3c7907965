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
from hark.evaluation.acoustic import (
    ECHO_RANGE_DB,
    REVERB_RANGE_S,
    SNR_RANGE_DB,
    Noise,
    Scene,
)
from hark.evaluation.expectations import EXPECT_KEYS, LOOP_KEYS, Expectation, Kind, SpecError, build

SCENE_KEYS = ("noise", "snr_db", "reverb_s", "echo_db", "barge_in_at_s", "barge_in_say")
"""What the room does to a spoken turn (see `hark.evaluation.acoustic`)."""
NOISES = ("white", "babble")
PAUSE = re.compile(r"\[pause (\d+(?:\.\d+)?)\]")
"""In a `say` text, `[pause 1.2]` is 1.2 seconds of silence inside the utterance."""
SUITE_KEYS = ("name", "persona", "cases")
CASE_KEYS = ("name", "turns", "must_not_regress")
TURN_KEYS = ("user", "audio", "say", "images", "expect", *SCENE_KEYS)

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
    say: tuple[str | float, ...] = ()
    """A `say` turn: its texts (spoken by Piper) and pauses (seconds of silence) in order."""
    scene: Scene | None = None
    """A turn played through the voice loop: the room around the user's voice (an empty scene: a clean
    room)."""

    @property
    def spoken(self) -> bool:
        return self.audio is not None or bool(self.say)

    @property
    def said(self) -> str | None:
        return words(self.say)


def words(say: tuple[str | float, ...]) -> str | None:
    """The words of a `say` turn, pauses left out; None for a turn that says nothing."""
    return " ".join(p for p in say if isinstance(p, str)) if say else None


@dataclass(frozen=True)
class Case:
    name: str
    line: int
    turns: tuple[Turn, ...]
    must_not_regress: bool = False
    """In an A/B comparison, B passing significantly less often than A here fails the comparison."""


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


def noise_files(cases: Iterable[Case]) -> list[tuple[Turn, Path]]:
    """The recordings used as noise, with a turn that uses each (for pointing at it)."""
    found = {}
    for turn in (t for c in cases for t in c.turns):
        if turn.scene and turn.scene.noise and turn.scene.noise.kind not in NOISES:
            found.setdefault(Path(turn.scene.noise.kind), turn)
    return [(turn, path) for path, turn in found.items()]


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
        guarded = self.typed(fields["must_not_regress"], Kind.BOOL) if "must_not_regress" in fields else False
        return Case(name, _line(node), turns, guarded)

    def turn(self, node: Node) -> Turn:
        fields = self.mapping(node, "turn", TURN_KEYS)
        given = [k for k in ("user", "audio", "say") if k in fields]
        if len(given) > 1:
            raise self.error(node, f"a turn has both '{given[0]}' and '{given[1]}': give one of them")
        if not given:
            raise self.error(
                node, "a turn needs 'user' (typed text), 'audio' (a recording) or 'say' (spoken)"
            )
        audio = fields.get("audio")
        images = fields.get("images")
        expect = fields.get("expect")
        say = self.say(fields["say"]) if "say" in fields else ()
        spoken = audio is not None or bool(say)
        scene = self.scene(node, fields, spoken)
        measured = expect is not None and isinstance(expect[1], MappingNode)
        if measured and any(isinstance(k, ScalarNode) and k.value in LOOP_KEYS for k, _ in expect[1].value):
            scene = scene or Scene()
        if say:
            scene = scene or Scene()  # a clean room: a `say` turn is always played through the voice loop
        return Turn(
            line=_line(node),
            text=self.text(fields["user"]) if "user" in fields else None,
            audio=self.file(audio, "audio file") if audio else None,
            audio_label=self.text(audio) if audio else None,
            images=tuple(self.file((images[0], n), "image") for n in self.sequence(images[1], "images"))
            if images
            else (),
            expectations=tuple(self.expectations(expect, spoken, words(say))) if expect else (),
            say=say,
            scene=scene,
        )

    def say(self, field: tuple[Node, Node]) -> tuple[str | float, ...]:
        """`"I'd like a table [pause 1.5] for two"` → ("I'd like a table", 1.5, "for two")."""
        text = self.text(field)
        parts: list[str | float] = []
        for i, piece in enumerate(PAUSE.split(text)):
            if i % 2:
                seconds = float(piece)
                if not 0 < seconds <= 10:
                    raise self.error(
                        field[1], f"a pause must be more than 0 and at most 10 seconds, not {piece}"
                    )
                parts.append(seconds)
            elif piece.strip():
                parts.append(piece.strip())
        if "[pause" in "".join(p for p in parts if isinstance(p, str)):
            raise self.error(field[1], "write a pause as [pause SECONDS], e.g. [pause 1.2]")
        return tuple(parts)

    def scene(self, node: Node, fields: dict[str, tuple[Node, Node]], spoken: bool) -> Scene | None:
        given = [k for k in SCENE_KEYS if k in fields]
        if not given:
            return None
        if not spoken:
            raise self.error(
                fields[given[0]][0], f"'{given[0]}' applies only to a spoken turn ('say' or 'audio')"
            )
        for key, needs in (("snr_db", "noise"), ("noise", "snr_db"), ("barge_in_say", "barge_in_at_s")):
            if key in fields and needs not in fields:
                raise self.error(fields[key][0], f"'{key}' needs '{needs}' beside it")
        noise = None
        if "noise" in fields:
            kind = self.text(fields["noise"])
            where = kind if kind in NOISES else str(self.file(fields["noise"], "noise file"))
            noise = Noise(where, self.number(fields["snr_db"], SNR_RANGE_DB, "dB"))
        return Scene(
            noise=noise,
            reverb_s=self.number(fields["reverb_s"], REVERB_RANGE_S, "s") if "reverb_s" in fields else None,
            echo_db=self.number(fields["echo_db"], ECHO_RANGE_DB, "dB") if "echo_db" in fields else None,
            barge_in_at_s=self.typed(fields["barge_in_at_s"], Kind.SECONDS)
            if "barge_in_at_s" in fields
            else None,
            **({"barge_in_say": self.text(fields["barge_in_say"])} if "barge_in_say" in fields else {}),
        )

    def number(self, field: tuple[Node, Node], bounds: tuple[float, float], unit: str) -> float:
        key, node = field
        value = self._constructor.construct_object(node) if isinstance(node, ScalarNode) else None
        low, high = bounds
        if isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high:
            return float(value)
        got = repr(value) if isinstance(value, (int, float)) else _describe(node)
        raise self.error(node, f"'{key.value}' must be a number from {low:g} to {high:g} {unit}, not {got}")

    def expectations(self, field: tuple[Node, Node], spoken: bool, said: str | None) -> list[Expectation]:
        fields = self.mapping(field[1], "expect", tuple(EXPECT_KEYS))
        if not fields:
            raise self.error(field[0], "'expect' is empty")
        values = {key: self.typed(pair, EXPECT_KEYS[key]) for key, pair in fields.items()}
        try:
            return build(values, spoken, said)
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
