"""Knowledge bases on real files of each format and the real SQLite index (BM25; dense in
test_knowledge_minilm.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from knowledge_docs import GUIDE_MD, make_pdf, write_corpus

from dialogue.knowledge import KnowledgeBase, KnowledgeError, KnowledgeIndex, ingest
from dialogue.knowledge.chunking import MAX_WORDS, chunk_sections
from dialogue.knowledge.documents import Section, parse
from dialogue.knowledge.query import match_expression, terms
from hark.benchmark.knowledge_corpus import generate, write
from hark.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def index(tmp_path):
    idx = KnowledgeIndex(tmp_path / "kb.sqlite3")
    yield idx
    idx.close()


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "docs")


def add(index, sources, base="default"):
    return ingest.add(index, [str(s) for s in sources], base, embedder="none")


# -- reading documents ---------------------------------------------------------------------------


def test_markdown_sections_keep_their_heading_path():
    doc = parse(GUIDE_MD.encode(), "markdown", "/x/guide.md")
    assert doc.title == "Visitor guide"
    by_path = {s.headings: s.text.strip() for s in doc.sections}
    assert by_path[("Visitor guide", "Tickets", "Children")] == "Children under twelve enter free of charge."
    assert "10:00 on Sunday" in by_path[("Visitor guide", "Opening hours")]


def test_html_keeps_headings_and_title_and_drops_scripts_and_styles(corpus):
    doc = parse((corpus / "more" / "history.html").read_bytes(), "html", "history.html")
    assert doc.title == "Museum history"
    lens = [s for s in doc.sections if s.headings == ("History of the museum", "The lighthouse lens")]
    assert lens and "Fresnel lens from 1874" in lens[0].text
    assert not any("var lighthouse" in s.text or "color: red" in s.text for s in doc.sections)


def test_pdf_text_is_read_page_by_page(tmp_path):
    pdf = make_pdf(tmp_path / "shop.pdf", ["Postcards cost one euro.", "Vouchers are sold at the till."])
    doc = parse(pdf.read_bytes(), "pdf", str(pdf))
    assert [s.headings for s in doc.sections] == [("page 1",), ("page 2",)]
    assert "Vouchers are sold" in doc.sections[1].text


def test_encrypted_and_corrupt_pdfs_are_clear_errors(tmp_path):
    locked = make_pdf(tmp_path / "locked.pdf", ["secret opening hours"], password="pw")
    with pytest.raises(KnowledgeError, match="encrypted"):
        parse(locked.read_bytes(), "pdf", str(locked))
    whole = make_pdf(tmp_path / "whole.pdf", ["text"]).read_bytes()
    with pytest.raises(KnowledgeError, match="not a readable PDF"):
        parse(whole[: len(whole) // 3], "pdf", "cut.pdf")


def test_long_paragraphs_are_cut_at_sentences_and_short_ones_share_a_chunk():
    sentence = "The lens was polished by hand in the workshop. "
    long = sentence * 40  # 360 words
    chunks = chunk_sections([Section(("A", "B"), f"Short one.\n\nShort two.\n\n{long}")])
    assert chunks[0].text.startswith("Short one.\n\nShort two.\n\nThe lens")  # short pieces share a chunk
    assert len(chunks) == 4  # 364 words, cut only at sentence ends
    assert all(len(c.text.split()) <= MAX_WORDS for c in chunks)
    assert all(c.heading == "A > B" for c in chunks)
    assert sum(len(c.text.split()) for c in chunks) == 4 + 360


def test_questions_become_or_queries_of_their_content_words():
    assert terms("When does the museum open on Sundays?") == ["museum", "open", "sundays"]
    assert match_expression(["museum", "open"]) == '"museum" OR "open"'
    assert terms("who are you") == ["who", "are", "you"]  # only stop words: search them all
    assert terms("What's \"NEAR\" the museum's café AND -shop?") == ["near", "museum", "café", "shop"]


# -- the index -----------------------------------------------------------------------------------


def test_folder_is_added_recursively_and_natural_questions_find_their_passage(index, corpus):
    results = add(index, [corpus])
    assert sorted(Path(r.path).name for r in results) == ["faq.txt", "guide.md", "history.html", "shop.pdf"]
    base = KnowledgeBase(index)
    best = base.retrieve("What time does it open on Sundays?", 3)[0]  # "Sundays" finds "Sunday"
    assert Path(best.path).name == "guide.md"
    assert best.heading == "Visitor guide > Opening hours" and best.title == "Visitor guide"
    assert Path(base.retrieve("Where can I buy model ships?", 1)[0].path).name == "shop.pdf"
    assert Path(base.retrieve("Can we bring dogs?", 1)[0].path).name == "faq.txt"
    assert base.retrieve("lighthouse lens", 1)[0].heading == "History of the museum > The lighthouse lens"
    assert index.integrity() == []


def test_nothing_relevant_gives_no_passages(index, corpus):
    add(index, [corpus])
    base = KnowledgeBase(index)
    assert base.retrieve("Who won the football world cup in 1998?") == []
    assert base.retrieve("Tell me about the museum weather forecast") == []  # only a common word matches


def test_readding_a_changed_file_reindexes_only_what_changed(index, corpus):
    add(index, [corpus])
    again = add(index, [corpus])
    assert {r.status for r in again} == {"unchanged"}
    guide = corpus / "guide.md"
    guide.write_text(GUIDE_MD.replace("closes at 18:00", "closes at 17:00 in winter"))
    [changed] = [r for r in add(index, [guide])]
    assert (changed.status, changed.new, changed.kept, changed.removed) == ("updated", 1, 2, 1)
    base = KnowledgeBase(index)
    assert "17:00 in winter" in base.retrieve("When does it close in winter?", 1)[0].text
    assert not any("18:00" in p.text for p in base.retrieve("closes 18:00", 5, min_score=0))
    assert index.integrity() == []


def test_remove_by_file_folder_and_base(index, corpus):
    add(index, [corpus])
    add(index, [corpus / "faq.txt"], base="other")
    assert index.remove("default", str((corpus / "guide.md").resolve())) == [
        str((corpus / "guide.md").resolve())
    ]
    assert sorted(Path(p).name for p in index.remove("default", str((corpus / "more").resolve()))) == [
        "history.html",
        "shop.pdf",
    ]
    assert [d.path for d in index.documents("default")] == [str((corpus / "faq.txt").resolve())]
    assert index.remove_base("default") == 1
    assert [b.name for b in index.bases()] == ["other"]
    assert KnowledgeBase(index).retrieve("museum shop postcards", min_score=0) == []
    assert index.integrity() == []


def test_bad_input_changes_nothing(index, corpus, tmp_path):
    add(index, [corpus / "guide.md"])
    before = index.documents()
    good = tmp_path / "new.txt"
    good.write_text("A brand new document about lighthouses.")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(make_pdf(tmp_path / "x.pdf", ["text"]).read_bytes()[:200])
    locked = make_pdf(tmp_path / "locked.pdf", ["secret"], password="pw")
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    for bad, message in [
        (tmp_path / "missing.md", "no such file"),
        (broken, "not a readable PDF"),
        (locked, "encrypted"),
        (tmp_path / "notes.docx", "unsupported document type"),
    ]:
        with pytest.raises(KnowledgeError, match=message):
            add(index, [good, bad])
    assert index.documents() == before
    assert index.integrity() == []


def test_a_base_keeps_its_embedder(index, corpus):
    add(index, [corpus / "guide.md"], base="kiosk")
    with pytest.raises(KnowledgeError, match="uses no embeddings"):
        ingest.add(index, [str(corpus / "faq.txt")], "kiosk", embedder="ollama:nomic-embed-text")
    with pytest.raises(KnowledgeError, match="not a knowledge base name"):
        add(index, [corpus / "faq.txt"], base="../etc")


# -- URLs ----------------------------------------------------------------------------------------


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/faq")
            self.end_headers()
            return
        if self.path != "/faq":
            self.send_error(404)
            return
        body = (
            b"<html><head><title>Online FAQ</title></head><body><h1>FAQ</h1><p>Strollers can be borrowed.</p>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def web():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_urls_are_fetched_and_local_addresses_refused_unless_allowed(index, web):
    with pytest.raises(KnowledgeError, match="local or private address"):
        ingest.add(index, [f"{web}/faq"], "default", "none")
    [result] = ingest.add(index, [f"{web}/moved"], "default", "none", allow_private=True)
    assert result.path == f"{web}/faq"
    assert KnowledgeBase(index).retrieve("Can I borrow a stroller?", 1)[0].title == "Online FAQ"
    for url, message in [
        (f"{web}/nothing-here", "HTTP 404"),
        ("http://127.0.0.1:9/faq", "cannot be fetched"),
        ("ftp://example.org/faq.txt", "only http"),
    ]:
        with pytest.raises(KnowledgeError, match=message):
            ingest.add(index, [url], "default", "none", allow_private=True)
    assert len(index.documents()) == 1


# -- the command line ----------------------------------------------------------------------------


def test_cli_add_list_search_remove(corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARK_HOME", str(tmp_path / "home"))
    assert main(["knowledge", "add", str(corpus), "--embed", "none"]) == 0
    capsys.readouterr()
    assert main(["knowledge", "search", "museum open on Sundays", "--json"]) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert hits and set(hits[0]) >= {"path", "title", "text", "score"}
    assert Path(hits[0]["path"]).name == "guide.md" and 0 < hits[0]["score"] <= 1
    assert main(["knowledge", "list", "--json"]) == 0
    [listed] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed["name"] == "default" and len(listed["documents"]) == 4 and listed["embedder"] == ""
    assert main(["knowledge", "remove", str(corpus / "more")]) == 0
    assert main(["knowledge", "remove", str(corpus / "more")]) == 2
    assert "not in knowledge base" in capsys.readouterr().err
    assert main(["knowledge", "remove", "--kb", "default"]) == 0
    assert main(["knowledge", "search", "museum", "--kb", "default"]) == 2
    assert "error: no knowledge base named 'default'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["knowledge", "add", "/no/such/file.md"], "error: /no/such/file.md: no such file or folder"),
        (["knowledge", "add", "http://127.0.0.1:9/x.html"], "local or private address"),
        (["knowledge", "search", "x", "-k", "0"], "error: -k must be 1 or more"),
        (["knowledge", "remove"], "error: name what to remove"),
    ],
)
def test_cli_errors_exit_2(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARK_HOME", str(tmp_path))
    if argv[1] == "remove":
        (tmp_path / "a.md").write_text("# A\n\ntext")
        main(["knowledge", "add", str(tmp_path / "a.md"), "--embed", "none"])
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_process_killed_while_adding_leaves_the_index_sound(tmp_path):
    """kill -9 in the middle of adding 300 pages: every document is there whole or not at all."""
    pages, _ = generate(300)
    folder = tmp_path / "pages"
    write(pages, folder)
    env = {**os.environ, "HARK_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "hark.cli", "knowledge", "add", str(folder), "--embed", "none", "--json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen = [proc.stdout.readline() for _ in range(20)]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert all(json.loads(line)["status"] == "added" for line in seen)

    index = KnowledgeIndex(tmp_path / "home" / "knowledge.sqlite3")
    assert index.integrity() == []
    docs = index.documents()
    assert 20 <= len(docs) < 300
    assert all(d.chunks == 7 for d in docs)  # each page has 7 sections: none is half-written
    again = ingest.add(index, [str(folder)], "default", "none")
    assert sum(r.status == "unchanged" for r in again) == len(docs)
    assert len(index.documents()) == 300 and index.integrity() == []


def test_the_benchmark_reports_recall_and_latency_on_a_small_corpus():
    from hark.benchmark.knowledge import run

    result = run(pages=30, big_chunks=140, embed="none", info=lambda line: None)
    bm25 = result["bm25"]
    assert result["questions"] == 30 and bm25["chunks"] == 30 * 7 and "hybrid" not in result
    assert 0 < bm25["recall_at_1"] <= bm25["recall_at_3"] <= 1
    assert result["latency"]["bm25"]["chunks"] == 140 and result["latency"]["bm25"]["queries"] == 3 * (
        30 + 10
    )
    assert result["latency"]["bm25"]["retrieve_p50_ms"] <= result["latency"]["bm25"]["retrieve_p95_ms"]


def test_a_document_changed_by_another_process_while_embedding_is_not_mixed(index, corpus):
    guide = str((corpus / "guide.md").resolve())
    add(index, [guide])
    other = KnowledgeIndex(index.path)  # another process's connection
    doc = parse(GUIDE_MD.replace("18:00", "17:00").encode(), "markdown", guide)

    def embed(texts: list[str]) -> np.ndarray:
        other.remove("default", guide)  # meanwhile, the document goes
        return np.zeros((len(texts), 4), dtype=np.float32)

    with pytest.raises(KnowledgeError, match="changed by another process"):
        index.put_document(
            "default", guide, doc.title, "markdown", "new", chunk_sections(doc.sections), embed
        )
    assert index.documents() == [] and index.integrity() == []
    other.close()


def test_passages_reach_the_prompt_under_their_source_names(index, corpus):
    from dialogue.knowledge.grounding import prompt_block, sources

    add(index, [corpus])
    passages = KnowledgeBase(index).retrieve("When does the museum open on Sundays?", 1)
    block = prompt_block(passages)
    assert '[1] From "Visitor guide > Opening hours":\nThe museum opens at 10:00 on Sunday' in block
    assert "do not guess" in block and prompt_block([]) == ""
    assert sources(passages) == [
        {"title": "Visitor guide", "path": str((corpus / "guide.md").resolve()), "chunk": passages[0].text}
    ]
