"""Hark's composition root: the CLI, configuration and the wiring of `voice`, `vision` and `dialogue`."""

import os

__version__ = "0.1.0"

# Before any model library loads: idle OpenMP threads (llama.cpp, CTranslate2) must sleep, not spin. On two
# cores spinning workers starve Whisper and Piper: measured in the kiosk, STT 0.5 s -> 18 s per turn; in
# `hark bench latency`, 1.42 s -> 1.11 s median end of speech to first audio against forced spinning.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
