"""Hark's composition root: the CLI, configuration and the wiring of `voice`, `vision` and `dialogue`."""

import os

__version__ = "0.1.0"

# Before any model library loads: idle OpenMP workers (llama.cpp, CTranslate2 each bring a libgomp) may spin
# only briefly. Spinning long, they starve the other models on two cores (seen in the kiosk: STT 0.5 s ->
# 18 s per turn); not spinning at all (OMP_WAIT_POLICY=PASSIVE) makes llama.cpp 3-4x slower per token
# (12 -> 49 ms on SmolLM2). 10,000 spins keeps llama.cpp at full speed.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

# Numpy's BLAS (OpenBLAS) on one thread: Hark's matrices are small, and a second OpenBLAS worker spins
# against the models' own thread pools on two cores. Measured: hybrid retrieval at 10,000 passages under
# load, p95 1035 ms with two BLAS threads, 71 ms with one; the end-of-turn features (a mel filterbank
# product at each pause, while the embedded model reads the question) made its first token 0.31 s ->
# 1.13 s median (3.1 s p90) with two, 0.42 s with one.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
