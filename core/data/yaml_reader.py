"""Rasa 3.x (and 2.x) YAML training data: ``nlu``, ``responses``, ``stories`` and ``rules``.

Follows Rasa's ``rasa_yaml.py`` (NLU) and ``yaml_story_reader.py`` (stories, rules, test
stories). Where Rasa silently skips malformed input (a step that is not a mapping, an unknown
step key, a rule with two user turns) we report a located error instead; where Rasa warns and
goes on (a leading ``/`` on an intent, a full retrieval intent in a training story) we warn.
Rasa 2.x files (``version: "2.0"``) read the same way; 2.x-only shapes are upgraded with a
warning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chinwag.core.data.nlu_text import (
    add_synonym,
    add_synonyms_from_entities,
    parse_annotated,
    parse_intent_payload,
)
from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.training import (
    FILLED,
    ActionStep,
    CheckpointStep,
    Entity,
    LoopStep,
    Message,
    NLUData,
    OrStep,
    Regex,
    SlotStep,
    Step,
    Story,
    StoryData,
    StoryKind,
    UserStep,
)
from chinwag.core.data.yaml_io import YamlList, YamlMap, loc_of

TRAINING_KEYS = ("nlu", "responses", "stories", "rules")
# Rasa's TEST_STORIES_FILE_PREFIX
TEST_FILE_PREFIX = "test_"

_STEP_KEYS = {
    "user": {"intent", "user", "entities", "metadata"},
    "or": {"or", "metadata"},
    "action": {"action", "metadata"},
    "bot": {"bot", "metadata"},
    "checkpoint": {"checkpoint", "slot_was_set", "metadata"},
    "slot_was_set": {"slot_was_set", "metadata"},
    "active_loop": {"active_loop", "metadata"},
    "form": {"form", "metadata"},
    "metadata": {"metadata"},
}
_STORY_KEYS = {"story", "steps", "metadata"}
_RULE_KEYS = {"rule", "steps", "metadata", "condition", "conversation_start", "wait_for_user_input"}


def detect_yaml_content(data: Any) -> set[str]:
    """Which training sections a loaded YAML file holds (``nlu``, ``stories``, ...)."""
    if not isinstance(data, dict):
        return set()
    return {key for key in TRAINING_KEYS if key in data}


def is_test_stories_file(path: Path | str, data: Any = None) -> bool:
    """Rasa's rule: a stories/rules file whose name starts with ``test_``.

    ``rasa test`` additionally reads every story file under the folder it is given
    (``tests/`` by default) as test stories, whatever its name; that choice is the caller's.
    """
    if not Path(path).name.startswith(TEST_FILE_PREFIX):
        return False
    return data is None or bool(detect_yaml_content(data) & {"stories", "rules"})


def read_training_yaml(
    data: YamlMap, problems: Problems, *, test: bool = False, base_dir: Path | None = None
) -> tuple[NLUData, StoryData]:
    """Read one loaded training-data file. Stories get kind ``test`` when ``test`` is set.

    ``base_dir`` is where lookup-table files are searched first (default: the file's folder).
    """
    nlu = NLUData()
    stories = StoryData()
    if not isinstance(data, dict):
        problems.error(
            "expected a mapping with 'nlu', 'stories', 'rules' or 'responses' at the top",
            loc_of(data, Location(getattr(data, "file", "<training data>"))),
        )
        return nlu, stories
    file = data.file
    _check_version(data, problems)
    for key in data:
        if key not in (*TRAINING_KEYS, "version"):
            problems.warning(
                f"unknown top-level key '{key}' in a training data file is ignored "
                f"(expected {', '.join(TRAINING_KEYS)})",
                data.loc(key),
            )
    folder = base_dir if base_dir is not None else Path(file).parent
    if data.get("nlu") is not None:
        _NLUReader(nlu, problems, folder).read(data["nlu"], data.loc("nlu"))
    if data.get("responses") is not None:
        _read_responses(data["responses"], data.loc("responses"), nlu, problems)
    for key, kind in (("stories", "story"), ("rules", "rule")):
        items = data.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            problems.error(f"'{key}' must be a list of {kind} items", data.loc(key))
            continue
        story_kind: StoryKind = "rule" if kind == "rule" else "test" if test else "story"
        reader = _StoryReader(problems, story_kind, test=test)
        target = stories.rules if kind == "rule" else stories.stories
        for index, item in enumerate(items):
            item_loc = items.loc(index) if isinstance(items, YamlList) else None
            story = reader.read_item(item, item_loc)
            if story is not None:
                target.append(story)
    return nlu, stories


def _check_version(data: YamlMap, problems: Problems) -> None:
    if "version" not in data:
        return
    version = data["version"]
    if isinstance(version, int | float) and not isinstance(version, bool):
        problems.warning(
            f"'version' should be a string (version: \"{version}\"), as Rasa requires",
            data.loc("version"),
        )
    elif not isinstance(version, str):
        problems.error("'version' must be a string such as \"3.1\"", data.loc("version"))


# ---------------------------------------------------------------------------------- NLU


class _NLUReader:
    def __init__(self, nlu: NLUData, problems: Problems, folder: Path) -> None:
        self.nlu = nlu
        self.problems = problems
        self.folder = folder

    def read(self, items: Any, loc: Location) -> None:
        if not isinstance(items, list):
            self.problems.error("'nlu' must be a list of intent/synonym/regex/lookup items", loc)
            return
        for index, item in enumerate(items):
            item_loc = items.loc(index) if isinstance(items, YamlList) else loc
            if not isinstance(item, YamlMap):
                self.problems.error(
                    "each 'nlu' item must be a mapping with 'intent', 'synonym', 'regex' or "
                    "'lookup'",
                    item_loc,
                )
                continue
            for kind in ("intent", "synonym", "regex", "lookup"):
                if kind in item:
                    self._read_item(kind, item)
                    break
            else:
                self.problems.error(
                    "'nlu' item has none of the keys 'intent', 'synonym', 'regex', 'lookup'",
                    item_loc,
                )

    def _read_item(self, kind: str, item: YamlMap) -> None:
        name = item[kind]
        allowed = {kind, "examples", "metadata"}
        for key in item:
            if key not in allowed:
                self.problems.error(
                    f"unknown key '{key}' in '{kind}' item (expected {', '.join(sorted(allowed))})",
                    item.loc(key),
                )
        if not isinstance(name, str) or not name.strip():
            self.problems.error(f"'{kind}' needs a name", item.loc(kind))
            return
        name = name.strip()
        examples = item.get("examples")
        if kind == "intent":
            self._read_intent(name, item)
            return
        if kind == "lookup" and isinstance(examples, str) and _is_file_reference(examples):
            self._read_lookup_file(name, examples.strip(), item.loc("examples"))
            return
        if not isinstance(examples, str) or not examples.strip():
            self.problems.error(
                f"{kind} '{name}' needs 'examples' written as a block of '- ' lines",
                item.loc("examples" if "examples" in item else kind),
            )
            return
        first_line = (item.key_lines.get("examples") or item.line or 0) + 1
        for text, loc in self._block_lines(name, examples, item.file, first_line):
            if kind == "synonym":
                add_synonym(text, name, self.nlu.synonyms, loc, self.problems)
                self.nlu.locations.setdefault(text, loc)
            elif kind == "regex":
                self.nlu.regexes.append(Regex(name, text, loc))
            else:
                self.nlu.lookups.setdefault(name, []).append(text)
                self.nlu.locations.setdefault(name, loc)

    def _block_lines(
        self, name: str, block: str, file: str, first_line: int
    ) -> list[tuple[str, Location]]:
        """Rasa's multiline examples: every line starts with ``-``; others are skipped."""
        out = []
        for offset, line in enumerate(block.splitlines()):
            loc = Location(file, first_line + offset)
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("-"):
                self.problems.warning(
                    f"'{name}': example line does not start with '- ' and is skipped: {stripped}",
                    loc,
                )
                continue
            out.append((stripped[1:].strip(), loc))
        return out

    def _read_intent(self, name: str, item: YamlMap) -> None:
        intent_meta = item.get("metadata")
        examples = item.get("examples")
        pairs: list[tuple[str, Location, Any]] = []
        if isinstance(examples, str):
            first_line = (item.key_lines.get("examples") or item.line or 0) + 1
            pairs = [
                (text, loc, None)
                for text, loc in self._block_lines(name, examples, item.file, first_line)
            ]
        elif isinstance(examples, list):
            for index, example in enumerate(examples):
                loc = examples.loc(index) if isinstance(examples, YamlList) else item.loc()
                if not isinstance(example, YamlMap) or not isinstance(example.get("text"), str):
                    self.problems.error(
                        f"intent '{name}': each example in a list must be a mapping with "
                        "'text' (and optional 'metadata')",
                        loc,
                    )
                    continue
                for key in example:
                    if key not in ("text", "metadata"):
                        self.problems.error(
                            f"intent '{name}': unknown key '{key}' in an example "
                            "(expected text, metadata)",
                            example.loc(key),
                        )
                pairs.append((example["text"].strip(), loc, example.get("metadata")))
        else:
            self.problems.error(
                f"intent '{name}' needs 'examples': a block of '- ' lines or a list of "
                "{text, metadata}",
                item.loc("examples" if "examples" in item else "intent"),
            )
            return
        if not pairs:
            self.problems.warning(f"intent '{name}' has no examples", item.loc("intent"))
        for raw, loc, example_meta in pairs:
            text, entities = parse_annotated(raw, loc, self.problems)
            add_synonyms_from_entities(text, entities, self.nlu.synonyms, loc, self.problems)
            metadata: dict[str, Any] = {}
            if intent_meta is not None:
                metadata["intent"] = intent_meta
            if example_meta is not None:
                metadata["example"] = example_meta
            self.nlu.examples.append(Message(text, name, entities, loc, metadata))

    def _read_lookup_file(self, name: str, reference: str, loc: Location) -> None:
        path = find_data_file(reference, self.folder)
        if path is None:
            self.problems.error(
                f"lookup '{name}': file '{reference}' not found (looked in {self.folder} "
                "and its parent folders)",
                loc,
            )
            return
        self.nlu.lookups.setdefault(name, []).extend(read_lookup_file(path))
        self.nlu.locations.setdefault(name, loc)


def _is_file_reference(examples: str) -> bool:
    lines = [line.strip() for line in examples.splitlines() if line.strip()]
    return len(lines) == 1 and not lines[0].startswith("-")


def find_data_file(reference: str, folder: Path) -> Path | None:
    """``reference`` relative to ``folder``, else to one of its parents (the bot's root).

    Rasa read lookup files relative to the working directory (the bot's root); searching
    upwards from the data file's folder finds those paths as well as file-relative ones.
    """
    candidate = Path(reference)
    if candidate.is_absolute():
        return candidate if candidate.is_file() else None
    for base in (folder, *folder.resolve().parents):
        if (base / candidate).is_file():
            return base / candidate
    return None


def read_lookup_file(path: Path) -> list[str]:
    """One element per non-empty line, as Rasa reads lookup-table files."""
    text = path.read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _read_responses(raw: Any, loc: Location, nlu: NLUData, problems: Problems) -> None:
    if not isinstance(raw, YamlMap):
        problems.error("'responses' must map response names to lists of variations", loc)
        return
    for name, variations in raw.items():
        if not isinstance(variations, list) or not all(isinstance(v, dict) for v in variations):
            problems.error(
                f"response '{name}' must be a list of variations (mappings with 'text', ...)",
                raw.loc(name),
            )
            continue
        nlu.responses[str(name)] = [dict(v) for v in variations]
        nlu.locations[str(name)] = raw.loc(name)


# ------------------------------------------------------------------------ stories and rules


class _StoryReader:
    def __init__(self, problems: Problems, kind: StoryKind, *, test: bool) -> None:
        self.problems = problems
        self.kind = kind
        self.test = test
        self.title = "rule" if kind == "rule" else "story"
        self.plural = "rules" if kind == "rule" else "stories"

    def read_item(self, item: Any, loc: Location | None) -> Story | None:
        if not isinstance(item, YamlMap):
            self.problems.error(
                f"each item under '{self.plural}' must be a mapping starting with '{self.title}:'",
                loc,
            )
            return None
        loc = item.loc()
        if self.title not in item:
            other = "rule" if self.title == "story" else "story"
            plural = "rules" if other == "rule" else "stories"
            hint = f" ('{other}' items belong under '{plural}')" if other in item else ""
            self.problems.warning(
                f"item under '{self.plural}' has no '{self.title}' key and is skipped{hint}", loc
            )
            return None
        allowed = _RULE_KEYS if self.title == "rule" else _STORY_KEYS
        for key in item:
            if key not in allowed:
                self.problems.error(
                    f"unknown key '{key}' in {self.title} (expected {', '.join(sorted(allowed))})",
                    item.loc(key),
                )
        name = item[self.title]
        if not isinstance(name, str) or not name.strip():
            self.problems.warning(f"the {self.title} has an empty name", item.loc(self.title))
            name = "" if name is None else str(name)
        steps = item.get("steps")
        if not steps:
            self.problems.warning(f"{self.title} '{name}' has no steps and is skipped", loc)
            return None
        if not isinstance(steps, list):
            self.problems.error(
                f"'steps' of {self.title} '{name}' must be a list", item.loc("steps")
            )
            return None
        story = Story(name=name, kind=self.kind, location=loc)
        metadata = item.get("metadata")
        if metadata is not None:
            if isinstance(metadata, dict):
                story.metadata = dict(metadata)
            else:
                self.problems.error("'metadata' must be a mapping", item.loc("metadata"))
        for index, raw in enumerate(steps):
            step_loc = steps.loc(index) if isinstance(steps, YamlList) else loc
            step = self.read_step(raw, step_loc)
            if step is not None:
                story.steps.append(step)
        if self.title == "rule":
            self._rule_fields(story, item)
        return story

    def _rule_fields(self, rule: Story, item: YamlMap) -> None:
        for key in ("conversation_start", "wait_for_user_input"):
            if key in item and not isinstance(item[key], bool):
                self.problems.error(f"'{key}' must be true or false", item.loc(key))
        rule.conversation_start = item.get("conversation_start") is True
        rule.wait_for_user_input = item.get("wait_for_user_input") is not False
        conditions = item.get("condition")
        if conditions is not None:
            if not isinstance(conditions, list):
                self.problems.error(
                    "'condition' must be a list of 'active_loop' / 'slot_was_set' steps",
                    item.loc("condition"),
                )
            else:
                for index, raw in enumerate(conditions):
                    cond_loc = conditions.loc(index) if isinstance(conditions, YamlList) else None
                    step = self.read_step(raw, cond_loc)
                    if isinstance(step, SlotStep | LoopStep):
                        rule.condition.append(step)
                    elif step is not None:
                        self.problems.error(
                            "a rule condition can only be 'active_loop' or 'slot_was_set'",
                            cond_loc,
                        )
        user_turns = [s for s in rule.steps if _is_user_turn(s)]
        if len(user_turns) > 1:
            self.problems.error(
                f"rule '{rule.name}' has {len(user_turns)} user turns; a rule may contain at "
                "most one (write it as a story instead)",
                user_turns[1].location or rule.location,
            )

    def read_step(self, raw: Any, loc: Location | None) -> Step | None:
        if not isinstance(raw, YamlMap):
            what = f"'{raw}'" if isinstance(raw, str) else type(raw).__name__
            self.problems.error(
                f"a {self.title} step must be a mapping such as '- intent: greet' or "
                f"'- action: utter_greet', not {what}",
                loc,
            )
            return None
        loc = raw.loc()
        kind = _step_kind(raw)
        if kind is None:
            self.problems.error(
                f"unknown {self.title} step with key(s) {', '.join(map(str, raw))}; expected "
                "intent, user, action, bot, slot_was_set, active_loop, checkpoint, or, metadata",
                loc,
            )
            return None
        label = "intent" if "intent" in raw else kind
        for key in raw:
            if key not in _STEP_KEYS[kind]:
                self.problems.error(
                    f"unexpected key '{key}' in this '{label}' step "
                    f"(allowed: {', '.join(sorted(_STEP_KEYS[kind]))})",
                    raw.loc(key),
                )
        if "metadata" in raw and not isinstance(raw["metadata"], dict):
            self.problems.error("step 'metadata' must be a mapping", raw.loc("metadata"))
        if kind == "user":
            return self._user_step(raw, loc)
        if kind == "or":
            return self._or_step(raw, loc)
        if kind == "action":
            name = raw["action"]
            if not isinstance(name, str) or not name.strip():
                self.problems.error("'action' needs an action name", loc)
                return None
            return ActionStep(name=name.strip(), location=loc)
        if kind == "bot":
            text = raw["bot"]
            if not isinstance(text, str):
                self.problems.error("'bot' needs the bot's text", loc)
                return None
            return ActionStep(text=text.strip(), location=loc)
        if kind == "checkpoint":
            return self._checkpoint_step(raw, loc)
        if kind == "slot_was_set":
            slots = self._slots(raw, loc)
            return SlotStep(slots, loc) if slots is not None else None
        if kind in ("active_loop", "form"):
            return self._loop_step(raw, kind, loc)
        return None  # a `- metadata:` step carries nothing Rasa uses

    def _user_step(self, raw: YamlMap, loc: Location) -> UserStep | None:
        intent = raw.get("intent")
        text = raw.get("user")
        if "intent" in raw and (not isinstance(intent, str) or not intent.strip()):
            self.problems.error("'intent' needs an intent name", raw.loc("intent"))
            return None
        if "user" in raw and not isinstance(text, str):
            self.problems.error("'user' needs the user's text", raw.loc("user"))
            return None
        step = UserStep(location=loc)
        if isinstance(intent, str):
            step.intent = self._intent_name(intent.strip(), raw.loc("intent"))
        if isinstance(text, str):
            step.text, step.entities = parse_annotated(text.strip(), raw.loc("user"), self.problems)
            if step.text.startswith("/"):
                payload = parse_intent_payload(step.text, raw.loc("user"), self.problems)
                step.entities = payload or []
            if "entities" in raw:
                # Rasa 2.x test stories write both; the annotation in the text wins
                listed = self._entities(raw["entities"], raw.loc("entities"))
                if not _same_entities(listed, step.entities):
                    self.problems.warning(
                        "'entities' disagrees with the entities annotated in the 'user' text: "
                        "the annotations are used, as Rasa does",
                        raw.loc("entities"),
                    )
        elif "entities" in raw:
            entities = self._entities(raw["entities"], raw.loc("entities"))
            step.entities = entities
        return step

    def _intent_name(self, intent: str, loc: Location) -> str:
        if intent.startswith("/"):
            # Rasa only warns and strips the slash; a slash is a button payload's syntax, so in
            # a story it is almost always a copy-paste slip: we stop it before training.
            self.problems.error(
                f"intent '{intent}' starts with '/': write the intent name without it "
                f"('{intent[1:]}'); the slash belongs to button payloads only",
                loc,
            )
            intent = intent[1:]
        if "/" in intent and self.kind != "test":
            self.problems.warning(
                f"'{intent}' is a full retrieval intent; stories should use the base intent "
                f"'{intent.split('/', 1)[0]}' (Rasa trains on the base intent only)",
                loc,
            )
        return intent

    def _entities(self, raw: Any, loc: Location) -> list[Entity]:
        if not isinstance(raw, list):
            self.problems.error(
                "'entities' must be a list of entity names or {entity: value} mappings", loc
            )
            return []
        out: list[Entity] = []
        for index, item in enumerate(raw):
            item_loc = raw.loc(index) if isinstance(raw, YamlList) else loc
            if isinstance(item, str):
                out.append(Entity(entity=item, value=""))
                continue
            if not isinstance(item, dict):
                self.problems.error(
                    "an entity must be a name or a mapping like {city: Berlin}", item_loc
                )
                continue
            names = [k for k in item if k not in ("role", "group")]
            if len(names) != 1:
                self.problems.error(
                    "an entity mapping needs exactly one '<entity>: <value>' pair (plus "
                    "optional role, group)",
                    item_loc,
                )
                continue
            out.append(
                Entity(
                    entity=str(names[0]),
                    value=item[names[0]],
                    role=item.get("role"),
                    group=item.get("group"),
                )
            )
        return out

    def _or_step(self, raw: YamlMap, loc: Location) -> OrStep | None:
        items = raw["or"]
        if not isinstance(items, list) or not items:
            self.problems.error("'or' must be a list of intent or slot_was_set alternatives", loc)
            return None
        step = OrStep(location=loc)
        for index, item in enumerate(items):
            item_loc = items.loc(index) if isinstance(items, YamlList) else loc
            alternative = self.read_step(item, item_loc)
            if alternative is None:
                continue
            if isinstance(alternative, UserStep | SlotStep):
                step.alternatives.append(alternative)
            else:
                self.problems.error(
                    "an 'or' alternative must be an intent (or user) or a slot_was_set step",
                    item_loc,
                )
        return step if step.alternatives else None

    def _slots(self, raw: YamlMap, loc: Location) -> dict[str, Any] | None:
        items = raw.get("slot_was_set")
        if isinstance(items, YamlMap):
            self.problems.warning(
                "'slot_was_set' written as a mapping (Rasa 2.x) is read as a list of "
                "{slot: value}; write it as a list",
                raw.loc("slot_was_set"),
            )
            return dict(items)
        if not isinstance(items, list):
            self.problems.error(
                "'slot_was_set' must be a list of {slot: value} mappings or slot names",
                raw.loc("slot_was_set"),
            )
            return None
        slots: dict[str, Any] = {}
        for index, item in enumerate(items):
            item_loc = items.loc(index) if isinstance(items, YamlList) else loc
            if isinstance(item, str):
                slots[item] = FILLED
            elif isinstance(item, dict):
                slots.update({str(k): v for k, v in item.items()})
            else:
                self.problems.error(
                    "each 'slot_was_set' item must be {slot: value} or a slot name", item_loc
                )
        return slots

    def _checkpoint_step(self, raw: YamlMap, loc: Location) -> CheckpointStep | None:
        name = raw["checkpoint"]
        if not isinstance(name, str) or not name.strip():
            self.problems.error("'checkpoint' needs a name", loc)
            return None
        step = CheckpointStep(name=name.strip(), location=loc)
        if "slot_was_set" in raw:
            items = raw["slot_was_set"]
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                self.problems.error(
                    f"checkpoint '{name}': 'slot_was_set' must be a list of {{slot: value}}",
                    raw.loc("slot_was_set"),
                )
                return None
            for item in items:
                step.conditions.update({str(k): v for k, v in item.items()})
        return step

    def _loop_step(self, raw: YamlMap, kind: str, loc: Location) -> LoopStep | None:
        value = raw[kind]
        if isinstance(value, dict) and set(value) == {"name"}:
            self.problems.warning(
                f"'{kind}: {{name: ...}}' is an old form; write 'active_loop: <name>'", loc
            )
            value = value["name"]
        elif kind == "form":
            self.problems.warning("'form:' steps are Rasa 1.x; write 'active_loop:'", loc)
        if value is not None and not isinstance(value, str):
            self.problems.error(f"'{kind}' must be a form name or null", loc)
            return None
        return LoopStep(name=value, location=loc)


def _same_entities(listed: list[Entity], annotated: list[Entity]) -> bool:
    """An ``entities:`` list says what the annotations say (a bare name matches any value)."""
    if sorted(e.entity for e in listed) != sorted(e.entity for e in annotated):
        return False
    values: dict[str, list[str]] = {}
    for e in annotated:
        values.setdefault(e.entity, []).append(str(e.value))
    return all(e.value == "" or str(e.value) in values[e.entity] for e in listed)


def _step_kind(raw: YamlMap) -> str | None:
    """The kind of a step, by Rasa's precedence (user before or before action ...)."""
    if "intent" in raw or "user" in raw:
        return "user"
    for key in ("or", "action", "bot", "checkpoint", "slot_was_set", "active_loop", "form"):
        if key in raw:
            return key
    if "metadata" in raw:
        return "metadata"
    return None


def _is_user_turn(step: Step) -> bool:
    if isinstance(step, UserStep):
        return True
    return isinstance(step, OrStep) and any(isinstance(a, UserStep) for a in step.alternatives)
