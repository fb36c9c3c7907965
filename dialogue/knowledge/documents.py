"""Reading documents into sections: text under a heading path, whatever the format.

A section keeps the path of headings above it ("Visitor guide > Opening hours") so a passage can be
cited and ranked by its headings. Markdown, plain text, HTML and PDF are understood; anything else is an
error rather than a guess.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePath

from dialogue.knowledge.errors import KnowledgeError

MARKDOWN = (".md", ".markdown")
TEXT = (".txt", ".text", ".rst")
HTML = (".html", ".htm")
PDF = (".pdf",)
SUFFIXES = MARKDOWN + TEXT + HTML + PDF


@dataclass(frozen=True)
class Section:
    headings: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Document:
    title: str
    sections: list[Section]


def kind_of(name: str, content_type: str = "") -> str:
    """ "markdown", "text", "html" or "pdf" from a file name or an HTTP content type."""
    content_type = content_type.split(";")[0].strip().lower()
    by_type = {
        "text/markdown": "markdown",
        "text/plain": "text",
        "text/html": "html",
        "application/xhtml+xml": "html",
        "application/pdf": "pdf",
    }
    if content_type in by_type:
        return by_type[content_type]
    suffix = PurePath(name).suffix.lower()
    for kind, suffixes in (("markdown", MARKDOWN), ("text", TEXT), ("html", HTML), ("pdf", PDF)):
        if suffix in suffixes:
            return kind
    raise KnowledgeError(
        f"{name}: unsupported document type (use Markdown, plain text, HTML or PDF: {', '.join(SUFFIXES)})"
    )


def parse(data: bytes, kind: str, name: str) -> Document:
    """Sections of a document given its bytes; `name` (a file or URL) gives the fallback title."""
    fallback = PurePath(name.rstrip("/")).stem or name
    if kind == "pdf":
        return _pdf(data, name, fallback)
    text = _decode(data, name)
    if kind == "markdown":
        return _markdown(text, fallback)
    if kind == "html":
        return _html(text, fallback)
    return Document(fallback, [Section((), text)] if text.strip() else [])


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        if b"\x00" in data[:4096]:
            raise KnowledgeError(f"{name}: binary content, not text") from None
        return data.decode("latin-1")


_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)")


def _markdown(text: str, fallback: str) -> Document:
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    in_fence = False

    def flush() -> None:
        body = _clean_markdown("\n".join(lines))
        if body.strip():
            sections.append(Section(tuple(h for _, h in path), body))
        lines.clear()

    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _ATX.match(line)
        if heading is None:
            lines.append(line)
            continue
        flush()
        level, title = len(heading.group(1)), _clean_markdown(heading.group(2))
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, title))
    flush()
    h1 = next((s.headings[0] for s in sections if s.headings), None)
    first = _ATX.match(next((ln for ln in text.splitlines() if ln.strip()), ""))
    title = first.group(2) if first and len(first.group(1)) == 1 else None
    return Document(_clean_markdown(title) if title else (h1 or fallback), sections)


def _clean_markdown(text: str) -> str:
    return _EMPHASIS.sub("", _LINK.sub(r"\1", text))


_BLOCKS = {"p", "div", "li", "tr", "br", "section", "article", "table", "ul", "ol", "blockquote", "pre"}
_SKIPPED = {"script", "style", "noscript", "template", "svg", "head"}


class _HtmlSections(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.sections: list[Section] = []
        self._path: list[tuple[int, str]] = []
        self._text: list[str] = []
        self._heading: tuple[int, list[str]] | None = None
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _SKIPPED:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._heading = (int(tag[1]), [])
        elif tag in _BLOCKS:
            self._text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif self._heading and tag == f"h{self._heading[0]}":
            level, words = self._heading
            self._heading = None
            while self._path and self._path[-1][0] >= level:
                self._path.pop()
            self._path.append((level, " ".join("".join(words).split())))
        elif tag in _BLOCKS:
            self._text.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif self._skip:
            return
        elif self._heading:
            self._heading[1].append(data)
        else:
            self._text.append(data)

    def _flush(self) -> None:
        paragraphs = [" ".join(p.split()) for p in "".join(self._text).split("\n")]
        body = "\n\n".join(p for p in paragraphs if p)
        if body:
            self.sections.append(Section(tuple(h for _, h in self._path), body))
        self._text.clear()

    def close(self) -> None:
        super().close()
        self._flush()


def _html(text: str, fallback: str) -> Document:
    parser = _HtmlSections()
    parser.feed(text)
    parser.close()
    title = " ".join(parser.title.split())
    h1 = next((s.headings[0] for s in parser.sections if s.headings), None)
    return Document(title or h1 or fallback, parser.sections)


def _pdf(data: bytes, name: str, fallback: str) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise KnowledgeError(f"{name}: the PDF is encrypted (decrypt it first)")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta = reader.metadata
        title = (meta.title if meta else None) or fallback
    except KnowledgeError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KnowledgeError(f"{name}: not a readable PDF ({exc})") from exc
    sections = [Section((f"page {i}",), text) for i, text in enumerate(pages, 1) if text.strip()]
    return Document(str(title).strip() or fallback, sections)
