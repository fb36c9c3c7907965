"""The turn benchmark's core: samples built from Piper speech, scoring, and the offline decider pass."""

from __future__ import annotations

import numpy as np
import pytest

from hark.benchmark.recording import first_audible_s, last_audible_s
from hark.benchmark.turns import (
    LEAD_S,
    PAUSED,
    PAUSES_S,
    SpokenPart,
    TurnSample,
    build_samples,
    decide_offline,
    make_sample,
    model_cost,
    run_offline,
    said,
    score,
)
from hark.benchmark.turns_live import outcome, summarise
from voice import SAMPLE_RATE
from voice.decode import resample, to_float32
from voice.tts import Speaker, TtsConfig
from voice.turn import TurnConfig
from voice.turn.text import unfinished_reading
from voice.vad import WebRtcVad


def fake_sample(*parts: tuple[str, float, float]) -> TurnSample:
    return TurnSample(
        " ".join(p[0] for p in parts), np.zeros(0, np.int16), tuple(SpokenPart(*p) for p in parts)
    )


COMPLETE_A = fake_sample(("What is two plus two?", 0.5, 1.5))
COMPLETE_B = fake_sample(("Is the sun a star?", 0.5, 1.2))
PAUSED_A = fake_sample(("Set a timer for", 0.5, 1.2), ("ten minutes.", 2.0, 2.8))
PAUSED_B = fake_sample(("Tell me about", 0.5, 1.1), ("the moon.", 1.9, 2.5))


def test_a_release_before_the_end_of_speech_is_a_cutoff_and_delays_count_complete_questions_only():
    result = score([COMPLETE_A, COMPLETE_B, PAUSED_A, PAUSED_B], [1.8, 1.6, 1.5, 3.0])
    assert result.n == 4 and result.n_paused == 2
    assert result.false_cutoffs == 1
    assert result.false_cutoff_rate == pytest.approx(0.5)
    assert result.median_delay_s == pytest.approx(0.35)  # 0.3 and 0.4; the paused turn's 0.5 is not counted
    assert result.to_json()["false_cutoff_rate"] == 0.5


def test_a_cut_off_complete_question_has_no_delay():
    result = score([COMPLETE_A], [1.4])
    assert result.false_cutoffs == 1 and result.false_cutoff_rate == 0.0
    assert result.median_delay_s is None and result.p90_delay_s is None


def test_scoring_needs_one_release_per_sample():
    with pytest.raises(ValueError):
        score([COMPLETE_A, COMPLETE_B], [1.8])


def test_what_was_said_by_a_time():
    assert PAUSED_A.said_by(1.3) == "Set a timer for"
    assert PAUSED_A.said_by(2.9) == "Set a timer for ten minutes."
    assert said(PAUSED_A)(np.zeros(0, np.float32), 1.3) == "Set a timer for"


def test_the_plan_pauses_half_a_second_to_just_over_a_second():
    assert all(0.5 <= p <= 1.2 for p in PAUSES_S)
    assert len(PAUSED) >= 10


@pytest.fixture(scope="module")
def paused_sample(speaker):
    return make_sample(speaker, ["I would like to book a table for", "four people at seven tonight."], [0.8])


def test_a_paused_sample_has_the_pause_it_was_asked_for(paused_sample):
    first, second = paused_sample.parts
    assert second.start_s - first.end_s == pytest.approx(0.8, abs=0.002)
    audio = paused_sample.audio
    assert first_audible_s(audio) == pytest.approx(LEAD_S, abs=0.002)
    assert last_audible_s(audio) == pytest.approx(paused_sample.speech_end_s, abs=1 / SAMPLE_RATE)
    gap = audio[round(first.end_s * SAMPLE_RATE) + 1 : round(second.start_s * SAMPLE_RATE) - 1]
    assert np.abs(gap.astype(np.int32)).max() <= 300  # nothing audible inside the pause
    assert paused_sample.paused


def test_samples_follow_the_plan(speaker):
    samples = build_samples(speaker, n_complete=1, n_paused=2)
    assert [s.paused for s in samples] == [False, True, True]
    assert samples[1].text == " ".join(PAUSED[0])
    assert samples[2].parts[1].start_s - samples[2].parts[0].end_s == pytest.approx(PAUSES_S[1], abs=0.002)


@pytest.fixture(scope="module")
def model(turn_model):
    return turn_model


def test_the_decider_holds_through_a_mid_sentence_pause_on_real_audio(paused_sample, model):
    run = decide_offline(paused_sample, WebRtcVad(), TurnConfig(), model, said(paused_sample))
    assert run.decisions[0].reason == "text: preposition 'for'"
    assert paused_sample.speech_end_s <= run.release_s <= paused_sample.speech_end_s + 1.5
    assert run.model_calls >= 1


def test_the_decider_holds_on_whisper_transcripts_too(paused_sample, model, transcriber):
    """The whole chain on real parts: VAD, Whisper's transcript of the half, the model, the decider."""
    run = decide_offline(
        paused_sample, WebRtcVad(), TurnConfig(), model, lambda audio, _: transcriber.transcribe(audio).text
    )
    assert run.transcripts[0].rstrip(".").lower().endswith("table for"), run.transcripts
    assert paused_sample.speech_end_s <= run.release_s <= paused_sample.speech_end_s + 1.5


@pytest.fixture(scope="module")
def piper():
    return Speaker(TtsConfig(deterministic=True))


def spoken_until(speaker: Speaker, text: str, tail_s: float) -> np.ndarray:
    """`text` in Piper's voice after 0.3 s of silence, cut `tail_s` after its last sound (as a pause's
    speculative transcript hears it)."""
    pcm = resample(speaker.synthesize_all(text), speaker.sample_rate, SAMPLE_RATE)
    end = round((last_audible_s(pcm) + tail_s) * SAMPLE_RATE)
    return to_float32(np.concatenate([np.zeros(round(0.3 * SAMPLE_RATE), np.int16), pcm[:end]]))


@pytest.mark.parametrize("tail_s", [0.05, 0.1, 0.15])
@pytest.mark.parametrize("half", ["Where did I leave my", "Add eggs, milk and"])
def test_whisper_mends_a_half_but_its_near_readings_keep_it_unfinished(piper, transcriber, half, tail_s):
    """Whisper hears "Where did I leave mine?" and, cut 0.1 s after "and", "Add eggs, milk in.": the
    benchmark's two cut-offs. The runner-up reading keeps the word that says the sentence goes on."""
    heard = transcriber.transcribe(spoken_until(piper, half, tail_s))
    assert unfinished_reading(heard.text, heard.alternatives) is not None, heard


@pytest.mark.parametrize(
    "question", ["What is the capital of France?", "What do bees make?", "Is the sun a star?"]
)
def test_near_readings_leave_a_complete_question_finished(piper, transcriber, question):
    heard = transcriber.transcribe(spoken_until(piper, question, 0.1))
    assert unfinished_reading(heard.text, heard.alternatives) is None, heard


def test_a_fixed_hang_shorter_than_the_pause_cuts_the_user_off(paused_sample):
    config = TurnConfig(hang_s=0.5, use_text=False)
    run = decide_offline(paused_sample, WebRtcVad(), config, None, None)
    first, second = paused_sample.parts
    assert first.end_s < run.release_s < second.start_s
    assert [d.reason for d in run.decisions] == ["hang", "hang"]


def test_the_text_signal_needs_a_transcript(paused_sample):
    with pytest.raises(ValueError, match="transcript"):
        decide_offline(paused_sample, WebRtcVad(), TurnConfig(), None, None)


def test_an_offline_run_reports_the_score_and_each_turn(paused_sample):
    result = run_offline([paused_sample], WebRtcVad(), TurnConfig(use_text=False), None, None)
    assert result["false_cutoff_rate"] == 1.0  # the 0.5 s hang ends the turn inside the 0.8 s pause
    assert result["model_calls_per_turn"] == 0 and result["model_cpu_ms_per_call"] is None
    assert result["turns"][0]["release_after_end_s"] < 0
    assert result["turns"][0]["reasons"] == ["hang", "hang"]


def test_model_cost_is_measured_per_call(paused_sample, model):
    cost = model_cost(model, paused_sample, calls=3)
    assert 0 < cost["median_ms"] <= cost["p90_ms"]
    assert cost["cpu_median_ms"] > 0


def loop_lines(*turns: tuple[float, float]) -> list[dict]:
    """The `--json` lines of a run: (end of speech, eos to first audio) per turn."""
    lines: list[dict] = []
    for i, (end_s, first_audio_s) in enumerate(turns, 1):
        lines.append({"event": "speech_ended", "turn_id": i, "stream_s": end_s, "reason": "model 0.9"})
        lines.append({"event": "transcript", "turn_id": i, "final": True, "text": "words"})
        lines.append(
            {"event": "metrics", "turn_id": i, "endpoint_s": 0.2, "eos_to_first_audio_s": first_audio_s}
        )
    return lines


def test_the_live_pass_counts_a_turn_ended_in_the_pause_or_split_in_two_as_a_cutoff():
    whole = outcome(PAUSED_A, loop_lines((2.8, 0.3)))
    split = outcome(PAUSED_A, loop_lines((1.2, 0.3), (2.8, 0.3)))
    early = outcome(PAUSED_B, loop_lines((1.1, 0.3)))
    assert not whole["cut_off"] and split["cut_off"] and early["cut_off"]
    questions = [outcome(COMPLETE_A, loop_lines((1.5, s))) for s in (0.3, 0.4, 0.5)]
    result = summarise([whole, split, *questions])
    assert result["n"] == 5 and result["n_paused"] == 2 and result["false_cutoff_rate"] == 0.5
    assert result["median_eos_to_first_audio_s"] == 0.4  # complete questions only
    assert result["median_stages_s"]["endpoint_s"] == 0.2
