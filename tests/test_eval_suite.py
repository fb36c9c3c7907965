"""Loading suites: what a valid suite becomes, and invalid suites refused with the line of the problem."""

from __future__ import annotations

import pytest
from test_eval_helpers import answered, run_eval, write_suite

from hark.evaluation.expectations import (
    Blocked,
    Contains,
    MaxLatency,
    NotContains,
    Regex,
    SimilarTo,
    Transcript,
)
from hark.evaluation.suite import SuiteError, load_suite

VALID = """
name: front desk
cases:
  - name: remembers the visitor's name
    turns:
      - user: "My name is Dana."
      - user: "What is my name?"
        expect: {contains: ["Dana"], not_contains: secret, max_latency_s: 2}
  - name: spoken question
    turns:
      - audio: clips/q.wav
        images: [cat.jpg]
        expect:
          transcript: "What is the capital of France?"
          transcript_wer_max: 0.2
          regex: "(?i)paris"
          blocked: false
          similar_to: "Paris is the capital."
"""


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "q.wav").write_bytes(b"RIFF")
    (tmp_path / "cat.jpg").write_bytes(b"\xff\xd8")
    return tmp_path


def test_a_valid_suite_becomes_cases_turns_and_expectations(folder):
    suite = load_suite(write_suite(folder, VALID))
    assert suite.name == "front desk" and suite.persona is None
    name_case, spoken_case = suite.cases
    assert [t.text for t in name_case.turns] == ["My name is Dana.", "What is my name?"]
    assert name_case.turns[0].expectations == () and name_case.line == 3
    contains, not_contains, latency = name_case.turns[1].expectations
    assert contains == Contains(("Dana",)) and latency == MaxLatency(2.0)
    assert not_contains == NotContains(("secret",))  # a single text is a list of one
    turn = spoken_case.turns[0]
    assert (
        turn.spoken
        and turn.audio == (folder / "clips" / "q.wav").resolve()
        and turn.audio_label == "clips/q.wav"
    )
    assert turn.images == ((folder / "cat.jpg").resolve(),) and turn.line == 10
    kinds = {type(e): e for e in turn.expectations}
    assert kinds[Transcript] == Transcript("What is the capital of France?", 0.2)
    assert kinds[Regex].pattern.pattern == "(?i)paris" and kinds[Blocked] == Blocked(False)
    assert kinds[SimilarTo] == SimilarTo("Paris is the capital.", 0.8)


def test_k_selects_by_name_substring_ignoring_case(folder):
    suite = load_suite(write_suite(folder, VALID))
    assert [c.name for c in suite.select(["SPOKEN"])] == ["spoken question"]
    assert [c.name for c in suite.select(["visitor", "spoken"])] == [c.name for c in suite.cases]
    assert suite.select(["nothing like it"]) == ()


INVALID = [
    ("bad YAML", "name: x\ncases:\n  - name: a\n    turns: [\n", 5, "invalid YAML"),
    ("tab indentation", "name: x\ncases:\n\t- name: a\n", 3, "invalid YAML"),
    (
        "unknown key in a turn",
        "name: x\ncases:\n  - name: a\n    turns:\n      - user: hi\n        expekt: {contains: [a]}\n",
        6,
        "unknown key 'expekt' in turn (did you mean 'expect'? allowed: user, audio, say, images, expect, "
        "noise, snr_db, reverb_s, echo_db, barge_in_at_s, barge_in_say)",
    ),
    (
        "unknown expectation",
        "name: x\ncases:\n  - name: a\n    turns:\n      - user: hi\n        expect:\n          contain: a\n",
        7,
        "unknown key 'contain' in expect (did you mean 'contains'?",
    ),
    ("unknown top-level key", "name: x\ncase: []\n", 2, "unknown key 'case' in suite (did you mean 'cases'?"),
    ("missing cases", "name: x\n", 1, "suite is missing 'cases'"),
    ("cases not a list", "name: x\ncases: {a: 1}\n", 2, "'cases' must be a list, not a mapping"),
    ("empty cases", "name: x\ncases: []\n", 2, "'cases' is empty"),
    (
        "a number where text belongs",
        "name: x\ncases:\n  - name: a\n    turns:\n      - user: 42\n        expect: {regex: a}\n",
        5,
        "'user' must be a text, not a number (put it in quotes)",
    ),
    (
        "a text where a boolean belongs",
        "name: x\ncases:\n  - name: a\n    turns:\n      - user: hi\n        expect: {blocked: 'yes'}\n",
        6,
        "'blocked' must be true or false, not a text",
    ),
    (
        "a fraction out of range",
        "name: x\ncases:\n  - name: a\n    turns:\n      - user: hi\n        expect:\n"
        "          similar_to: hello\n          min_similarity: 1.5\n",
        8,
        "'min_similarity' must be a number from 0 to 1, not 1.5",
    ),
    (
        "a negative latency",
        "name: x\ncases:\n  - name: a\n    turns:\n      - user: hi\n        expect: {max_latency_s: -1}\n",
        6,
        "'max_latency_s' must be a positive number of seconds, not -1",
    ),
    (
        "a list of texts holding a list",
        "name: x\ncases:\n  - name: a\n    turns:\n      - user: hi\n        expect:\n"
        "          contains: [a, [b]]\n",
        7,
        "'contains' must be a text, not a list",
    ),
    (
        "both user and audio",
        "name: x\ncases:\n  - name: a\n    turns:\n      - {user: hi, audio: a.wav, expect: {regex: a}}\n",
        5,
        "a turn has both 'user' and 'audio': give one of them",
    ),
    (
        "neither user nor audio",
        "name: x\ncases:\n  - name: a\n    turns:\n      - expect: {regex: a}\n",
        5,
        "a turn needs 'user' (typed text), 'audio' (a recording) or 'say' (spoken)",
    ),
    (
        "a transcript on a typed turn",
        "name: x\ncases:\n  - name: a\n    turns:\n      - user: hi\n        expect:\n"
        "          transcript: hi\n",
        7,
        "'transcript' applies only to a spoken turn",
    ),
    (
        "a WER bound without a transcript",
        "name: x\ncases:\n  - name: a\n    turns:\n      - user: hi\n        expect:\n"
        "          regex: a\n          transcript_wer_max: 0.1\n",
        8,
        "'transcript_wer_max' needs 'transcript' beside it",
    ),
    (
        "an invalid regular expression",
        "name: x\ncases:\n  - name: a\n    turns:\n      - user: hi\n        expect:\n"
        "          regex: '(a'\n",
        7,
        "invalid regular expression: missing ), unterminated subpattern",
    ),
    (
        "a duplicate key",
        "name: x\ncases:\n  - name: a\n    turns:\n      - user: hi\n        user: again\n",
        6,
        "duplicate key 'user' in turn",
    ),
    (
        "a case that cannot fail",
        "name: x\ncases:\n  - name: a\n    turns:\n      - user: hi\n",
        3,
        "case 'a' expects nothing: give a turn an 'expect' so it can fail",
    ),
    (
        "two cases with one name",
        "name: x\ncases:\n  - name: a\n    turns: [{user: hi, expect: {regex: a}}]\n"
        "  - name: A\n    turns: [{user: hi, expect: {regex: a}}]\n",
        5,
        "duplicate case name 'A' (first at line 3)",
    ),
    (
        "missing audio",
        "name: x\ncases:\n  - name: a\n    turns:\n      - audio: clips/none.wav\n"
        "        expect: {regex: a}\n",
        5,
        "audio file not found: clips/none.wav (looked for ",
    ),
    (
        "missing image",
        "name: x\ncases:\n  - name: a\n    turns:\n      - user: hi\n        images:\n          - cat.jpg\n"
        "          - dog.jpg\n        expect: {regex: a}\n",
        8,
        "image not found: dog.jpg",
    ),
    (
        "missing persona",
        "name: x\npersona: personas/p.toml\ncases: []\n",
        2,
        "persona not found: personas/p.toml",
    ),
    (
        "empty expect",
        "name: x\ncases:\n  - name: a\n    turns:\n      - {user: hi, expect: {}}\n",
        5,
        "'expect' is empty",
    ),
    ("a list at the top", "- name: x\n", 1, "a suite must be a mapping (key: value), not a list"),
    (
        "two documents",
        "name: x\n---\nname: y\n",
        2,
        "invalid YAML: expected a single document in the stream, but found another",
    ),
]


@pytest.mark.parametrize(("what", "text", "line", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_suites_name_the_line_and_the_problem(folder, what, text, line, message):
    path = folder / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    (folder / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(SuiteError) as caught:
        load_suite(path)
    assert str(caught.value).startswith(f"{path}:{line}: "), caught.value
    assert message in str(caught.value)


def test_an_empty_or_unreadable_file_is_refused(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    with pytest.raises(SuiteError, match="the suite is empty"):
        load_suite(empty)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00name")
    with pytest.raises(SuiteError, match="not a UTF-8 text file"):
        load_suite(binary)


def test_the_command_prints_one_error_line_and_exits_2(folder, capsys):
    path = folder / "bad.yaml"
    path.write_text(INVALID[2][1], encoding="utf-8")
    run = run_eval(capsys, str(path), "--json")
    assert run.code == 2 and run.out == ""
    assert run.err.strip().splitlines() == [f"error: {path}:6: {INVALID[2][3]}"]


def test_a_missing_suite_file_exits_2(tmp_path, capsys):
    run = run_eval(capsys, str(tmp_path / "nope.yaml"))
    assert run.code == 2 and run.err.strip() == f"error: suite file not found: {tmp_path / 'nope.yaml'}"


def test_an_unreadable_clip_is_refused_before_any_case_runs(tmp_path, capsys, fake_ollama):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "q.wav").write_text("not audio at all")
    suite = write_suite(
        tmp_path,
        """
        name: x
        cases:
          - name: typed first
            turns: [{user: hi, expect: {regex: a}}]
          - name: spoken
            turns:
              - audio: clips/q.wav
                expect: {regex: a}
        """,
    )
    run = run_eval(capsys, str(suite), "--llm", "ollama", "--ollama-host", fake_ollama.url)
    assert run.code == 2
    assert run.err.strip().splitlines()[-1].startswith(f"error: {suite}:7: ")
    assert "q.wav is not a readable audio file" in run.err
    assert answered(fake_ollama) == []  # nothing ran


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--repeat", "0"), "--repeat must be at least 1"),
        (("--min-pass-rate", "1.5"), "--min-pass-rate must be more than 0 and at most 1"),
        (("-k", "zebra"), "no case matches -k zebra; the cases are: "),
        (("--report", "."), "--report . is a directory: give a file name such as report.html"),
    ],
)
def test_bad_options_exit_2(folder, capsys, args, message):
    run = run_eval(capsys, str(write_suite(folder, VALID)), *args)
    assert run.code == 2 and run.err.startswith(f"error: {message}")
