"""The double-talk check: the echo path's gain is learnt while Hark speaks alone, and a window of microphone
power is told to be the echo alone or someone talking over it (pure logic on frame powers)."""

from __future__ import annotations

from voice.processors.echo import DOUBLE_TALK_S, ECHO_GAIN_FRAMES, ERLE_REFERENCE_RMS, EchoLevel
from voice.vad import FRAME_S

PLAYED = (10 * ERLE_REFERENCE_RMS) ** 2
WINDOW = round(DOUBLE_TALK_S / FRAME_S)


def hearing(level: EchoLevel, frames: int, mic_over_played: float, played: float = PLAYED) -> EchoLevel:
    for _ in range(frames):
        level.hear(mic_over_played * played, played)
    return level


def test_the_echo_alone_is_told_once_the_gain_is_learnt():
    level = hearing(EchoLevel(), ECHO_GAIN_FRAMES - 1, 0.1)
    assert level.gain is None and not level.only_echo() and not level.double_talk()
    hearing(level, 1, 0.1)
    assert abs(level.gain - 0.1) < 1e-9 and level.only_echo() and not level.double_talk()


def test_someone_louder_than_the_echo_is_double_talk_and_does_not_teach_the_gain():
    level = hearing(EchoLevel(), 60, 0.1)
    hearing(level, WINDOW, 0.5)  # a person 6 dB louder than the echo, on top of it
    assert level.double_talk() and not level.only_echo()
    assert abs(level.gain - 0.1) < 1e-9
    hearing(level, WINDOW, 0.1)
    assert level.only_echo()


def test_a_little_more_than_the_echo_is_still_the_echo():
    level = hearing(EchoLevel(), 60, 0.1)
    hearing(level, WINDOW, 0.15)  # +1.8 dB: within what the echo path itself varies
    assert level.only_echo() and not level.double_talk()


def test_with_the_speaker_mostly_silent_neither_is_told():
    """A late echo, after the reply, would look like a person: the tail rules decide there."""
    level = hearing(EchoLevel(), 60, 0.1)
    hearing(level, WINDOW, 0.0, played=0.0)
    level.hear(10 * PLAYED, 0.0)
    assert not level.only_echo() and not level.double_talk()


def test_an_echo_path_turned_up_for_good_is_learnt_again():
    """Louder than the echo for longer than anyone talks over a reply unpaused: the volume went up."""
    level = hearing(EchoLevel(), 60, 0.1)
    hearing(level, WINDOW, 1.0)
    assert level.double_talk()  # at first it is taken for a person
    hearing(level, 600, 1.0)
    assert level.gain > 0.5 and level.only_echo()
