"""LocalAgreement-2 for streaming transcripts: commit the words two consecutive passes agree on.

Re-transcribing a growing buffer changes its last words from pass to pass; words that two passes in a row
agree on rarely change again, so they are shown as committed and never taken back.
"""

from __future__ import annotations

import re


def _key(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


class PrefixAgreement:
    def __init__(self) -> None:
        self._committed: list[str] = []
        self._previous: list[str] = []

    @property
    def committed(self) -> str:
        return " ".join(self._committed)

    def update(self, hypothesis: str) -> tuple[str, str]:
        """Feed one pass; return (committed text, tentative rest of this pass)."""
        words = hypothesis.split()
        agreed = 0
        for a, b in zip(self._previous, words, strict=False):
            if _key(a) != _key(b):
                break
            agreed += 1
        n = len(self._committed)
        extends = all(_key(a) == _key(b) for a, b in zip(self._committed, words[:n], strict=False))
        if agreed > n and extends:
            self._committed = words[:agreed]
        self._previous = words
        return self.committed, " ".join(words[len(self._committed) :])
