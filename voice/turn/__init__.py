"""End-of-turn detection: has the user finished speaking, or only paused?

`EndOfTurnModel` (Smart Turn v3.2 audio model), `unfinished_reason` (a word-list text signal) and
`TurnDecider` (the clock-free decision taken at each pause, with a maximum wait and the fixed-hang
fallback).
"""

from voice.turn.decider import TurnConfig, TurnDecider, TurnDecision
from voice.turn.model import BUNDLED, EndOfTurnModel, TurnModelError, bundled_model_path
from voice.turn.text import unfinished_reason

__all__ = [
    "BUNDLED",
    "EndOfTurnModel",
    "TurnConfig",
    "TurnDecider",
    "TurnDecision",
    "TurnModelError",
    "bundled_model_path",
    "unfinished_reason",
]
