import pytest

from chinwag.core.data.training import Entity, Message
from chinwag.core.nlu.crf import CRFConfig, CRFEntityExtractor, _bilou, _bio, _spans, _swap_values
from chinwag.core.nlu.tokenizer import tokenize


def _flight(src: str, dst: str) -> Message:
    text = f"fly from {src} to {dst}"
    a = text.index(src)
    b = text.index(dst, a + len(src))
    return Message(
        text,
        "book",
        [
            Entity("city", src, a, a + len(src), role="departure"),
            Entity("city", dst, b, b + len(dst), role="destination"),
        ],
    )


def test_bilou_round_trip() -> None:
    tags = _bilou([None, "city", "city", None, "city"])
    assert tags == ["O", "B-city", "L-city", "O", "U-city"]
    assert _spans(tags) == [(1, 2, "city"), (4, 4, "city")]
    assert _spans(["I-x", "L-x"]) == [(0, 1, "x")]  # a broken start is mended


def test_bio_round_trip_keeps_adjacent_entities_apart() -> None:
    labels: list[str | None] = ["city", "city", "city", None, "date"]
    tags = _bio(labels)
    assert tags == ["B-city", "I-city", "I-city", "O", "B-date"]
    assert _spans(tags) == [(0, 2, "city"), (4, 4, "date")]
    assert _spans(["B-x", "B-x", "I-x"]) == [(0, 0, "x"), (1, 2, "x")]


def _priority(text: str, value: str, canonical: str | None = None) -> Message:
    start = text.index(value)
    return Message(
        text, "ticket", [Entity("priority", canonical or value, start, start + len(value))]
    )


def test_synonym_variants_read_as_values_of_their_entity() -> None:
    levels = ["low", "medium", "high"]
    data = [
        _priority(f"{lead} {level} priority", level)
        for level in levels
        for lead in ("make it", "set it to", "it is", "this one is")
    ]
    data += [Message(f"{w} the ticket please", "ticket") for w in ("open", "close", "show")]
    data.append(_priority("really urgent", "urgent", "high"))  # a variant seen once
    synonyms = {"urgent": "high", "critical": "high", "asap": "high"}
    crf = CRFEntityExtractor()
    crf.train(data, synonyms)
    assert crf.gazetteer["critical"] == {"priority": 1}
    assert crf.gazetteer["urgent"] == {"priority": 2}  # annotated once, listed once
    assert crf.word_gazetteer["asap"] == {"priority": 1}
    # a variant never annotated (or annotated once, hence unseen under leave-one-out in
    # training) is found alone, where only the dictionary tells it is a priority
    for word in ("critical", "urgent"):
        found = crf.extract(word)
        assert [(e["entity"], e["value"]) for e in found] == [("priority", word)]
    without = CRFEntityExtractor()
    without.train(data)
    assert "critical" not in without.gazetteer
    assert without.extract("critical") == []


def test_learns_entities_and_roles() -> None:
    cities = ["berlin", "paris", "rome", "madrid", "london", "vienna", "oslo", "lisbon"]
    data = [_flight(a, b) for a in cities for b in cities if a != b]
    crf = CRFEntityExtractor(CRFConfig(value_features=False))
    crf.train(data)
    found = crf.extract("fly from dublin to prague")
    assert [(e["entity"], e["value"], e.get("role")) for e in found] == [
        ("city", "dublin", "departure"),
        ("city", "prague", "destination"),
    ]
    assert all(0.0 < e["confidence_entity"] <= 1.0 for e in found)
    assert found[0]["start"] == 9 and found[0]["end"] == 15


def test_learns_groups() -> None:
    data = []
    for size, topping in [("large", "ham"), ("small", "olives"), ("medium", "corn")] * 4:
        text = f"one {size} pizza with {topping} and a {size} one with cheese"
        second = text.index(size, text.index(topping))
        data.append(
            Message(
                text,
                "order",
                [
                    Entity("size", size, 4, 4 + len(size), group="1"),
                    Entity(
                        "topping",
                        topping,
                        text.index(topping),
                        text.index(topping) + len(topping),
                        group="1",
                    ),
                    Entity("size", size, second, second + len(size), group="2"),
                    Entity(
                        "topping",
                        "cheese",
                        text.index("cheese"),
                        text.index("cheese") + 6,
                        group="2",
                    ),
                ],
            )
        )
    crf = CRFEntityExtractor()
    crf.train(data)
    found = crf.extract("one large pizza with corn and a small one with cheese")
    assert [(e["entity"], e["value"], e.get("group")) for e in found] == [
        ("size", "large", "1"),
        ("topping", "corn", "1"),
        ("size", "small", "2"),
        ("topping", "cheese", "2"),
    ]


def test_no_annotations_no_model() -> None:
    crf = CRFEntityExtractor()
    crf.train([Message("hello", "greet")])
    assert crf.models == {}
    assert crf.extract("hello") == []


def test_swap_values_keeps_spans_roles_and_is_seeded() -> None:
    data = [_flight("berlin", "paris"), _flight("new york", "rome")]
    copies = _swap_values([*data, Message("hi", "greet")], 2)
    assert len(copies) == 4  # 2 copies of each example with entities
    for copy in copies:
        assert [e.role for e in copy.entities] == ["departure", "destination"]
        for e in copy.entities:
            assert copy.text[e.start : e.end] == e.value
            assert e.value in {"berlin", "paris", "new york", "rome"}
        assert copy.text.startswith("fly from ")
    assert copies == _swap_values([*data, Message("hi", "greet")], 2)
    assert _swap_values(data, 0) == []


def test_word_value_features_leave_own_values_out() -> None:
    crf = CRFEntityExtractor()
    crf.train([_flight("new york", "rome"), _flight("york", "oslo")])
    assert crf.word_gazetteer["york"] == {"city": 2}
    assert crf.word_gazetteer["new"] == {"city": 1}
    tokens = tokenize("to new rome")
    own = crf._words(crf._values(_flight("new york", "rome")))
    with_own = crf._features("to new rome", tokens)
    without_own = crf._features("to new rome", tokens, own_words=own)
    assert "0:pattern=word_value=city" in with_own[1]
    assert "0:pattern=word_value=city" not in without_own[1]  # "new" is only in its own value
    restored = CRFEntityExtractor.from_meta(crf.meta(), crf.models)
    assert restored.word_gazetteer == crf.word_gazetteer
    assert restored.config.augment == 1


def test_auto_training_plan_follows_the_problem_size() -> None:
    from chinwag.core.nlu.crf import PERCEPTRON_EPOCHS, plan_training, problem_size

    data = [_flight("berlin", "paris"), _flight("rome", "oslo")]
    assert problem_size(data) == (10, 1)  # 10 tokens, 1 entity type
    plans = [plan_training(CRFConfig(), tokens, 53) for tokens in (500, 10_000, 100_000)]
    assert [(p.algorithm, p.tagging, p.augment) for p in plans] == [
        ("lbfgs", "bilou", 1),
        ("lbfgs", "io", 1),
        ("ap", "io", 0),
    ]
    assert plans[0].max_iterations == 50 and plans[2].max_iterations == PERCEPTRON_EPOCHS
    assert [p.window for p in plans] == [1, 1, 2]
    fixed = plan_training(CRFConfig(algorithm="lbfgs"), 100_000, 53)
    assert (fixed.algorithm, fixed.tagging) == ("lbfgs", "bilou")


@pytest.mark.parametrize("algorithm", ["ap", "lbfgs"])
def test_io_tagging_learns_entities_and_roles(
    monkeypatch: pytest.MonkeyPatch, algorithm: str
) -> None:
    import chinwag.core.nlu.crf as crf_module

    monkeypatch.setattr(crf_module, "LBFGS_BUDGET", 0)  # every problem is "large"
    if algorithm == "lbfgs":
        monkeypatch.setattr(crf_module, "LBFGS_BUDGET", 10_000)  # BILOU over it, IO under
    cities = ["berlin", "paris", "rome", "madrid", "london", "vienna", "oslo", "lisbon"]
    data = [_flight(a, b) for a in cities for b in cities if a != b]
    tokens, types = crf_module.problem_size(data)
    plan = crf_module.plan_training(CRFConfig(), tokens, types)
    assert (plan.algorithm, plan.tagging) == (algorithm, "io")
    crf = CRFEntityExtractor(CRFConfig(value_features=False))
    crf.train(data)
    got = crf.extract("fly from berlin to oslo")
    assert [(e["entity"], e["value"], e.get("role")) for e in got] == [
        ("city", "berlin", "departure"),
        ("city", "oslo", "destination"),
    ]
    # the window the plan chose is the one parsing uses, after a round trip too
    assert crf.window == plan.window
    restored = CRFEntityExtractor.from_meta(crf.meta(), crf.models)
    assert restored.window == plan.window
    assert restored.extract("fly from berlin to oslo") == got
