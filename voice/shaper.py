"""Shaping an LLM token stream into speakable chunks.

The LLM writes for a screen; the listener hears it. This strips Markdown, expands what TTS reads badly,
and cuts the stream at sentence ends (not after digits, initials or abbreviations such as "Dr." and
"e.g."), cutting an over-long first sentence at a clause or a conjunction so the first audio comes early.
"""

from __future__ import annotations

import re

ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e approx no fig inc ltd co corp mt ft dept est vol"
    " a.m p.m u.s u.k".split()
)

_CODE_BLOCK = re.compile(r"```.*?(```|$)", re.S)
_INLINE_CODE = re.compile(r"`([^`]*)`")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*", re.M)
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+", re.M)
_QUOTE = re.compile(r"^\s*>\s?", re.M)
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}.*$", re.M)
_STRAY = re.compile(r"[*#|<>^~`]")
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\ufe0f]")
_SPACES = re.compile(r"[ \t]+")
_CLAUSE_END = re.compile(r"[,;:]\s|\s[-–—]\s")
_PHRASE_START = re.compile(
    r"\s(?=(?:and|but|or|so|because|which|that|who|whose|where|when|while|although|though|since|unless"
    r"|until|if|whether)\s)",
    re.I,
)
"""Where a first sentence without a comma may be cut: before a conjunction or a relative pronoun, where a
speaker pauses anyway ("The blue whale is the largest animal | that has ever lived"). Piper takes 0.3-0.5 s
for a 70-90 character sentence and 0.1 s for 30-40 characters (2 cores), and the model must first write it."""

_EXPANSIONS = (
    (re.compile(r"(\d)\s*%"), r"\1 percent"),
    (re.compile(r"&"), " and "),
    (re.compile(r"(\d)\s*°\s*C\b"), r"\1 degrees Celsius"),
    (re.compile(r"(\d)\s*°\s*F\b"), r"\1 degrees Fahrenheit"),
    (re.compile(r"(\d)\s*°"), r"\1 degrees"),
    (re.compile(r"\be\.g\.", re.I), "for example"),
    (re.compile(r"\bi\.e\.", re.I), "that is"),
    (re.compile(r"\betc\.", re.I), "et cetera"),
    (re.compile(r"\bvs\.?(?=\s)", re.I), "versus"),
    (re.compile(r"(?<=\w)/(?=\w)"), " or "),
    (re.compile(r"\s[-–—]{1,2}\s"), ", "),
)


def strip_markdown(text: str) -> str:
    """Remove Markdown markup, keeping the words a listener should hear."""
    text = _CODE_BLOCK.sub(" ", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("a link", text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = _HEADING.sub("", text)
    text = _TABLE_RULE.sub("", text)
    text = _BULLET.sub("", text)
    text = _QUOTE.sub("", text)
    for _ in range(2):
        text = _EMPHASIS.sub(r"\2", text)
    text = _EMOJI.sub("", text)
    return _STRAY.sub(" ", text)


def speakable(text: str) -> str:
    """Markdown stripped, awkward symbols expanded, whitespace tidied."""
    text = strip_markdown(text)
    for pattern, repl in _EXPANSIONS:
        text = pattern.sub(repl, text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def _is_sentence_end(text: str, i: int) -> bool:
    """Whether the punctuation at `text[i]` ends a sentence, given what follows is whitespace."""
    ch = text[i]
    if ch in "!?":
        return True
    before = text[:i]
    word = re.search(r"([A-Za-z.]+)$", before)
    if word:
        token = word.group(1).lower().rstrip(".")
        if token in ABBREVIATIONS:
            return False
        if len(token) == 1 and token.isalpha():  # an initial: "J. R. R. Tolkien"
            return False
    # A number alone at the start of a line is a list marker ("1. Paris"), not the end of a sentence.
    return not re.search(r"(?:^|\n)\s*\d+$", before)


class SentenceChunker:
    """Incremental splitter: feed text pieces as they stream in, get speakable chunks out.

    A chunk ends at a sentence end followed by whitespace. The first chunk of a reply is also cut at a
    clause boundary (comma, semicolon, colon, dash) once it is longer than `first_clause_chars`, or half as
    long again without one, before a conjunction: the first audio is not held back by a long opening
    sentence.
    """

    def __init__(self, first_clause_chars: int = 40, max_chars: int = 240) -> None:
        self.first_clause_chars = first_clause_chars
        self.max_chars = max_chars
        self._buffer = ""
        self._emitted = 0

    def feed(self, piece: str) -> list[str]:
        self._buffer += piece
        out: list[str] = []
        while (chunk := self._take()) is not None:
            if spoken := speakable(chunk):
                out.append(spoken)
                self._emitted += 1
        return out

    def flush(self) -> list[str]:
        rest, self._buffer = self._buffer, ""
        spoken = speakable(rest)
        return [spoken] if spoken else []

    def _take(self) -> str | None:
        buf = self._buffer
        fence = buf.find("```")
        if fence >= 0 and not buf[:fence].strip():
            # A code block is never spoken; cut it out whole once it is closed.
            close = buf.find("```", fence + 3)
            return None if close < 0 else self._cut(close + 3)
        limit = fence if fence >= 0 else len(buf)
        for i in range(limit):
            if buf[i] == "\n":
                return self._cut(i + 1)
            if i + 1 < len(buf) and buf[i] in ".!?" and buf[i + 1].isspace() and _is_sentence_end(buf, i):
                return self._cut(i + 1)
        if fence > 0:
            return self._cut(fence)
        if self._emitted == 0 and len(buf) > self.first_clause_chars:
            start = self.first_clause_chars // 2
            clauses = list(_CLAUSE_END.finditer(buf, start))
            if not clauses and len(buf) > self.first_clause_chars * 3 // 2:  # a comma had its chance
                clauses = list(_PHRASE_START.finditer(buf, start))
            if clauses:
                return self._cut(clauses[-1].end())
        if len(buf) > self.max_chars:
            cut = buf.rfind(" ", 0, self.max_chars)
            return self._cut(cut if cut > 0 else self.max_chars)
        return None

    def _cut(self, at: int) -> str:
        chunk, self._buffer = self._buffer[:at], self._buffer[at:]
        return chunk
