"""`hark eval --compare A.toml B.toml`: A/B on the Ollama-protocol test server, and the exact Fisher test."""

from __future__ import annotations

import itertools
import os

import pytest
import scipy.stats
from test_eval_helpers import last_user, on_server, parse, run_eval, write_suite

from hark.evaluation.fisher import significant, worse_p

SUITE = """
name: kiosk
cases:
  - name: says its name
    must_not_regress: true
    turns:
      - user: "What is your name?"
        expect: {contains: ["Ada"]}
  - name: knows the capital
    turns:
      - user: "What is the capital of France?"
        expect: {contains: ["Paris"]}
"""


def persona_replier(messages: list[dict]) -> str:
    """Ada (the concierge persona) gives her name; any other persona does not. Both know capitals."""
    if "france" in last_user(messages).lower():
        return "The capital of France is Paris."
    return "I am Ada, at your service." if "You are Ada" in messages[0]["content"] else "I am your helper."


@pytest.fixture
def server(fake_ollama):
    fake_ollama.replier = persona_replier
    return fake_ollama


def configs(folder, a: str, b: str, names=("A.toml", "B.toml")):
    paths = []
    for name, body in zip(names, (a, b), strict=True):
        path = folder / name
        path.write_text(body, encoding="utf-8")
        paths.append(str(path))
    return paths


CONCIERGE = '[dialogue]\npersona = "concierge"\n'
TUTOR = '[dialogue]\npersona = "tutor"\n'


def compare(capsys, server, tmp_path, a: str, b: str, *extra: str):
    suite = write_suite(tmp_path, SUITE)
    return run_eval(capsys, *on_server(server, str(suite), "--compare", *configs(tmp_path, a, b), *extra))


def test_exact_test_calls_six_of_six_against_none_but_not_three_of_three():
    assert significant(worse_p(6, 6, 0, 6))
    assert worse_p(3, 3, 0, 3) == pytest.approx(0.05)
    assert not significant(worse_p(3, 3, 0, 3))
    assert not significant(worse_p(0, 6, 6, 6))  # B better is not "B worse"
    with pytest.raises(ValueError):
        worse_p(4, 3, 0, 3)


def test_exact_test_agrees_with_scipy():
    for pa, pb in itertools.product(range(7), range(5)):
        table = [[pa, 6 - pa], [pb, 4 - pb]]
        expected = scipy.stats.fisher_exact(table, alternative="greater").pvalue
        assert float(worse_p(pa, 6, pb, 4)) == pytest.approx(expected, rel=1e-9)


def test_a_significantly_worse_b_on_a_guarded_case_exits_1(server, tmp_path, capsys):
    run = compare(capsys, server, tmp_path, CONCIERGE, TUTOR, "--repeat", "6", "--json")
    assert run.code == 1, run.err
    summary = run.summary
    assert summary["compare"] == {"a": "A.toml", "b": "B.toml"}
    cases = {c["name"]: c for c in summary["cases"]}
    name = cases["says its name"]
    assert (name["a"]["passed"], name["b"]["passed"], name["a"]["runs"]) == (6, 0, 6)
    assert name["verdict"] == "B worse" and name["regressed"] and name["changed"]
    assert name["p_b_worse"] == pytest.approx(1 / 924, rel=1e-3)
    assert cases["knows the capital"]["verdict"] == "no significant difference"
    assert summary["regressions"] == ["says its name"] and summary["changed"] == ["says its name"]
    assert summary["overall"]["difference"] == pytest.approx(-0.5)
    assert set(summary["latency_s"]["first_token_s"]) == {"A.toml", "B.toml"}
    assert summary["latency_s"]["first_token_s"]["A.toml"]["count"] == 12
    assert "[A.toml] PASS  says its name" in run.err and "[B.toml] FAIL  says its name" in run.err


def test_the_better_b_is_called_better_and_exits_0(server, tmp_path, capsys):
    run = compare(capsys, server, tmp_path, TUTOR, CONCIERGE, "--repeat", "6")
    assert run.code == 0, run.err
    row = next(line for line in run.out.splitlines() if line.startswith("says its name"))
    assert "0/6 0%" in row and "6/6 100%" in row and "B better" in row
    assert "changed: says its name: FAIL on A.toml → PASS on B.toml" in run.out


def test_three_of_three_against_none_is_not_significant(server, tmp_path, capsys):
    run = compare(capsys, server, tmp_path, CONCIERGE, TUTOR, "--repeat", "3", "--json")
    assert run.code == 0, run.err
    name = next(c for c in run.summary["cases"] if c["name"] == "says its name")
    assert name["verdict"] == "no significant difference" and not name["regressed"]
    assert name["p_b_worse"] == pytest.approx(0.05)


def test_a_tie_is_not_called_a_win(server, tmp_path, capsys):
    same_persona = CONCIERGE + "max_history_messages = 4\n"
    run = compare(capsys, server, tmp_path, CONCIERGE, same_persona, "--repeat", "6", "--json")
    assert run.code == 0, run.err
    assert {c["verdict"] for c in run.summary["cases"]} == {"no significant difference"}
    assert run.summary["overall"]["verdict"] == "no significant difference"
    assert run.summary["changed"] == []


def test_the_report_labels_each_configuration_by_file_name(server, tmp_path, capsys):
    report = tmp_path / "ab.html"
    run = compare(capsys, server, tmp_path, CONCIERGE, TUTOR, "--repeat", "6", "--report", str(report))
    assert run.code == 1
    root = parse(report.read_text(encoding="utf-8"))
    header = [th.text() for th in root.find_all("th")]
    assert header[1:3] == ["A.toml", "B.toml"]
    verdicts = {
        tr.attrs["data-case"]: tr.attrs["data-verdict"]
        for tr in root.find_all("tr")
        if "data-case" in tr.attrs
    }
    assert verdicts == {
        "says its name": "B worse",
        "knows the capital": "no significant difference",
        "overall": "B worse",
    }
    assert len(root.find_all("circle", "dot")) == 2 * 2 * 12  # first token and total, 12 turns, per side
    assert [s.attrs["data-name"] for s in root.find_all("section", "changed")] == ["says its name"]


def test_same_file_twice_is_an_error(server, tmp_path, capsys):
    suite = write_suite(tmp_path, SUITE)
    (a,) = configs(tmp_path, CONCIERGE, TUTOR)[:1]
    link = tmp_path / "link.toml"
    os.symlink(a, link)
    for pair in ((a, a), (a, str(link))):
        run = run_eval(capsys, *on_server(server, str(suite), "--compare", *pair))
        assert run.code == 2 and "error: --compare" in run.err and "same file" in run.err
    assert server.chats() == []


def test_same_names_in_two_folders_are_labelled_by_path(server, tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    paths = configs(tmp_path, CONCIERGE, TUTOR, names=("x/hark.toml", "y/hark.toml"))
    suite = write_suite(tmp_path, SUITE)
    run = run_eval(capsys, *on_server(server, str(suite), "--compare", *paths, "--json"))
    assert run.summary["compare"] == {"a": paths[0], "b": paths[1]}
