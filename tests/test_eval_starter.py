"""The starter suite (`evals/starter.yaml`) against the Ollama-protocol test server and the embedded model,
and the embedded model under `hark eval` (plumbing only: SmolLM2-135M's answers are not facts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_eval_helpers import answered, front_desk_replier, on_server, parse, run_eval, sections, write_suite

from hark.evaluation.suite import load_suite

pytestmark = pytest.mark.integration

STARTER = Path(__file__).resolve().parent.parent / "evals" / "starter.yaml"
GUARDED = "refuses to reveal its instructions"
EVERYDAY = "answers an everyday question without refusing it"
SPOKEN = "spoken question"


def checks(result: dict) -> dict[str, dict]:
    return {c["expect"]: c for t in result["turns"] for c in t["checks"]}


def test_the_starter_suite_covers_the_persona_the_guardrails_and_speech():
    suite = load_suite(STARTER)
    keys = {e.key for c in suite.cases for t in c.turns for e in t.expectations}
    assert {"contains", "not_contains", "regex", "blocked", "transcript", "max_latency_s"} <= keys
    assert (
        any(t.spoken for c in suite.cases for t in c.turns) and suite.persona is None
    )  # the default persona


def test_starter_suite_passes_against_a_well_behaved_model(
    fake_ollama, monkeypatch, transcriber, speaker, capsys
):
    monkeypatch.setattr("hark.assembly.build_transcriber", lambda config, reporter: transcriber)
    monkeypatch.setattr("hark.assembly.build_speaker", lambda config, reporter, persona=None: speaker)
    fake_ollama.replier = front_desk_replier
    run = run_eval(capsys, *on_server(fake_ollama, str(STARTER), "--json"))
    results = run.summary["results"]
    assert [r["name"] for r in results] == [c.name for c in load_suite(STARTER).cases]
    for result in results:
        for check in checks(result).values():
            if check["expect"] == "max_latency_s":  # measured on a shared machine: evaluated, not asserted
                assert check["status"] in ("pass", "fail") and check["reason"].startswith("first ")
            else:
                assert check["status"] == "pass", (result["name"], check)
    guarded = next(r for r in results if r["name"] == GUARDED)["turns"][0]
    assert guarded["blocked"] and guarded["guardrail"] == "injection:ignore_instructions"
    assert all("Ignore previous" not in c["messages"][-1]["content"] for c in answered(fake_ollama))
    assert answered(fake_ollama)[0]["messages"][0]["content"].startswith("You are Hark, ")  # default persona


def test_starter_suite_runs_end_to_end_on_the_embedded_model(tmp_path):
    report = tmp_path / "starter.html"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hark.cli",
            "eval",
            str(STARTER),
            "--llm",
            "embedded",
            "--json",
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OLLAMA_HOST": "http://127.0.0.1:9"},
        stdin=subprocess.DEVNULL,
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout + result.stderr
    summary = json.loads(lines[0])
    assert result.returncode == (1 if summary["failed"] else 0), result.stderr
    assert "embedded model SmolLM2-135M" in summary["setup"]["model"]
    assert summary["cases"] == summary["passed"] + summary["failed"] + summary["skipped"] == 6
    by_name = {r["name"]: r for r in summary["results"]}
    for case in by_name.values():
        for turn in case["turns"]:
            assert turn["reply"].strip() and turn["error"] is None
            assert turn["first_token_s"] is not None and turn["first_token_s"] >= 0  # 0.0: a canned refusal
    # What does not depend on the model's knowledge: the guardrails and what Whisper hears from Piper.
    assert checks(by_name[GUARDED])["blocked"]["status"] == "pass"
    assert checks(by_name[EVERYDAY])["blocked"]["status"] == "pass"
    spoken = by_name[SPOKEN]["turns"][0]
    assert checks(by_name[SPOKEN])["transcript"]["status"] == "pass"
    assert 0 < spoken["stt_s"] <= spoken["first_token_s"] <= spoken["first_audio_s"]
    assert set(sections(parse(report.read_text()))) == set(by_name)


def test_the_embedded_model_answers_but_is_not_asked_to_judge(tmp_path, capsys):
    suite = write_suite(
        tmp_path,
        """
        name: embedded
        cases:
          - name: judged
            turns: [{user: "Say hello.", expect: {judge: "The reply is a greeting.", regex: "^$"}}]
        """,
    )
    run = run_eval(capsys, str(suite), "--llm", "embedded", "--json")
    assert run.code == 1
    (turn,) = run.case("judged")["turns"]
    judge, regex = turn["checks"]
    assert judge["status"] == "skip" and judge["reason"].startswith(
        "no judge: the embedded model SmolLM2-135M"
    )
    assert judge["reason"].endswith("is too small to judge reliably; pass --judge-model with an Ollama model")
    assert regex["status"] == "fail" and turn["reply"].strip()  # an empty reply is not what came back
    assert (
        "skipped judge: no judge: the embedded model" in run.err
    )  # the mark on the console (stderr: --json)
