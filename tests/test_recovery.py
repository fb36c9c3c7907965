"""Recovery: bounded retries with backoff, the fallback model announced once, cut-off replies kept, a missing
model named with `ollama pull` — on scripted backends, then over real HTTP to the Ollama-protocol server."""

from __future__ import annotations

import threading

import pytest
from dialogue_fakes import PERSONA, FakeBackend
from fake_ollama import FakeModel

from dialogue.backends.base import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    Cancel,
    GenerationOptions,
    ModelNotFound,
    StreamInfo,
    TextDelta,
    open_stream,
)
from dialogue.backends.ollama_backend import OllamaBackend
from dialogue.backends.resilient import ResilientBackend, RetryPolicy
from dialogue.manager import APOLOGY, FALLBACK_NOTICE, DialogueManager
from dialogue.messages import Message

MESSAGES = [Message("user", "hello")]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def resilient(primary, fallback=None, **policy):
    sleeps: list[float] = []
    clock = Clock()
    backend = ResilientBackend(
        primary,
        (lambda: fallback) if fallback is not None else None,
        RetryPolicy(**policy),
        sleep=sleeps.append,
        clock=clock,
    )
    return backend, sleeps, clock


def answer(backend: ResilientBackend) -> tuple[str, StreamInfo]:
    info = StreamInfo()
    stream = open_stream(backend, lambda _b: MESSAGES, GenerationOptions(), info)
    return "".join(stream.text()), info


def test_retries_with_exponential_backoff_then_succeeds():
    primary = FakeBackend("all good", failures=[BackendUnavailable("refused")] * 2)
    backend, sleeps, _ = resilient(primary, backoff_s=0.25)
    text, info = answer(backend)
    assert text == "all good"
    assert info.attempts == 3 and sleeps == [0.25, 0.5] and info.fallback_reason is None
    assert not backend.degraded


def test_after_the_retries_the_fallback_answers_and_the_primary_rests():
    primary = FakeBackend("primary", failures=[BackendUnavailable("refused")] * 4)
    fallback = FakeBackend("fallback here", model="small")
    backend, sleeps, clock = resilient(primary, fallback, attempts=3, cooldown_s=30)
    text, info = answer(backend)
    assert text == "fallback here" and info.model == "small" and info.attempts == 3
    assert isinstance(info.fallback_reason, BackendUnavailable) and backend.degraded
    text, info = answer(backend)  # during the cooldown the primary is not asked at all
    assert text == "fallback here" and info.attempts == 0 and len(primary.seen) == 3
    clock.now = 31
    text, info = answer(backend)  # one probe after the cooldown (still down: no retries)
    assert text == "fallback here" and info.attempts == 1 and len(primary.seen) == 4
    clock.now = 62
    text, info = answer(backend)
    assert text == "primary" and info.fallback_reason is None and not backend.degraded
    assert sleeps == [0.25, 0.5]


@pytest.mark.parametrize("error", [BackendTimeout("slow"), ModelNotFound("no model", "m")])
def test_timeouts_and_missing_models_are_not_retried(error):
    primary = FakeBackend("primary", failures=[error])
    backend, sleeps, _ = resilient(primary, FakeBackend("fallback"))
    text, info = answer(backend)
    assert text == "fallback" and info.attempts == 1 and sleeps == [] and info.fallback_reason is error


def test_a_failure_mid_reply_is_not_retried_and_keeps_the_text():
    primary = FakeBackend("one two three four", fail_mid=(2, BackendUnavailable("cut")))
    backend, _, _ = resilient(primary, FakeBackend("fallback"))
    stream = open_stream(backend, lambda _b: MESSAGES, GenerationOptions(), StreamInfo())
    got = []
    with pytest.raises(BackendUnavailable, match="cut"):
        for piece in stream:
            got.append(piece)
    assert got == [TextDelta("one "), TextDelta("two ")] and len(primary.seen) == 1 and not backend.degraded


def test_without_a_fallback_the_last_error_is_raised():
    primary = FakeBackend(failures=[BackendUnavailable("a"), BackendUnavailable("b")])
    backend, _, _ = resilient(primary, attempts=2)
    with pytest.raises(BackendUnavailable, match="b"):
        answer(backend)


def test_a_fallback_that_cannot_load_is_tried_once():
    built = []

    def broken():
        built.append(1)
        raise BackendError("llama-cpp-python is not installed")

    primary = FakeBackend(failures=[BackendUnavailable("down")] * 10)
    backend = ResilientBackend(primary, broken, RetryPolicy(attempts=1, cooldown_s=0), sleep=lambda s: None)
    for _ in range(2):
        with pytest.raises(BackendUnavailable, match="down"):
            answer(backend)
    assert built == [1]


def test_closing_the_reply_cancels_the_primary():
    primary = FakeBackend("one two three four")
    backend, _, _ = resilient(primary)
    stream = open_stream(backend, lambda _b: MESSAGES, GenerationOptions(), StreamInfo())
    next(stream)
    stream.close()
    assert primary.closed == 1


def test_a_cancelled_reply_is_neither_retried_nor_handed_to_the_fallback():
    primary = FakeBackend(failures=[BackendUnavailable("down")])
    fallback = FakeBackend("fallback")
    backend, sleeps, _ = resilient(primary, fallback)
    cancel = Cancel()
    stream = open_stream(backend, lambda _b: MESSAGES, GenerationOptions(), StreamInfo(), cancel)
    cancel.set()
    assert list(stream) == [] and primary.seen == [] and fallback.seen == [] and sleeps == []


def test_a_cancel_ends_the_wait_before_a_retry():
    primary = FakeBackend(failures=[BackendUnavailable("down")])
    backend = ResilientBackend(primary, policy=RetryPolicy(backoff_s=60, max_backoff_s=60))
    cancel = Cancel()
    stream = open_stream(backend, lambda _b: MESSAGES, GenerationOptions(), StreamInfo(), cancel)
    got: list = []
    reader = threading.Thread(target=lambda: got.extend(stream))
    reader.start()
    while not primary.seen and reader.is_alive():
        reader.join(0.01)
    cancel.set()
    reader.join(10)
    assert not reader.is_alive() and got == [] and len(primary.seen) == 1  # no retry after the cancel


def test_the_fallback_gets_messages_made_for_it():
    """A fallback that cannot see gets the images described (`prepare` is called for each backend)."""
    primary = FakeBackend(sees_images=True, failures=[BackendTimeout("slow")])
    fallback = FakeBackend("I cannot see it, but the text says EXIT.")
    backend, _, _ = resilient(primary, fallback)
    manager = DialogueManager(backend, persona=PERSONA, image_describer=lambda data: "text reads 'EXIT'")
    turn = manager.begin_turn("What does the sign say?", [b"png"])
    spoken = "".join(turn.pieces())
    turn.finish()
    assert primary.seen[0][-1].images == (b"png",)
    assert fallback.seen[0][-1].images == () and "'EXIT'" in fallback.seen[0][-1].content
    assert spoken.startswith(FALLBACK_NOTICE) and not turn.record.images_seen and turn.record.fallback


def test_the_notice_comes_once_per_outage_and_not_from_a_dropped_turn():
    down = [BackendUnavailable("down")] * 3
    primary = FakeBackend("Primary answer.", failures=list(down))
    backend, _, clock = resilient(primary, FakeBackend("Fallback answer."), cooldown_s=30)
    manager = DialogueManager(backend, persona=PERSONA)
    dropped = manager.begin_turn("a speculative turn the voice loop drops")
    assert "".join(dropped.pieces()).startswith(FALLBACK_NOTICE)  # never finished: leaves no trace
    assert manager.reply("one").startswith(FALLBACK_NOTICE)
    assert manager.reply("two") == "Fallback answer."
    clock.now = 31
    assert manager.reply("three") == "Primary answer."  # recovered
    primary.failures = list(down)
    assert manager.reply("four").startswith(FALLBACK_NOTICE)  # a new outage is news again


# --- over real HTTP, through the real `ollama` client -------------------------------------------------


def ollama_manager(fake, fallback=None, model="gemma3:4b", timeout_s=5.0, max_tokens=200, **policy):
    primary = OllamaBackend(model, fake.url, timeout_s=timeout_s)
    backend = ResilientBackend(
        primary,
        (lambda: fallback) if fallback is not None else None,
        RetryPolicy(backoff_s=0.01, **policy),
    )
    return DialogueManager(backend, persona=PERSONA, options=GenerationOptions(max_tokens=max_tokens))


def test_http_500s_are_retried_until_the_server_answers(fake_ollama):
    fake_ollama.behaviour.fail_status, fake_ollama.behaviour.fail_count = 500, 2
    manager = ollama_manager(fake_ollama, FakeBackend("fallback"))
    assert manager.reply("hello") == "You said: hello. That is all I know."
    assert len(fake_ollama.chats()) == 3
    record = manager.last_record
    assert record.attempts == 3 and not record.fallback and record.error is None
    assert (record.model, record.prompt_tokens, record.reply_tokens) == ("gemma3:4b", 10, 8)


def test_server_down_falls_back_and_says_so_once(fake_ollama):
    fallback = FakeBackend("The small model answers.", model="smol")
    manager = ollama_manager(fake_ollama, fallback)
    fake_ollama.stop()
    first = manager.reply("hello")
    second = manager.reply("again")
    assert first == f"{FALLBACK_NOTICE} The small model answers."
    assert second == "The small model answers."
    assert manager.last_record.fallback and manager.last_record.model == "smol"
    assert manager.last_record.error is None


def test_a_hanging_server_costs_one_timeout_then_the_fallback(fake_ollama):
    fake_ollama.behaviour.hang_s = 2.0
    manager = ollama_manager(fake_ollama, FakeBackend("Fallback answer."), timeout_s=0.5)
    assert manager.reply("hello").endswith("Fallback answer.")
    assert manager.last_record.attempts == 1  # a timeout is not retried


def test_a_stream_broken_mid_reply_keeps_what_was_said(fake_ollama):
    fake_ollama.behaviour.break_after_pieces = 3
    manager = ollama_manager(fake_ollama, FakeBackend("never used"))
    reply = manager.reply("hello")
    assert reply == "You said: hello."
    assert "mid-stream" in manager.last_record.error and not manager.last_record.fallback
    assert manager.history[-1].content == reply and len(fake_ollama.chats()) == 1


def test_a_missing_model_is_named_with_ollama_pull(fake_ollama):
    fake_ollama.models[:] = [FakeModel("other:1b")]
    without = ollama_manager(fake_ollama, model="llama3.2")
    assert without.reply("hello") == (
        "The model llama3.2 is not installed in Ollama; to fix that, run: ollama pull llama3.2."
    )
    with_fallback = ollama_manager(fake_ollama, FakeBackend("Small answer."), model="llama3.2")
    reply = with_fallback.reply("hello")
    assert "ollama pull llama3.2" in reply and reply.endswith("will reply. Small answer.")


def test_unreachable_without_fallback_apologises_and_the_loop_goes_on(fake_ollama):
    manager = ollama_manager(fake_ollama)
    fake_ollama.behaviour.fail_status = 503
    assert manager.reply("hello") == APOLOGY
    assert "simulated failure" in manager.last_record.error and manager.last_record.attempts == 3
    assert manager.reply("still there?") == APOLOGY
    assert manager.last_record.attempts == 1  # no fallback: one probe per turn during the outage
    fake_ollama.behaviour.fail_status = None
    assert manager.reply("and now?") == "You said: and now?. That is all I know."


def test_the_embedded_model_takes_over_a_real_conversation(fake_ollama, embedded_backend):
    fake_ollama.behaviour.fail_status = 500
    manager = ollama_manager(fake_ollama, embedded_backend, max_tokens=40)
    first = manager.reply("Hi! What is your name?")
    second = manager.reply("Say one word about the sea.")
    assert first.startswith(FALLBACK_NOTICE) and len(first) > len(FALLBACK_NOTICE)
    assert second and not second.startswith(FALLBACK_NOTICE)
    record = manager.last_record
    assert record.backend == "embedded" and record.fallback and record.reply_tokens > 0
    assert len(fake_ollama.chats()) == 3  # one outage costs the retries once


def test_a_turn_cancelled_while_the_server_has_not_answered_stops_at_once(fake_ollama):
    """Nothing came back (not even headers): cancelling the turn from another thread ends its pieces without
    an apology, closes the connection (the server sees it), and neither retries nor falls back."""
    fake_ollama.behaviour.stall = threading.Event()
    fallback = FakeBackend("never used")
    manager = ollama_manager(fake_ollama, fallback, timeout_s=30)
    turn = manager.begin_turn("hello")
    spoken: list[str] = []
    pump = threading.Thread(target=lambda: spoken.extend(turn.pieces()))
    pump.start()
    try:
        assert fake_ollama.chat_arrived.wait(5)
        turn.cancel()
        pump.join(10)
        assert not pump.is_alive() and spoken == []
        assert fake_ollama.client_hung_up.wait(5)
    finally:
        fake_ollama.behaviour.stall.set()
    turn.finish("", interrupted=True)
    assert len(fake_ollama.chats()) == 1 and fallback.seen == [] and manager.history == []
    assert manager.last_record.interrupted and manager.last_record.error is None


def test_a_first_word_later_than_the_deadline_is_a_failure_the_fallback_answers(fake_ollama):
    fake_ollama.behaviour.stall = threading.Event()  # headers never come; the client timeout is 5 s
    manager = ollama_manager(fake_ollama, FakeBackend("Fallback answer."), first_token_timeout_s=0.3)
    assert manager.reply("hello").endswith("Fallback answer.")
    record = manager.last_record
    assert record.fallback and record.attempts == 1  # like a timeout: not retried
    assert fake_ollama.client_hung_up.wait(5)  # the request was abandoned, not waited for
    assert manager.backend.degraded  # what /healthz reports


def test_a_first_word_too_late_without_a_fallback_is_an_apology_and_an_error(fake_ollama):
    fake_ollama.behaviour.stall = threading.Event()
    manager = ollama_manager(fake_ollama, first_token_timeout_s=0.3)
    assert manager.reply("hello") == APOLOGY
    assert "no first word within 0.3s" in manager.last_record.error
