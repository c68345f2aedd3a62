"""config.yml, endpoints.yml and credentials.yml: shapes, defaults, ${VAR} interpolation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from chinwag.core.data.config import (
    BotConfig,
    migrate_config,
    read_config,
    read_credentials,
    read_endpoints,
)
from chinwag.core.data.problems import Location, Problems
from chinwag.core.domain import Domain


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors(problems: Problems) -> list[str]:
    return [f"{p.location}: {p.message}" for p in problems.errors]


# --------------------------------------------------------------------------- config.yml


def test_config_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "config.yml",
        """\
        recipe: default.v1
        assistant_id: my_bot
        language: de
        pipeline:
          - name: WhitespaceTokenizer
          - name: DIETClassifier
            epochs: 100
        policies:
          - name: RulePolicy
            core_fallback_threshold: 0.4
        """,
    )
    problems = Problems()
    config = read_config(path, tmp_path, problems)
    assert not list(problems)
    assert (config.language, config.recipe, config.assistant_id) == ("de", "default.v1", "my_bot")
    assert config.pipeline == [
        {"name": "WhitespaceTokenizer"},
        {"name": "DIETClassifier", "epochs": 100},
    ]
    assert config.policies == [{"name": "RulePolicy", "core_fallback_threshold": 0.4}]
    assert config.pipeline_locations == [Location("config.yml", 5), Location("config.yml", 6)]
    assert config.policy_locations == [Location("config.yml", 9)]
    assert config.raw["assistant_id"] == "my_bot"
    assert config.location == Location("config.yml", 1)


def test_missing_config_and_null_sections_mean_defaults(tmp_path: Path) -> None:
    problems = Problems()
    assert read_config(None, tmp_path, problems) == BotConfig()
    assert read_config(tmp_path / "config.yml", tmp_path, problems) == BotConfig()
    path = write(tmp_path, "config.yml", "language: en\npipeline:\npolicies:\n")
    config = read_config(path, tmp_path, problems)
    assert (config.pipeline, config.policies, config.language) == ([], [], "en")
    assert not list(problems)


def test_config_shape_errors_are_located(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "config.yml",
        """\
        language: en
        pipeline:
          - name: WhitespaceTokenizer
          - epochs: 5
          - DIETClassifier
          - name: 7
        policies:
          name: RulePolicy
        """,
    )
    problems = Problems()
    config = read_config(path, tmp_path, problems)
    assert errors(problems) == [
        "config.yml:4: component without a `name`",
        "config.yml:5: each component must be a mapping with a name: write `- name: "
        "DIETClassifier`",
        "config.yml:6: component name must be text, found 7",
        "config.yml:8: policies must be a list of `- name: ...` entries, found a mapping",
    ]
    assert config.pipeline == [{"name": "WhitespaceTokenizer"}]
    assert config.policies == []


def test_config_oddities_are_warnings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "config.yml",
        'language: "en"\npipeline: supervised_embeddings\nrecipe: graph.v1\nextra: 1\n',
    )
    problems = Problems()
    config = read_config(path, tmp_path, problems)
    assert not problems.errors
    assert [str(p.location) for p in problems.warnings] == [
        "config.yml:2",
        "config.yml:3",
        "config.yml:4",
    ]
    assert "Rasa 1.x pipeline template 'supervised_embeddings'" in problems.warnings[0].message
    # the template is read as its components (rasa/nlu/registry.py)
    assert [c["name"] for c in config.pipeline] == [
        "WhitespaceTokenizer",
        "RegexFeaturizer",
        "CRFEntityExtractor",
        "EntitySynonymMapper",
        "CountVectorsFeaturizer",
        "CountVectorsFeaturizer",
        "EmbeddingIntentClassifier",
    ]
    assert config.pipeline_locations == [Location("config.yml", 2)] * 7


def test_config_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "config.yml", "- name: x\n")
    problems = Problems()
    read_config(path, tmp_path, problems)
    assert errors(problems)[0].startswith("config.yml:1: expected a mapping")


# --------------------------------------------------------------------------- endpoints.yml


def test_endpoints_are_read_and_interpolated(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "endpoints.yml",
        """\
        action_endpoint:
          url: "http://${ACTION_HOST}:5055/webhook"
        tracker_store:
          type: mongod
          url: ${MONGO_URL}
          db: rasa
        lock_store:
        """,
    )
    problems = Problems()
    env = {"ACTION_HOST": "actions", "MONGO_URL": "mongodb://db:27017"}
    endpoints = read_endpoints(path, tmp_path, problems, env=env)
    assert not list(problems)
    assert endpoints == {
        "action_endpoint": {"url": "http://actions:5055/webhook"},
        "tracker_store": {"type": "mongod", "url": "mongodb://db:27017", "db": "rasa"},
        "lock_store": None,
    }
    assert type(endpoints["tracker_store"]) is dict


def test_endpoint_shape_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "endpoints.yml",
        """\
        action_endpoint:
          token: abc
        tracker_store: mongod
        lock_store:
          type: redis
          port: many
        event_broker:
          type: 3
        vector_store:
          type: x
        """,
    )
    problems = Problems()
    read_endpoints(path, tmp_path, problems, env={})
    assert errors(problems) == [
        "endpoints.yml:1: action_endpoint needs a `url`",
        "endpoints.yml:3: tracker_store must be a mapping (url, type, ...), found the text "
        "'mongod'",
        "endpoints.yml:6: lock_store: port must be a number, found 'many'",
        "endpoints.yml:8: event_broker: type must be text, found 3",
    ]
    assert [str(p.location) for p in problems.warnings] == ["endpoints.yml:9"]


def test_missing_endpoints_file(tmp_path: Path) -> None:
    problems = Problems()
    assert read_endpoints(None, tmp_path, problems) == {}
    assert read_endpoints(tmp_path / "endpoints.yml", tmp_path, problems) == {}
    assert not list(problems)


# --------------------------------------------------------------------------- credentials.yml


def test_credentials_interpolate_env_vars(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "credentials.yml",
        """\
        rest:
        slack:
          slack_token: ${SLACK_TOKEN}
          slack_signing_secret: "${SLACK_SECRET}"
          slack_channel: "#general"
        telegram:
          access_token: "${TG_TOKEN}"
          verify: my_bot
          webhook_url: https://${HOST}/webhooks/telegram/webhook
        """,
    )
    problems = Problems()
    env = {"SLACK_TOKEN": "xoxb-1", "SLACK_SECRET": "s3", "TG_TOKEN": "123:abc", "HOST": "bot.io"}
    creds = read_credentials(path, tmp_path, problems, env=env)
    assert not list(problems)
    assert creds == {
        "rest": None,
        "slack": {
            "slack_token": "xoxb-1",
            "slack_signing_secret": "s3",
            "slack_channel": "#general",
        },
        "telegram": {
            "access_token": "123:abc",
            "verify": "my_bot",
            "webhook_url": "https://bot.io/webhooks/telegram/webhook",
        },
    }


def test_unset_env_var_is_an_error_naming_it_and_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "credentials.yml",
        'slack:\n  slack_token: ${SLACK_TOKEN}\n  extra: ["${OTHER}"]\n',
    )
    problems = Problems()
    creds = read_credentials(path, tmp_path, problems, env={})
    assert errors(problems) == [
        "credentials.yml:2: environment variable 'SLACK_TOKEN' is not set (used as ${SLACK_TOKEN})",
        "credentials.yml:3: environment variable 'OTHER' is not set (used as ${OTHER})",
    ]
    assert creds["slack"]["slack_token"] == "${SLACK_TOKEN}"


def test_credentials_channel_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "credentials.yml", "rest:\nslack: xoxb-token\n")
    problems = Problems()
    read_credentials(path, tmp_path, problems, env={})
    assert errors(problems) == [
        "credentials.yml:2: channel 'slack' must be a mapping of its settings (or empty), "
        "found the text 'xoxb-token'"
    ]


def test_credentials_use_the_process_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHINWAG_TEST_TOKEN", "from-env")
    path = write(tmp_path, "credentials.yml", "rest:\n  token: ${CHINWAG_TEST_TOKEN}\n")
    problems = Problems()
    assert read_credentials(path, tmp_path, problems) == {"rest": {"token": "from-env"}}


def test_migrate_config_without_locations_still_migrates() -> None:
    """A BotConfig built in code (no config.yml lines) is migrated as a read one is."""
    config = BotConfig(policies=[{"name": "FormPolicy"}, {"name": "TwoStageFallbackPolicy"}])
    problems = Problems()
    rules = migrate_config(config, Domain(), [], problems)
    assert [p["name"] for p in config.policies] == ["RulePolicy"]
    assert [c["name"] for c in config.pipeline] == ["FallbackClassifier"]
    (rule,) = rules
    assert [type(s).__name__ for s in rule.steps] == ["UserStep", "ActionStep", "LoopStep"]
    assert all(str(w.location) == "config.yml" for w in problems.warnings)
