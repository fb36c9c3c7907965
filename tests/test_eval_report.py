"""The HTML report, parsed: every case with its verdict, dialogue, failures and a latency chart per run."""

from __future__ import annotations

import pytest
from test_eval_helpers import cycling, on_server, parse, run_eval, sections, write_suite

SUITE = """
name: report <check>
cases:
  - name: remembers & greets
    turns:
      - user: "Hello <b>there</b>"
      - user: "And again?"
        expect: {contains: "again"}
  - name: wants Berlin
    turns:
      - user: "What is the capital of France?"
        expect: {contains: "Berlin", regex: "Paris"}
"""


def replier(messages: list[dict]) -> str:
    text = messages[-1]["content"]
    return "Paris, of course." if "France" in text else f'You said <i>{text}</i> & "more".'


@pytest.fixture
def report(fake_ollama, tmp_path, capsys):
    fake_ollama.replier = replier
    path = tmp_path / "out" / "report.html"
    run = run_eval(
        capsys, *on_server(fake_ollama, str(write_suite(tmp_path, SUITE)), "--json", "--report", str(path))
    )
    assert run.code == 1
    assert f"report written to {path}" in run.err
    return parse(path.read_text(encoding="utf-8")), run.summary


def test_the_report_has_every_case_with_its_verdict_and_dialogue(report):
    root, summary = report
    (title,) = root.find_all("head")[0].find_all("title")
    assert title.text() == "hark eval: report <check>"  # escaped in the source, the same text when parsed
    cases = sections(root)
    assert list(cases) == [r["name"] for r in summary["results"]]
    for result in summary["results"]:
        section = cases[result["name"]]
        assert section.attrs["data-status"] == result["status"] and result["status"] in section.classes
        turns = section.find_all("li", "turn")
        assert len(turns) == len(result["turns"])
        for element, turn in zip(turns, result["turns"], strict=True):
            (user,) = element.find_all("p", "user")
            (reply,) = element.find_all("p", "reply")
            assert user.text() == "you" + turn["user"] and reply.text() == "hark" + turn["reply"]
            assert element.attrs["data-line"] == str(turn["line"])
    greeting = cases["remembers & greets"].find_all("p", "reply")[0]
    assert greeting.find_all("i") == [] and "<i>Hello <b>there</b></i>" in greeting.text()  # text, not markup


def test_the_report_says_what_failed_and_why(report):
    root, _ = report
    failed = sections(root)["wants Berlin"]
    assert "failed" in failed.classes and failed.find_all("span", "mark")[0].text() == "FAIL"
    checks = {c.find_all("code")[0].text(): c for c in failed.find_all("li", "check")}
    assert "fail" in checks["contains"].classes and "missing 'Berlin'" in checks["contains"].text()
    assert "pass" in checks["regex"].classes and "matched 'Paris'" in checks["regex"].text()
    (summary_line,) = root.find_all("p", "summary")
    assert summary_line.text().startswith("1 passed, 1 failed, 0 skipped")


def test_each_run_has_a_latency_bar_per_measured_turn(report):
    root, summary = report
    for result in summary["results"]:
        (chart,) = sections(root)[result["name"]].find_all("svg", "latency-chart")
        bars = chart.find_all("rect", "bar")
        assert [b.attrs["data-turn"] for b in bars] == [str(t["turn"]) for t in result["turns"]]
        assert all("first-token" in b.classes and float(b.attrs["width"]) >= 1 for b in bars)
        for bar, turn in zip(bars, result["turns"], strict=True):
            label, seconds = bar.find_all("title")[0].text().split(": ")
            assert label == f"turn {turn['turn']} first token"
            assert float(seconds.removesuffix("s")) == pytest.approx(turn["first_token_s"], abs=1e-3)


def test_the_page_is_self_contained(report):
    root, _ = report
    assert root.find_all("script") == [] and root.find_all("link") == [] and root.find_all("img") == []
    links = [a.attrs["href"] for a in root.find_all("a")]
    assert links == ["#case-1", "#case-2"]
    assert {s.attrs["id"] for s in root.find_all("section", "case")} == {"case-1", "case-2"}


def test_repeated_runs_each_get_their_own_dialogue_and_chart(fake_ollama, tmp_path, capsys):
    fake_ollama.replier = cycling("Paris.", "Lyon.", "Paris.")
    suite = write_suite(
        tmp_path,
        """
        name: flaky
        cases:
          - name: capital
            turns: [{user: "Capital of France?", expect: {contains: Paris}}]
        """,
    )
    path = tmp_path / "flaky.html"
    run = run_eval(capsys, *on_server(fake_ollama, str(suite), "--repeat", "3", "--report", str(path)))
    assert run.code == 1
    section = sections(parse(path.read_text()))["capital"]
    runs = section.find_all("details")
    assert [d.find_all("summary")[0].text() for d in runs] == [
        "run 1: passed",
        "run 2: failed",
        "run 3: passed",
    ]
    assert ["open" in d.attrs for d in runs] == [False, True, False]  # the failure is shown unfolded
    assert [len(d.find_all("rect", "bar")) for d in runs] == [1, 1, 1]
    assert "2/3 runs passed" in section.find_all("p", "meta")[0].text()
