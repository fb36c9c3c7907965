from voice.agreement import PrefixAgreement


def test_commits_only_what_two_passes_agree_on_and_never_takes_it_back():
    agreement = PrefixAgreement()
    assert agreement.update("What is the cap") == ("", "What is the cap")
    assert agreement.update("What is the capital of") == ("What is the", "capital of")
    assert agreement.update("What is the capital of France?") == ("What is the capital of", "France?")
    # A later pass that disagrees with committed words does not un-commit them.
    committed, _ = agreement.update("What was the capital of France?")
    assert committed == "What is the capital of"


def test_case_and_punctuation_do_not_break_agreement():
    agreement = PrefixAgreement()
    agreement.update("Hello, world")
    assert agreement.update("hello world again")[0] == "hello world"
