"""Text shaping for speech: Markdown out, sentence chunks, an early first clause."""

from voice.shaper import SentenceChunker, speakable
from voice.speech import ReplySpeech


def stream(text: str, step: int = 3) -> list[str]:
    return list(ReplySpeech(None).chunks(text[i : i + step] for i in range(0, len(text), step)))


def test_splits_at_sentence_ends_while_streaming():
    assert stream("Paris is the capital. It is big! Do you like it?") == [
        "Paris is the capital.",
        "It is big!",
        "Do you like it?",
    ]


def test_no_split_after_abbreviations_initials_or_decimals():
    text = "Dr. Smith paid 3.5 dollars, e.g. a coffee. J. R. R. Tolkien wrote it. Done."
    chunker = SentenceChunker(first_clause_chars=1000)
    chunks = [c for i in range(0, len(text), 3) for c in chunker.feed(text[i : i + 3])] + chunker.flush()
    assert chunks == [
        "Dr. Smith paid 3.5 dollars, for example a coffee.",
        "J. R. R. Tolkien wrote it.",
        "Done.",
    ]


def test_numbered_list_markers_are_not_sentences():
    assert stream("Two cities:\n1. Paris\n2. London\n") == ["Two cities:", "Paris", "London"]


def test_markdown_is_not_read_aloud():
    text = speakable("## Title\n**Bold** and *italic* with `code` and [a link](http://x.y).\n- item")
    assert text == "Title\nBold and italic with code and a link.\nitem"


def test_code_blocks_are_skipped():
    assert stream("Here:\n```python\nprint(1)\n```\nThat is it.") == ["Here:", "That is it."]


def test_expansions():
    assert speakable("It is 20% off & 30°C") == "It is 20 percent off and 30 degrees Celsius"


def test_long_first_sentence_is_cut_at_a_clause():
    text = "Well, the capital of France, which is a large country in Europe, is Paris. Next sentence here."
    chunks = stream(text)
    assert len(chunks[0]) < 60
    assert chunks[0].endswith(",")
    assert " ".join(chunks).replace("  ", " ") == text


def test_long_first_sentence_without_a_comma_is_cut_before_a_conjunction():
    text = "Two plus two is a mathematical operation that has a simple answer. It is four."
    assert stream(text) == [
        "Two plus two is a mathematical operation",
        "that has a simple answer.",
        "It is four.",
    ]


def test_a_comma_is_preferred_to_a_conjunction_and_short_openings_are_not_cut():
    assert stream("The largest animal on Earth and in the sea, the blue whale, eats krill. Yes.")[0] == (
        "The largest animal on Earth and in the sea,"
    )
    assert stream("Bees make honey and wax. They also make propolis.")[0] == "Bees make honey and wax."


def test_only_the_first_chunk_is_cut_early():
    chunker = SentenceChunker(first_clause_chars=20)
    out = chunker.feed("First part here, and more words follow, then more, and more. ")
    out += chunker.feed("The second sentence is long, with commas, that stay together. ")
    assert out[-1] == "The second sentence is long, with commas, that stay together."


def test_flush_returns_an_unfinished_tail():
    chunker = SentenceChunker()
    assert chunker.feed("No full stop yet") == []
    assert chunker.flush() == ["No full stop yet"]
