"""Prompt-injection detection on what the user says: normalise, decode, then match named patterns.

An attacker hides the request from plain patterns: `1gn0re`, Cyrillic look-alikes, `i g n o r e`, base64,
rot13, hex, another language. So the text is first normalised (Unicode compatibility forms, accents and
zero-width characters removed, look-alike letters mapped, leetspeak digits read as letters inside words,
spaced-out letters joined), and encoded payloads are decoded; every resulting variant is checked against the
patterns. The patterns are in English, French, Spanish and German, on accent-free lower-case text.

Every pattern is linear-time: no quantified group contains another unbounded quantifier, and gaps between
key words are bounded (`[^.?!]{0,40}`), so the cost is proportional to the text length whatever it holds
(`tests/test_guardrails_linear.py` checks both).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from collections.abc import Iterator

_GAP = r"[^.?!\n]{0,40}?"
"""Up to 40 characters inside one sentence between two key words."""

_YOUR = (
    r"(?:your|thy|the\s+(?:system|hidden|secret|initial|original|developer)|tes|vos|ton|votre|tus|sus|tu|su|"
    r"deine|ihre|dein|ihr|deinen|ihren)"
)
_SECRET = (
    r"(?:instructions?|prompts?|system\s*(?:prompt|message)|directives?|guidelines?|programming|rules|"
    r"configuration|pre-?prompt|consignes?|regles|invite|instrucciones|reglas|indicaciones|directrices|"
    r"anweisungen|regeln|vorgaben|richtlinien|instruktionen|systemprompt|systemanweisung(?:en)?)"
)
_LIBERATED = (
    r"(?:no|without|free\s+(?:of|from)|ignore|bypass|sans|aucune?|sin|ningun[ao]?|ohne|keine)\s+"
    r"(?:any\s+|all\s+|your\s+|aucune\s+|ninguna\s+|jegliche\s+)?(?:\w{1,15}\s+)?(?:restrictions?|limitations?|limits?|limites?|filters?|filtres?|filtros?|censorship|censure|censura|"
    r"guidelines?|rules|regles|reglas|regeln|guardrails|morals?|ethics|boundaries|einschrankungen|grenzen|"
    r"zensur|restricciones|limites|moral)"
)

INJECTION_PATTERNS: dict[str, str] = {
    "ignore_instructions": (
        r"\b(?:ignore|disregard|forget|override|bypass|discard|neglect|"
        r"ignorez?|ignorer|oublie[rsz]?|ignora[rd]?|olvida[rd]?|olvide|descarta|ignorier\w{0,3}|vergiss|"
        r"vergessen|missachte\w{0,2})\b"
        + _GAP
        + r"(?<!\bmy\s)(?<!\bour\s)(?<!\bmes\s)(?<!\bmis\s)(?<!\bmeine\s)\b(?:"
        + _YOUR
        + r"|all|any|every|previous|prior|above|earlier|preceding|initial|original|existing|current|those|"
        r"these|toutes|tous|les|las|los|todas|alle|die|deine)\s+(?:\w{1,20}\s+)?" + _SECRET + r"\b"
        r"|\b(?:ignore|disregard|forget)\s+(?:everything|all|anything|whatever)\s+(?:you\s+(?:were|have\s+been|"
        r"got)\s+(?:told|given|instructed)|(?:that\s+)?(?:was\s+)?(?:said\s+)?(?:above|before|earlier|so\s+far))\b"
    ),
    "reveal_instructions": (
        r"\b(?:reveal|show|print|repeat|recite|display|output|tell|what|give|share|leak|read|write|spell|"
        r"list|translate|summari[sz]e|paraphrase|encode|copy|dump|type|say|explain|describe|state|quote|"
        r"which|montre\w{0,2}|affiche\w{0,2}|repete\w{0,2}|revele\w{0,2}|dis|donne\w{0,2}|ecri[st]\w{0,2}|"
        r"tradui[st]\w{0,2}|quel(?:le)?s?|muestra\w{0,3}|dime|repite\w{0,3}|revela\w{0,3}|cual(?:es)?|"
        r"escribe\w{0,3}|traduce\w{0,3}|da\w{0,3}|zeig\w{0,2}|nenne\w{0,1}|wiederhole\w{0,1}|verrat\w{0,2}|"
        r"gib|was|wie|schreib\w{0,2}|ubersetze\w{0,1}|sag\w{0,2})\b"
        + _GAP
        + r"\b(?:"
        + _YOUR
        + r"\s+(?:\w{1,20}\s+)?"
        + _SECRET
        + r"|(?<!\ba\s)(?<!\bmy\s)(?<!\bown\s)(?<!\bour\s)system\s*(?:prompt|message)"
        r"|prompt\s+(?:systeme|del\s+sistema)|message\s+systeme|"
        r"mensaje\s+del\s+sistema|hidden\s+(?:text|message|instructions|prompt|rules))\b"
    ),
    "reveal_context": (
        r"\b(?:everything|all|whatever|what|anything|the\s+(?:text|words|message|lines?|content))\s+"
        r"(?:that\s+)?(?:came|comes|was\s+(?:written|said|given|typed|put)|is\s+written|appears|you\s+"
        r"(?:saw|see|read|got|were\s+given))\s+(?:above|before|earlier|previously|prior)"
        r"(?:\s+(?:this|that|my|our|the\s+(?:conversation|chat|first\s+message|user))\b|\s*(?:[.?!,:]|$))"
        r"|\b(?:above|before)\s+this\s+(?:line|message|conversation|chat|point)\b"
        r"|\bwhat\s+(?:were|have|had)\s+you\s+(?:been\s+)?(?:told|instructed|programmed|ordered)\b"
        r"|\b(?:beginning|start|top)\s+of\s+(?:this|the|our|your)\s+(?:conversation|chat|context|prompt)\b"
        r"|\byour\s+(?:very\s+)?(?:first|initial|opening|original)\s+(?:message|line|words|prompt|input)\b"
        r"|\b(?:rules?|instructions|guidelines|directives|prompt)\s+(?:were\s+you|have\s+you\s+been|did\s+you\s+"
        r"(?:get|receive)|(?:that\s+)?you\s+(?:were\s+given|have\s+been\s+given|received|follow|obey|live\s+by|"
        r"operate\s+under|must\s+follow))\b"
        r"|\b(?:message|text|prompt|instructions)\s+that\s+(?:defines?|controls?|shapes?|governs?|configures?|"
        r"programs?)\s+(?:how\s+)?you\b"
        r"|\b(?:first|opening|initial)\s+(?:sentence|line|words|message)\s+you\s+(?:were\s+given|received|got|"
        r"saw|read)\b"
        r"|\b(?:text|words|lines?|messages?|content|everything|instructions)\s+(?:above|preceding)\b"
        r"|\bwas\s+wurde\s+dir\b[^.?!\n]{0,40}?\bgesagt\b"
        r"|\b(?:qu'est-ce\s+qu'on\s+t'a\s+dit|ce\s+qu'on\s+t'a\s+dit|que\s+te\s+dijeron|tout\s+ce\s+qui\s+(?:precede|est\s+au-dessus)|todo\s+lo\s+anterior|alles\s+"
        r"(?:oben|davor|vorherige))\b"
    ),
    "role_override": (
        r"\b(?:pretend|roleplay|role-play|simulate|act\s+(?:as|like)|imagine\s+(?:that\s+)?you|behave\s+"
        r"(?:as|like)|respond\s+as|answer\s+as|play\s+the\s+role|you\s+are\s+now|you're\s+now|"
        r"from\s+now\s+on|fais\s+semblant|agis\s+comme|imagine\s+que\s+tu|finge|actua\s+como|ahora\s+eres|"
        r"a\s+partir\s+de\s+ahora|desormais|tu\s+es\s+maintenant|tu\s+so|stell\s+dir\s+vor|"
        r"du\s+bist\s+jetzt|ab\s+jetzt|von\s+nun\s+an)\b"
        + _GAP
        + r"(?:\b(?:unrestricted|unfiltered|uncensored|jailbroken|evil|rogue|amoral|unlimited|unaligned|"
        r"sans\s+limites|sin\s+limites|uneingeschrankt\w{0,2}|dan)\b|" + _LIBERATED + r"\b)"
        r"|\byou(?:'re|\s+are|\s+have|\s+had|\s+were|\s+now\s+have|\s+will\s+(?:be|have)|\s+would\s+"
        r"(?:be|have))\b[^.?!\n]{0,25}?\b" + _LIBERATED + r"\b"
        r"|\b(?:enable|activate|enter|switch\s+to|turn\s+on|in|into)\s+(?:the\s+)?developer\s+mode\b"
        r"(?!\s+(?:on|in|for|of)\b)"
        r"|\b(?:dan|jailbreak|unfiltered|evil|opposite|unrestricted)\s+mode\b"
        r"|\bjailbr(?:eak|oken)\b|\bdo\s+anything\s+now\b|\b(?:stay|remain)\s+in\s+character\b"
        r"|\bnever\s+(?:break\s+character|refuse)\b"
        r"|\b(?:you\s+are|you're|as|be|call\s+yourself|tu\s+es|eres|du\s+bist)\s+(?:now\s+|maintenant\s+|"
        r"ahora\s+|jetzt\s+)?(?:(?:called|named)\s+)?dan\b"
    ),
}
"""Built-in prompt-injection patterns (on normalised text) by name; the name is the rule."""

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_LOOK_ALIKES = str.maketrans(
    "аеорсухіјѕԁɡκνοτυαεικ",  # Cyrillic and Greek letters that look Latin
    "aeopcyxijsdgkvotuaeik",
)
_LEET = str.maketrans("013457@$", "oieastas")
_LEET_WORD = re.compile(r"(?<![\w@$])(?=[a-z0-9@$]*[a-z])(?=[a-z0-9@$]*[0-9@$])[a-z0-9@$]+")
"""A word mixing letters with digits or symbols (`1gn0r3`, `pr0mpt`): read as leetspeak. Words of digits only
(`3 cats`) are left alone."""
_SPACED = re.compile(r"\b[a-z](?:[ .\-_*][a-z]\b){3,}")
"""Letters spaced out to dodge word patterns: `i g n o r e`, `s.y.s.t.e.m`."""
_SPACES = re.compile(r"\s+")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re.compile(r"\b(?:[0-9a-fA-F][0-9a-fA-F][ :]?){8,}")
MAX_DECODED = 4
"""At most this many encoded payloads per text are decoded (a flood of them costs nothing)."""


def normalise(text: str) -> str:
    """Lower-case, accent-free, look-alikes and leetspeak mapped, spaced letters joined, spaces collapsed."""
    text = unicodedata.normalize("NFKD", text.translate(_ZERO_WIDTH))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.translate(_LOOK_ALIKES).replace("ß", "ss")
    text = _LEET_WORD.sub(lambda m: m.group().translate(_LEET), text)
    text = _SPACED.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group()), text)
    return _SPACES.sub(" ", text)


def _printable(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    letters = sum(ch.isalpha() or ch.isspace() for ch in text)
    return text if text and letters >= 0.8 * len(text) else None


def _decoded(text: str) -> Iterator[str]:
    """Payloads hidden in base64 or hex that decode to readable text."""
    found = 0
    for match in _BASE64.finditer(text):
        token = match.group()
        try:
            altchars = b"-_" if "-" in token or "_" in token else None
            data = base64.b64decode(token.rstrip("=") + "=" * (-len(token.rstrip("=")) % 4), altchars)
        except (binascii.Error, ValueError):
            continue
        if (decoded := _printable(data)) is not None:
            found += 1
            yield decoded
            if found >= MAX_DECODED:
                return
    for match in _HEX.finditer(text):
        try:
            data = bytes.fromhex(re.sub(r"[ :]", "", match.group()))
        except ValueError:
            continue
        if (decoded := _printable(data)) is not None:
            yield decoded
            return


def variants(text: str) -> Iterator[str]:
    """The normalised text, its rot13 and reversal, and every decoded payload (normalised)."""
    plain = normalise(text)
    yield plain
    yield codecs.encode(plain, "rot13")
    yield plain[::-1]
    for payload in _decoded(text):
        yield normalise(payload)
