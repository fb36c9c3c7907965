"""Audio in and out, voice activity detection, endpointing, speech-to-text, text-to-speech and the turn loop.

This package never imports `dialogue`: the loop is handed a `Conversation` (`voice.reply`), so it stands
alone. Its seams are in `voice.ports` (engines, frame processors) and `voice.events` (what it reports).
"""

SAMPLE_RATE = 16_000
"""Rate of everything the listening side works with (mono, 16 kHz)."""
