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

from core.data.domain_reader import describe, display_path, plain
from core.data.problems import Location, Problems
from core.data.yaml_io import YamlError, YamlList, YamlMap, load_yaml, loc_of
from core.nlu.text import DEFAULT_MAX_CHARS

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
        problems.warning(
            f"Rasa 1.x {section} template '{value}' is not supported: chinwag's default "
            f"{section} is used",
            loc,
        )
        return [], []
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
