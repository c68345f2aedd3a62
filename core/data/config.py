"""Read a bot's ``config.yml``, ``endpoints.yml`` and ``credentials.yml`` as Rasa does.

Only shapes are checked here (a pipeline is a list of components with a ``name``, an endpoint
section is a mapping with a ``url``...); which components, stores and channels chinwag runs is
decided where they are built. ``${VAR}`` in any text value is replaced by the environment
variable ``VAR`` (an unset variable is an error naming it and its line), as Rasa's YAML reader
does for every file; chinwag also replaces it inside quoted text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chinwag.core.data.domain_reader import describe, display_path, plain
from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.training import ActionStep, LoopStep, Story, UserStep
from chinwag.core.data.yaml_io import YamlError, YamlList, YamlMap, load_yaml, loc_of
from chinwag.core.domain import Domain
from chinwag.core.nlu.text import DEFAULT_MAX_CHARS

DEFAULT_RECIPE = "default.v1"
DEFAULT_LANGUAGE = "en"
CONFIG_KEYS = (
    "version",
    "recipe",
    "language",
    "assistant_id",
    "pipeline",
    "policies",
    "data",
    "importers",
    "nlu_max_chars",
)
# keys of Rasa's graph.v1 recipe: read, but chinwag builds its own graph
GRAPH_KEYS = ("train_schema", "predict_schema", "core_target", "nlu_target")
ENDPOINT_SECTIONS = (
    "version",
    "action_endpoint",
    "tracker_store",
    "lock_store",
    "event_broker",
    "models",
    "model",
    "nlg",
    "nlu",
)
_ENV_VAR = re.compile(r"\$\{([^}]*)\}")

# Rasa 1.x pipeline templates (rasa/nlu/registry.py ``registered_pipeline_templates``; the
# older names are Rasa 0.x's), read as the components they stood for
PIPELINE_TEMPLATES: dict[str, list[dict[str, Any]]] = {
    "pretrained_embeddings_spacy": [
        {"name": "SpacyNLP"},
        {"name": "SpacyTokenizer"},
        {"name": "SpacyFeaturizer"},
        {"name": "RegexFeaturizer"},
        {"name": "CRFEntityExtractor"},
        {"name": "EntitySynonymMapper"},
        {"name": "SklearnIntentClassifier"},
    ],
    "keyword": [{"name": "KeywordIntentClassifier"}],
    "supervised_embeddings": [
        {"name": "WhitespaceTokenizer"},
        {"name": "RegexFeaturizer"},
        {"name": "CRFEntityExtractor"},
        {"name": "EntitySynonymMapper"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
        {"name": "EmbeddingIntentClassifier"},
    ],
    "pretrained_embeddings_convert": [
        {"name": "ConveRTTokenizer"},
        {"name": "ConveRTFeaturizer"},
        {"name": "EmbeddingIntentClassifier"},
    ],
    "mitie": [
        {"name": "MitieNLP"},
        {"name": "MitieTokenizer"},
        {"name": "MitieEntityExtractor"},
        {"name": "EntitySynonymMapper"},
        {"name": "MitieIntentClassifier"},
    ],
    "mitie_sklearn": [
        {"name": "MitieNLP"},
        {"name": "MitieTokenizer"},
        {"name": "MitieEntityExtractor"},
        {"name": "EntitySynonymMapper"},
        {"name": "MitieFeaturizer"},
        {"name": "SklearnIntentClassifier"},
    ],
}
PIPELINE_TEMPLATE_ALIASES = {
    "spacy_sklearn": "pretrained_embeddings_spacy",
    "tensorflow_embedding": "supervised_embeddings",
}

# Rasa 1.x/2.x policies that Rasa 3's RulePolicy (and the FallbackClassifier) replaced; see
# :func:`migrate_config`
ACTION_DEFAULT_FALLBACK = "action_default_fallback"
ACTION_TWO_STAGE_FALLBACK = "action_two_stage_fallback"
NLU_FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE_INTENT = "out_of_scope"
FALLBACK_POLICIES = ("FallbackPolicy", "TwoStageFallbackPolicy")
# rasa/core/constants.py: DEFAULT_NLU_FALLBACK_THRESHOLD, ..._AMBIGUITY_THRESHOLD, DEFAULT_CORE_...
DEFAULT_NLU_THRESHOLD = 0.3
DEFAULT_AMBIGUITY_THRESHOLD = 0.1
DEFAULT_CORE_THRESHOLD = 0.3


@dataclass
class TwoStageFallbackSettings:
    """What the two-stage fallback loop does on giving up, and which intent says "no".

    Rasa 3's loop always gives up with ``action_default_fallback`` and takes ``out_of_scope``
    as the denial; Rasa 1.x's TwoStageFallbackPolicy made both configurable
    (``fallback_nlu_action_name``, ``deny_suggestion_intent_name``).
    """

    give_up_action: str = ACTION_DEFAULT_FALLBACK
    deny_intent: str = OUT_OF_SCOPE_INTENT


@dataclass
class BotConfig:
    """config.yml: empty ``pipeline``/``policies`` mean "use chinwag's defaults"."""

    language: str = DEFAULT_LANGUAGE
    recipe: str = DEFAULT_RECIPE
    assistant_id: str | None = None
    pipeline: list[dict[str, Any]] = field(default_factory=list)
    policies: list[dict[str, Any]] = field(default_factory=list)
    # chinwag's own key: NLU reads at most this many characters of a message (0: all)
    nlu_max_chars: int = DEFAULT_MAX_CHARS
    raw: dict[str, Any] = field(default_factory=dict)
    location: Location | None = None
    # where each pipeline component / policy was written (same order as the lists)
    pipeline_locations: list[Location] = field(default_factory=list)
    policy_locations: list[Location] = field(default_factory=list)
    two_stage_fallback: TwoStageFallbackSettings = field(default_factory=TwoStageFallbackSettings)


def read_config(
    path: Path | None,
    root: Path,
    problems: Problems,
    env: Mapping[str, str] | None = None,
) -> BotConfig:
    """Read config.yml; a missing file (or ``path`` None) gives the defaults."""
    if path is None or not path.is_file():
        return BotConfig()
    display = display_path(path, root)
    data = _load_mapping(path, display, "recipe, language, pipeline and policies", problems)
    if data is None:
        return BotConfig(location=Location(display, 1))
    data = interpolate_env(data, problems, env)
    config = BotConfig(raw=plain(data), location=Location(display, 1))
    for key, value in data.items():
        key_loc = data.loc(key)
        if key == "language":
            if value is None:
                continue
            if isinstance(value, str) and value.strip():
                config.language = value
            else:
                problems.error(
                    f"language must be a language code such as 'en', found {value!r}", key_loc
                )
        elif key == "recipe":
            if value is None:
                continue
            if not isinstance(value, str):
                problems.error(
                    f"recipe must be a name such as '{DEFAULT_RECIPE}', found {value!r}", key_loc
                )
                continue
            config.recipe = value
            if value != DEFAULT_RECIPE:
                problems.warning(
                    f"recipe '{value}' is not supported: chinwag trains its own pipeline "
                    f"(as with '{DEFAULT_RECIPE}')",
                    key_loc,
                )
        elif key == "assistant_id":
            config.assistant_id = None if value is None else str(value)
        elif key == "pipeline":
            config.pipeline, config.pipeline_locations = _components(
                value, key_loc, "pipeline", "component", problems
            )
        elif key == "policies":
            config.policies, config.policy_locations = _components(
                value, key_loc, "policies", "policy", problems
            )
        elif key == "nlu_max_chars":
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                config.nlu_max_chars = value
            else:
                problems.error(
                    f"nlu_max_chars must be a number of characters (0: no limit), found {value!r}",
                    key_loc,
                )
        elif key in GRAPH_KEYS:
            problems.warning(
                f"'{key}' (Rasa's graph.v1 recipe) is ignored: chinwag builds its own graph",
                key_loc,
            )
        elif key not in CONFIG_KEYS:
            problems.warning(
                f"unknown config key '{key}' ignored (expected one of {', '.join(CONFIG_KEYS)})",
                key_loc,
            )
    return config


def _components(
    value: Any, loc: Location, section: str, what: str, problems: Problems
) -> tuple[list[dict[str, Any]], list[Location]]:
    """A pipeline or policies list: each entry a mapping with a ``name``."""
    if value is None:
        return [], []
    if isinstance(value, str):
        template = PIPELINE_TEMPLATES.get(PIPELINE_TEMPLATE_ALIASES.get(value, value))
        if section != "pipeline" or template is None:
            problems.warning(
                f"Rasa 1.x {section} template '{value}' is not known: chinwag's default "
                f"{section} is used",
                loc,
            )
            return [], []
        names = ", ".join(c["name"] for c in template)
        problems.warning(f"Rasa 1.x pipeline template '{value}' read as: {names}", loc)
        return [dict(c) for c in template], [loc] * len(template)
    if not isinstance(value, YamlList):
        problems.error(
            f"{section} must be a list of `- name: ...` entries, found {describe(value)}",
            loc_of(value, loc),
        )
        return [], []
    items: list[dict[str, Any]] = []
    locations: list[Location] = []
    for i, item in enumerate(value):
        item_loc = value.loc(i)
        if isinstance(item, str):
            problems.error(
                f"each {what} must be a mapping with a name: write `- name: {item}`", item_loc
            )
        elif not isinstance(item, YamlMap):
            problems.error(
                f"each {what} must be a mapping such as `- name: ...`, found {describe(item)}",
                item_loc,
            )
        elif "name" not in item:
            problems.error(f"{what} without a `name`", item_loc)
        elif not isinstance(item["name"], str) or not item["name"].strip():
            problems.error(f"{what} name must be text, found {item['name']!r}", item.loc("name"))
        else:
            items.append(plain(item))
            locations.append(item_loc)
    return items, locations


def _read_env_mapping(
    path: Path | None,
    root: Path,
    problems: Problems,
    env: Mapping[str, str] | None,
    expected: str,
) -> YamlMap | None:
    """A top-level mapping file with ``${VAR}`` filled in; None when absent or unusable."""
    if path is None or not path.is_file():
        return None
    data = _load_mapping(path, display_path(path, root), expected, problems)
    if data is None:
        return None
    result: YamlMap = interpolate_env(data, problems, env)
    return result


def read_endpoints(
    path: Path | None,
    root: Path,
    problems: Problems,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Read endpoints.yml (action_endpoint, tracker_store, lock_store, event_broker, ...)."""
    data = _read_env_mapping(path, root, problems, env, "action_endpoint, tracker_store, ...")
    if data is None:
        return {}
    for key, value in data.items():
        key_loc = data.loc(key)
        if key not in ENDPOINT_SECTIONS:
            problems.warning(
                f"unknown endpoint '{key}' ignored (expected one of "
                f"{', '.join(ENDPOINT_SECTIONS[1:])})",
                key_loc,
            )
            continue
        if key == "version" or value is None:
            continue
        if not isinstance(value, YamlMap):
            problems.error(
                f"{key} must be a mapping (url, type, ...), found {describe(value)}", key_loc
            )
            continue
        for field_name in ("url", "type"):
            if field_name in value and not isinstance(value[field_name], str):
                problems.error(
                    f"{key}: {field_name} must be text, found {value[field_name]!r}",
                    value.loc(field_name),
                )
        if key in ("action_endpoint", "nlg", "models", "model") and "url" not in value:
            problems.error(f"{key} needs a `url`", key_loc)
        port = value.get("port")
        if port is not None and (isinstance(port, bool) or not _is_int(port)):
            problems.error(f"{key}: port must be a number, found {port!r}", value.loc("port"))
    return plain(data)


def read_credentials(
    path: Path | None,
    root: Path,
    problems: Problems,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Read credentials.yml: channel name -> its settings (None: enabled, no settings)."""
    expected = "one section per channel (rest:, slack:, ...)"
    data = _read_env_mapping(path, root, problems, env, expected)
    if data is None:
        return {}
    for key, value in data.items():
        if value is not None and not isinstance(value, YamlMap):
            problems.error(
                f"channel '{key}' must be a mapping of its settings (or empty), "
                f"found {describe(value)}",
                data.loc(key),
            )
    return plain(data)


def interpolate_env(value: Any, problems: Problems, env: Mapping[str, str] | None = None) -> Any:
    """Replace ``${VAR}`` in every text value (keeping line bookkeeping); report unset ones."""
    environ = os.environ if env is None else env
    return _interpolate(value, environ, problems, Location("<string>"))


def _interpolate(value: Any, env: Mapping[str, str], problems: Problems, loc: Location) -> Any:
    if isinstance(value, YamlMap):
        for key in list(value):
            value[key] = _interpolate(value[key], env, problems, value.loc(key))
        return value
    if isinstance(value, YamlList):
        for i in range(len(value)):
            value[i] = _interpolate(value[i], env, problems, value.loc(i))
        return value
    if isinstance(value, str) and "${" in value:

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in env:
                return env[name]
            problems.error(f"environment variable '{name}' is not set (used as ${{{name}}})", loc)
            return match.group(0)

        return _ENV_VAR.sub(replace, value)
    return value


# --------------------------------------------------------------------------- 1.x/2.x policies


def migrate_config(
    config: BotConfig, domain: Domain, rules_written: list[Story], problems: Problems
) -> list[Story]:
    """Rasa 1.x/2.x policies as Rasa 3 runs them (``rasa/core/config.py``'s migrations).

    Changes ``config`` in place and returns the rules the migration writes (Rasa's
    ``migrate_fallback_policies`` / ``migrate_mapping_policy_to_rules``), one warning each:

    * ``MappingPolicy``: each domain intent's ``triggers: action`` becomes the rule
      ``intent -> action`` (also without any configured policies, as Rasa 1.x's default
      config had MappingPolicy); ``FormPolicy``: forms run in RulePolicy. Both add RulePolicy.
    * ``FallbackPolicy`` / ``TwoStageFallbackPolicy``: ``nlu_threshold`` and
      ``ambiguity_threshold`` go to the FallbackClassifier, ``core_threshold`` and
      ``fallback_core_action_name`` (or ``fallback_action_name``) to RulePolicy's core
      fallback; the rule ``nlu_fallback -> fallback_action_name`` (FallbackPolicy) or
      ``nlu_fallback -> action_two_stage_fallback`` with its loop (the rule Rasa's migration
      guide writes); ``fallback_nlu_action_name`` and ``deny_suggestion_intent_name`` set
      how the two-stage loop gives up and which intent denies.

    Settings already written on RulePolicy or the FallbackClassifier win, and no rule is
    added for an intent that a rule of ``rules_written`` (the bot's own) starts with.
    """
    policies: list[dict[str, Any]] = []
    locations: list[Location] = []
    rules: list[Story] = []
    needs_rules: Location | None = None
    triggers_used = not config.policies
    fallback: tuple[dict[str, Any], Location | None] | None = None
    for index, entry in enumerate(config.policies):
        where = (
            config.policy_locations[index]
            if index < len(config.policy_locations)
            else config.location or Location("config.yml")
        )
        name = str(entry.get("name", "")).rsplit(".", 1)[-1]
        if name == "MappingPolicy":
            triggers_used = True
            needs_rules = needs_rules or where
            count = sum(1 for i in domain.intents.values() if i.triggers)
            problems.warning(
                f"MappingPolicy (Rasa 1.x) runs as RulePolicy: {count} rule(s) made from the "
                "domain's intent `triggers:`",
                where,
            )
        elif name == "FormPolicy":
            needs_rules = needs_rules or where
            problems.warning("FormPolicy (Rasa 1.x) runs as RulePolicy's form handling", where)
        elif name in FALLBACK_POLICIES:
            if fallback is None:
                fallback = (entry, where)
                needs_rules = needs_rules or where
            else:
                problems.warning(
                    f"{name}: only one fallback policy is used (the first); ignored", where
                )
        else:
            policies.append(entry)
            locations.append(where)
    if not triggers_used:
        for intent in domain.intents.values():
            if intent.triggers:
                problems.warning(
                    f"intent '{intent.name}': `triggers: {intent.triggers}` is ignored (Rasa "
                    "1.x's MappingPolicy is not in config.yml); write a rule "
                    f"`- intent: {intent.name}` / `- action: {intent.triggers}` instead",
                    intent.location,
                )
    if needs_rules is None:
        if triggers_used:
            rules.extend(_trigger_rules(domain, None))
        return _not_written(rules, rules_written)
    if not any(_short(p) == "RulePolicy" for p in policies):
        policies.append({"name": "RulePolicy"})
        locations.append(needs_rules)
    config.policies, config.policy_locations = policies, locations
    if triggers_used:
        rules.extend(_trigger_rules(domain, needs_rules))
    if fallback is not None:
        rules.extend(_migrate_fallback(config, *fallback, problems))
    return _not_written(rules, rules_written)


def _first_intent(rule: Story) -> str | None:
    step = next((s for s in rule.steps if isinstance(s, UserStep)), None)
    return step.intent if step is not None else None


def _not_written(rules: list[Story], rules_written: list[Story]) -> list[Story]:
    """The migrated rules whose intent no rule of the bot handles already."""
    handled = {_first_intent(r) for r in rules_written if not r.condition}
    return [r for r in rules if _first_intent(r) not in handled]


def _short(entry: Mapping[str, Any]) -> str:
    return str(entry.get("name", "")).rsplit(".", 1)[-1]


def _trigger_rules(domain: Domain, where: Location | None) -> list[Story]:
    """Rasa's MappingPolicy migration: ``intent -> triggered action`` per intent."""
    rules = []
    for intent in domain.intents.values():
        if intent.triggers:
            loc = intent.location or where
            rules.append(
                Story(
                    f"Rule to map `{intent.name}` intent to `{intent.triggers}` "
                    "(automatic conversion)",
                    [
                        UserStep(intent=intent.name, location=loc),
                        ActionStep(intent.triggers, location=loc),
                    ],
                    kind="rule",
                    location=loc,
                )
            )
    return rules


def _migrate_fallback(
    config: BotConfig, entry: dict[str, Any], where: Location | None, problems: Problems
) -> list[Story]:
    """Rasa's ``migrate_fallback_policies`` (plus the two-stage loop's own settings)."""
    name = _short(entry)
    rule_policy = next(p for p in config.policies if _short(p) == "RulePolicy")
    core_action = (
        entry.get("fallback_core_action_name")
        or entry.get("fallback_action_name")
        or ACTION_DEFAULT_FALLBACK
    )
    rule_policy.setdefault(
        "core_fallback_threshold", entry.get("core_threshold", DEFAULT_CORE_THRESHOLD)
    )
    rule_policy.setdefault("core_fallback_action_name", core_action)
    classifier = next((c for c in config.pipeline if _short(c) == "FallbackClassifier"), None)
    if classifier is None:
        classifier = {"name": "FallbackClassifier"}
        config.pipeline.append(classifier)
        config.pipeline_locations.append(where or Location("config.yml"))
    classifier.setdefault("threshold", entry.get("nlu_threshold", DEFAULT_NLU_THRESHOLD))
    classifier.setdefault(
        "ambiguity_threshold", entry.get("ambiguity_threshold", DEFAULT_AMBIGUITY_THRESHOLD)
    )
    if name == "TwoStageFallbackPolicy":
        action = ACTION_TWO_STAGE_FALLBACK
        config.two_stage_fallback = TwoStageFallbackSettings(
            give_up_action=str(entry.get("fallback_nlu_action_name") or ACTION_DEFAULT_FALLBACK),
            deny_intent=str(entry.get("deny_suggestion_intent_name") or OUT_OF_SCOPE_INTENT),
        )
    else:
        action = str(entry.get("fallback_action_name") or ACTION_DEFAULT_FALLBACK)
    steps: list[Any] = [
        UserStep(intent=NLU_FALLBACK_INTENT, location=where),
        ActionStep(action, location=where),
    ]
    if action == ACTION_TWO_STAGE_FALLBACK:
        steps.append(LoopStep(ACTION_TWO_STAGE_FALLBACK, location=where))
    problems.warning(
        f"{name} (Rasa 1.x/2.x) runs as the FallbackClassifier (threshold "
        f"{classifier['threshold']}, ambiguity_threshold {classifier['ambiguity_threshold']}), "
        f"RulePolicy's core fallback ({rule_policy['core_fallback_threshold']}, "
        f"{rule_policy['core_fallback_action_name']}) and the rule nlu_fallback -> {action}",
        where,
    )
    return [
        Story(
            f"Rule to handle messages with low NLU confidence (automated conversion from '{name}')",
            steps,
            kind="rule",
            location=where,
        )
    ]


# --------------------------------------------------------------------------- helpers


def _load_mapping(path: Path, display: str, expected: str, problems: Problems) -> YamlMap | None:
    try:
        data = load_yaml(path, display)
    except YamlError as exc:
        problems.error(exc.message, exc.location)
        return None
    if data is None:
        return None
    if not isinstance(data, YamlMap):
        problems.error(
            f"expected a mapping ({expected}), found {describe(data)}",
            loc_of(data, Location(display, 1)),
        )
        return None
    return data


def _is_int(value: Any) -> bool:
    if isinstance(value, int):
        return True
    return isinstance(value, str) and value.isdigit()
