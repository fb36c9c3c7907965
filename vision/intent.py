"""Whether a spoken question is about something the user is showing (so a camera snapshot would help)."""

from __future__ import annotations

import re

_THIS = r"(?:this|that|these|those)"
_THIS_OR_IT = r"(?:this|that|these|those|it)"
_IS = r"(?:'s|s|'re| is| are)"
_KIND = r"(?:kind|type|sort|colou?r|brand|breed|model|species|make)"
_PATTERNS = [
    # The whole clause ("what is this", "what's that thing"), so "what is this week's weather" is not one.
    rf"^(?:\w+ ){{0,2}}(?:what|who){_IS} {_THIS_OR_IT}(?: (?:thing|one|object|stuff|here|right here))?$",
    rf"\b(?:what|who) {_THIS} (?:is|are)$",  # "tell me what this is"
    rf"\b(?:what|which) {_KIND}s?(?: of \w+)? (?:is|are) {_THIS}\b",  # "what kind of plant is this"
    r"\bwhat (?:am i|i'm|i am) (?:holding|wearing|showing|pointing at|looking at)\b",
    r"\bwhat(?:'s| is| do i have| have i got) (?:in|on) my (?:hand|hands|palm|plate|screen|desk|table)\b",
    rf"\blook(?:ing)? at (?:{_THIS_OR_IT}|me|my)\b",
    r"\b(?:take|have) a look\b",
    rf"\bread (?:{_THIS_OR_IT}|the (?:label|sign|text|page|screen|note|letter|menu|writing))\b",
    rf"\bwhat does {_THIS_OR_IT} say\b",
    r"\bwhat(?:'s| is) written\b",
    r"\b(?:what|who) (?:do|can) you see\b",
    rf"\b(?:can|do) you see (?:{_THIS_OR_IT}|me|anything)\b",
    r"\bin front of (?:you|me|the camera)\b",
    r"\b(?:on|to|at) the camera\b",
    rf"\b(?:describe|identify|recogni[sz]e) (?:{_THIS_OR_IT}|what)\b",
    rf"^(?:is|are) {_THIS} (?:safe|real|broken|ripe|ok|okay|edible|poisonous|fresh|clean|fake)\b",
]
_QUESTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS))
_CLAUSE_BREAK = re.compile(r"[.,;:!?]+|\s+-\s+")
_NOT_WORD = re.compile(r"[^a-z0-9' ]+")


def _clauses(text: str) -> list[str]:
    """Lower-case clauses with punctuation removed and curly apostrophes made straight."""
    text = text.lower().replace("\u2019", "'")
    clauses = (_NOT_WORD.sub(" ", part) for part in _CLAUSE_BREAK.split(text))
    return [" ".join(clause.split()) for clause in clauses if clause.strip()]


def refers_to_camera(text: str) -> bool:
    """True for "what is this?", "what am I holding", "read this", "what do you see", ...; False for
    questions that stand on their own ("what is the capital of France?")."""
    return any(_QUESTION.search(clause) for clause in _clauses(text))
