"""The word-list text signals: which partial transcripts cannot be a finished turn, and what speech over a
reply was."""

import pytest

from voice.turn.text import BargeIn, barge_in_kind, starts_with_stop, unfinished_reading, unfinished_reason


@pytest.mark.parametrize(
    ("transcript", "reason"),
    [
        ("I would like to book a table for", "preposition 'for'"),
        ("What is the capital of", "preposition 'of'"),
        ("Can you tell me about the", "article 'the'"),
        ("I need eggs, milk and", "conjunction 'and'"),
        ("Where did I leave my", "possessive 'my'"),
        ("The best thing about Paris is", "copula 'is'"),
        ("Where is", "copula 'is'"),
        ("I think we should, um", "filler 'um'"),
        ("Remind me to call", "'to call' without its object"),
        ("I want to buy.", "'to buy' without its object"),
        ("Book a table for.", "preposition 'for'"),  # Whisper's full stop after a half does not count
        ("I need a taxi to the airport...", "trailing off"),
        ("I was thinking -", "trailing off"),
        ("", "no words"),
        ("...", "no words"),
    ],
)
def test_partials_that_cannot_end_a_turn(transcript, reason):
    assert unfinished_reason(transcript) == reason


@pytest.mark.parametrize(
    "transcript",
    [
        "I would like to book a table for four people.",
        "What is the capital of France?",
        "What is it for?",  # a question strands its preposition
        "Where are you from?",
        "What are you looking at?",
        "Do you know what time it is?",  # a copula after a subject pronoun closes the clause
        "Could you please tell me what color the sky is",  # an embedded question closed by its copula
        "Turn the lights on.",  # particles are not in the lists
        "I think so.",
        "I need a taxi to the airport at 6.",  # a number is a word
        "Who do I need to call?",  # a question's verb has its object in front
        "Give me a call.",  # "call" as a noun
        "Who should I call",
    ],
)
def test_finished_or_undecided_sentences_are_not_flagged(transcript):
    assert unfinished_reason(transcript) is None


def test_contracted_question_word_still_strands():
    assert unfinished_reason("What's this one for") is None
    assert unfinished_reason("What's the weather like in the middle of") == "preposition 'of'"


@pytest.mark.parametrize("text", ["Hey Hark.", "Hey, Hark,", "OK Jarvis", "hello"])
def test_calling_the_assistant_is_not_the_end_of_the_turn(text):
    assert unfinished_reason(text) == "an address, the request follows"


def test_an_address_followed_by_a_request_is_judged_by_the_request():
    assert unfinished_reason("Hey Hark, what time is it?") is None


# Whisper's readings of Piper's voice, cut where the loop's speculation cuts it: best, near readings.
@pytest.mark.parametrize(
    ("transcript", "alternatives", "reason"),
    [
        (
            "Where did I leave mine?",
            ("Where did I leave mine? Where did I leave mine?", "Where did I leave my?"),
            "possessive 'my' in the near reading 'Where did I leave my?'",
        ),
        (
            "Add eggs, milk in.",
            ("Add eggs, milk and...",),
            "trailing off in the near reading 'Add eggs, milk and...'",
        ),
        (
            "Remind me to come.",
            ("Remind me to call.",),
            "'to call' without its object in the near reading 'Remind me to call.'",
        ),
        ("What", ("What is",), "copula 'is' in the near reading 'What is'"),  # a dropped last word
        ("Set a timer for.", ("Set a timer for",), "preposition 'for'"),  # the best reading says it first
    ],
)
def test_a_near_reading_that_ends_unfinished_holds(transcript, alternatives, reason):
    assert unfinished_reason(transcript) is None or reason == unfinished_reason(transcript)
    assert unfinished_reading(transcript, alternatives) == reason


@pytest.mark.parametrize(
    ("transcript", "alternatives"),
    [
        ("Tell me something about the moon.", ("Tell me something about the moon...",)),  # punctuation only
        ("Is the Sun is Star?", ("Is the sun is star?", "Is the sun a star?")),  # not only the last word
        ("How many legs does a spider have?", ("How many legs does the spider have?",)),
        ("Where did I leave mine?", ("Where did I leave my? Where did I leave mine?",)),  # a looping reading
        (
            "Can you tell me the weather end?",
            ("Can you tell me the weather in?",),
        ),  # "in" is left to the model
    ],
)
def test_near_readings_of_a_finished_question_do_not_hold(transcript, alternatives):
    assert unfinished_reading(transcript, alternatives) is None


HEARD_OVER_A_REPLY = {
    BargeIn.NOISE: ["", "..."],
    BargeIn.BACKCHANNEL: ["Uh-huh.", "Okay, I see."],
    BargeIn.STOP: ["Stop.", "Wait, stop please.", "Okay, stop.", "No, hold on.", "Never mind.", "Forget it."],
    BargeIn.WORDS: ["Stop the timer.", "Wait, what time is it?", "Okay, what about Tuesday?"],
}


@pytest.mark.parametrize(
    ("heard", "kind"), [(heard, kind) for kind, examples in HEARD_OVER_A_REPLY.items() for heard in examples]
)
def test_what_was_said_over_a_reply(heard, kind):
    assert barge_in_kind(heard) is kind


PARTIALS = {
    True: ["Stop", "Okay, stop", "No, wait, I meant", "never mind"],
    False: ["Okay, so", "It stops at", "What is"],
}


@pytest.mark.parametrize(("partial", "stops"), [(p, stops) for stops, some in PARTIALS.items() for p in some])
def test_a_partial_transcript_that_opens_with_a_stop_request_stops_at_once(partial, stops):
    assert starts_with_stop(partial) is stops
