"""Audio in and out, voice activity detection, endpointing, speech-to-text, text-to-speech and the turn loop.

This package never imports `dialogue`: the loop is handed a responder callable, so it stands alone.
"""

SAMPLE_RATE = 16_000
"""Rate of everything the listening side works with (mono, 16 kHz)."""
