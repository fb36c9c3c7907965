"""Frame processors for the microphone path: echo cancellation and wake-word detection.

Each one implements the FrameProcessor protocol (`process(frame, at_s)` and `playback(audio, rate, at_s)`)
and is applied to 30 ms 16 kHz int16 frames before VAD, in chain order: echo cancel → wake word.
"""
