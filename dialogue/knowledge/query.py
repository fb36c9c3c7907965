"""A question in natural language → an FTS5 query: its content words, each quoted, joined with OR.

SQLite's porter tokenizer stems the quoted words itself ("Sundays" matches "Sunday"); quoting keeps
FTS5 syntax (AND, NEAR, `-`, `:`) in a question from being read as operators.
"""

from __future__ import annotations

import re

STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just let me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves tell please know want like get got also may might must
    shall us ok okay hi hello hey don doesn didn isn aren wasn weren haven hasn hadn couldn wouldn shouldn
    """.split()
)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def terms(question: str) -> list[str]:
    """The question's content words, lower-cased, in order, without repeats; all its words when every
    one is a stop word (so "who are you" still searches)."""
    words = [w.split("'")[0] for w in _WORD.findall(question.lower())]
    content = [w for w in words if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())]
    return list(dict.fromkeys(content or words))


def match_expression(words: list[str]) -> str:
    return " OR ".join(f'"{w}"' for w in words)
