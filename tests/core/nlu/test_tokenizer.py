from chinwag.core.nlu.tokenizer import tokenize


def test_offsets_match_text() -> None:
    text = "I'd like 12.50 e-mail, please!"
    tokens = tokenize(text)
    assert [t.text for t in tokens] == ["I'd", "like", "12.50", "e-mail", ",", "please", "!"]
    assert all(text[t.start : t.end] == t.text for t in tokens)
    assert tokens[2].start == 9 and tokens[2].end == 14


def test_empty_and_lower() -> None:
    assert tokenize("   ") == []
    assert tokenize("HeLLo")[0].lower == "hello"
