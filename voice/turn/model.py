"""Smart Turn v3.2: an audio model that says whether a speaker has finished their turn.

The 8.7 MB ONNX file (BSD-2, by Daily) ships inside the `pipecat-ai` wheel, which Hark installs with
`--no-deps`: Pipecat's runtime (and its heavy requirements) is never imported. The file is found through
the import system's metadata only (`importlib.util.find_spec`), and run with onnxruntime on features from
`voice.turn.features`.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from voice.turn.features import N_FRAMES, N_MELS, log_mel

BUNDLED = "bundled"
"""Model spec for the Smart Turn v3.2 file inside the installed `pipecat-ai` wheel."""
BUNDLED_RELATIVE = Path("audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx")
"""Where the file sits under the `pipecat` package directory."""
INPUT_NAME = "input_features"


class TurnModelError(ValueError):
    """The end-of-turn model file is missing, unreadable, or not a Smart Turn model."""


def bundled_model_path() -> Path:
    """The Smart Turn v3.2 file inside the installed `pipecat-ai` wheel, without importing `pipecat`
    (`find_spec` on a top-level name reads the package's location and runs none of its code)."""
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        raise TurnModelError(
            "the Smart Turn model is missing: pip install --no-deps 'pipecat-ai>=1.14,<2' (or make install)"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / BUNDLED_RELATIVE
        if path.is_file():
            return path
    raise TurnModelError(f"the installed pipecat-ai has no {BUNDLED_RELATIVE.name}: install pipecat-ai 1.14")


def resolve_model(spec: str) -> Path:
    """`bundled` or a path to a Smart Turn v3 ONNX file."""
    if spec == BUNDLED:
        return bundled_model_path()
    path = Path(os.path.expanduser(spec))
    if not path.is_file():
        raise TurnModelError(f"turn model not found: {spec}")
    return path


class EndOfTurnModel:
    """Probability that the speech so far is a finished turn, from its sound alone (intonation, pace,
    trailing-off), for the last 8 s of 16 kHz audio ending at the pause being judged.

    One call costs one ONNX run over an (80, 800) feature map; it is meant to be called a few times per
    pause, not per frame.
    """

    def __init__(self, spec: str = BUNDLED, threads: int = 1) -> None:
        import onnxruntime as ort

        self.path = resolve_model(spec)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            self._session = ort.InferenceSession(
                str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime reports a bad file as one of several internal error types
            raise TurnModelError(f"{self.path} is not a readable ONNX model ({type(exc).__name__})") from exc
        inputs = self._session.get_inputs()
        if (
            len(inputs) != 1
            or inputs[0].name != INPUT_NAME
            or list(inputs[0].shape[1:]) != [N_MELS, N_FRAMES]
        ):
            found = ", ".join(f"{i.name}{i.shape}" for i in inputs)
            raise TurnModelError(
                f"{self.path} is not a Smart Turn v3 model (expects {INPUT_NAME} of (batch, {N_MELS}, "
                f"{N_FRAMES}), has {found})"
            )

    def predict(self, audio: np.ndarray) -> float:
        """Probability in [0, 1] that the turn is complete; `audio` is 16 kHz mono float in [-1, 1]
        ending now (trailing silence included), ideally from a little before the utterance started."""
        features = log_mel(audio)[None, :, :]
        (output,) = self._session.run(None, {INPUT_NAME: features})
        return float(np.asarray(output).reshape(-1)[0])
