from hark.evaluation.wer import normalise, number_words, word_error_rate


def test_numbers_case_and_punctuation_are_normalised():
    assert normalise("It's 42%, OK?") == ["it's", "forty", "two", "percent", "ok"]
    assert number_words(1905) == "one thousand nine hundred five"
    assert word_error_rate("What is 2 plus 2?", "what is two plus two") == 0.0


def test_counts_substitutions_insertions_and_deletions():
    assert word_error_rate("the cat sat", "the bat sat") == 1 / 3
    assert word_error_rate("the cat sat", "the cat") == 1 / 3
    assert word_error_rate("the cat", "the cat sat down") == 1.0
    assert word_error_rate("", "") == 0.0
