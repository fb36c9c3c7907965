"""Which spoken questions are about what the user is showing to the camera."""

from __future__ import annotations

import pytest

from vision.intent import refers_to_camera

ABOUT_THE_CAMERA = [
    "What is this?",
    "what's this",
    "Whats that thing?",
    "Hey Hark, what is this?",
    "ok so what are these",
    "Who is that?",
    "Can you tell me what this is?",
    "What am I holding?",
    "what i'm holding right now, what is it",
    "What's in my hand?",
    "Look at this!",
    "Take a look and tell me.",
    "Read this for me, please.",
    "Can you read the label?",
    "What does it say?",
    "What do you see?",
    "WHAT CAN YOU SEE",
    "Can you see me?",
    "What's in front of the camera?",
    "What kind of plant is this?",
    "Which brand are these?",
    "What colour is this?",
    "Is this safe to eat?",
    "Describe what you see.",
    "What\u2019s this?",  # a curly apostrophe, as speech-to-text may write it
]

STANDALONE = [
    "What is the capital of France?",
    "What time is it?",
    "What is this week's weather?",
    "What kind of day is it?",
    "Tell me a joke.",
    "What's the weather like today?",
    "How do I read a book faster?",
    "Look at the time!",
    "I have a pain in my hand.",
    "Is it going to rain tomorrow?",
    "What's that song about love by the Beatles?",
    "Can you see a doctor without an appointment?",
    "What is it like to live in Paris?",
    "",
]


@pytest.mark.parametrize("question", ABOUT_THE_CAMERA)
def test_questions_about_what_is_shown(question):
    assert refers_to_camera(question)


@pytest.mark.parametrize("question", STANDALONE)
def test_questions_that_stand_on_their_own(question):
    assert not refers_to_camera(question)
