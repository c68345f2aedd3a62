from chinwag.core.data.training import NLUData, Regex
from chinwag.core.nlu.featurizers import FeaturizerConfig, SentenceFeaturizer
from chinwag.core.nlu.patterns import collect_patterns, compile_patterns


def test_shapes_and_pattern_columns() -> None:
    nlu = NLUData(regexes=[Regex("zip", r"\d{5}")], lookups={"city": ["Berlin", "New York"]})
    patterns = collect_patterns(nlu)
    assert [p.name for p in patterns] == ["zip", "city"]
    feat = SentenceFeaturizer(FeaturizerConfig((1, 2), (2, 3)), patterns)
    x = feat.fit_transform(["fly to berlin", "my zip is 12345", "hello there"])
    assert x.shape[0] == 3
    y = feat.transform(["new york 99999", "nothing"])
    assert y.shape == (2, x.shape[1])
    regex_cols = y[:, -2:].toarray()
    assert regex_cols.tolist() == [[1.0, 1.0], [0.0, 0.0]]


def test_word_only_features() -> None:
    feat = SentenceFeaturizer(FeaturizerConfig((1, 1), None), [])
    x = feat.fit_transform(["a b", "b c"])
    assert x.shape == (2, 3)  # a, b, c and no pattern columns


def test_lookup_word_boundaries_and_invalid_regex() -> None:
    nlu = NLUData(regexes=[Regex("bad", "(")], lookups={"city": ["rome"]})
    compiled = compile_patterns(collect_patterns(nlu))
    assert not compiled[0].search("(")  # an invalid regex never matches
    assert compiled[1].search("to Rome now")
    assert not compiled[1].search("romeo")
