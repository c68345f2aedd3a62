from pathlib import Path

import pytest

from chinwag.core.data.yaml_io import YamlError, YamlList, YamlMap, load_yaml, load_yaml_text


def test_yaml_12_scalars_stay_strings() -> None:
    data = load_yaml_text("a: yes\nb: no\nc: on\nd: 12:30\ne: 2024-01-02\nf: true\ng: 0x1F\n")
    assert data == {
        "a": "yes",
        "b": "no",
        "c": "on",
        "d": "12:30",
        "e": "2024-01-02",
        "f": True,
        "g": 31,
    }


def test_numbers_and_nulls() -> None:
    data = load_yaml_text("a: 3\nb: -1.5\nc: ~\nd:\ne: null\nf: 1e3\n")
    assert data == {"a": 3, "b": -1.5, "c": None, "d": None, "e": None, "f": 1000.0}


def test_lines_of_keys_and_items() -> None:
    data = load_yaml_text("top:\n  - one\n  - two: 2\n    three: 3\nother: x\n", "f.yml")
    assert isinstance(data, YamlMap)
    assert data.key_lines == {"top": 1, "other": 5}
    items = data["top"]
    assert isinstance(items, YamlList)
    assert items.item_lines == [2, 3]
    assert str(items.loc(1)) == "f.yml:3"
    assert items[1].key_lines == {"two": 3, "three": 4}
    assert str(data.loc("other")) == "f.yml:5"


def test_duplicate_key_is_an_error_at_its_line() -> None:
    with pytest.raises(YamlError) as info:
        load_yaml_text("a: 1\nb:\n  c: 1\n  c: 2\n", "dup.yml")
    assert str(info.value.location) == "dup.yml:4"
    assert "duplicate key 'c'" in info.value.message
    assert "line 3" in info.value.message


def test_malformed_yaml_is_located() -> None:
    with pytest.raises(YamlError) as info:
        load_yaml_text("nlu:\n- intent: greet\n  examples: [a\n", "bad.yml")
    assert info.value.location.file == "bad.yml"
    assert info.value.location.line is not None
    assert info.value.message.startswith("invalid YAML")


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(YamlError, match="cannot read"):
        load_yaml(tmp_path / "missing.yml")
    bad = tmp_path / "latin.yml"
    bad.write_bytes(b"a: caf\xe9\n")
    with pytest.raises(YamlError, match="not UTF-8"):
        load_yaml(bad)


def test_anchors_and_merge_keys_work() -> None:
    data = load_yaml_text("base: &b\n  x: 1\nchild:\n  <<: *b\n  y: 2\n")
    assert data["child"] == {"x": 1, "y": 2}
