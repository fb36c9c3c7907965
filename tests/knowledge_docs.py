"""Real documents of each format for the knowledge tests, written on the spot (PDFs with pypdf)."""

from __future__ import annotations

from pathlib import Path

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

GUIDE_MD = """# Visitor guide

Welcome to the Harbour Museum.

## Opening hours

The museum opens at 10:00 on Sunday and at 9:00 on other days. It closes at 18:00.

## Tickets

### Children

Children under twelve enter free of charge.
"""

FAQ_TXT = """Frequently asked questions

Can I bring my dog? Assistance dogs only; other pets wait outside.

Is there a cloakroom? Yes, lockers for bags are next to the shop.
"""

HISTORY_HTML = """<!doctype html><html><head><title>Museum history</title>
<style>h1 { color: red }</style><script>var lighthouse = 1;</script></head>
<body><nav>Home | Shop</nav>
<h1>History of the museum</h1><p>The building was a customs house.</p>
<h2>The lighthouse lens</h2><p>A Fresnel lens from 1874 is shown on the first floor.</p>
</body></html>
"""


def make_pdf(path: Path, pages: list[str], password: str | None = None) -> Path:
    """A PDF with one line of Helvetica text per page; encrypted for reading when `password` is set."""
    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    for text in pages:
        page = writer.add_blank_page(612, 792)
        stream = DecodedStreamObject()
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream.set_data(f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
    if password:
        writer.encrypt(user_password=password, owner_password=password + "-owner")
    with path.open("wb") as f:
        writer.write(f)
    return path


def write_corpus(folder: Path) -> Path:
    """The four formats in one folder (and a sub-folder), plus a file of a type that is passed over."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "guide.md").write_text(GUIDE_MD)
    (folder / "faq.txt").write_text(FAQ_TXT)
    (folder / "more").mkdir(exist_ok=True)
    (folder / "more" / "history.html").write_text(HISTORY_HTML)
    make_pdf(
        folder / "more" / "shop.pdf",
        ["The museum shop sells postcards and model ships.", "Gift vouchers are sold at the till."],
    )
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff not really a photo")
    return folder
