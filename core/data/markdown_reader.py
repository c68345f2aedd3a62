"""Rasa 1.x Markdown training data: stories (``## story``) and NLU (``## intent:greet``).

Follows Rasa 2.x's ``markdown_story_reader.py`` and ``formats/markdown.py`` (the last Rasa
versions that read Markdown) and produces the same model as the YAML reader. Rasa 2.0's short-
lived Markdown rules (``>> rule``, with ``- ...`` marking where a rule may start or go on) are
read too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from chinwag.core.data.nlu_text import (
    add_synonym,
    add_synonyms_from_entities,
    entities_from_mapping,
    parse_annotated,
)
from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.training import (
    RULE_SNIPPET_ACTION,
    ActionStep,
    CheckpointStep,
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
from chinwag.core.data.yaml_io import json_problem
from chinwag.core.data.yaml_reader import find_data_file, read_lookup_file

NLU_SECTIONS = ("intent", "synonym", "regex", "lookup")
_NLU_MARKERS = tuple(f"## {section}:" for section in NLU_SECTIONS)
_HEADER = re.compile(r"^##\s*(.+?):(.+)")
_ITEM = re.compile(r"^\s*[-*+]\s*(.*)")
_COMMENT = re.compile(r"<!--[\s\S]*?--!*>")
# lines Rasa wrote for form actions (`- form: utter_ask_x`), skipped on reading
_FORM_LINE = re.compile(r"^[*\-]\s+form: ")
# `intent{"entity": "value"}` (Rasa's RegexInterpreter, without the leading slash)
_INTENT = re.compile(r"^/?(?P<intent>[^{@]+)(?P<confidence>@[0-9.]+)?(?P<entities>\{.+\})?$")
# end-to-end `intent{...}: user text` (Rasa's parse_e2e_message)
_E2E = re.compile(r"^\s*(?:form: \s*)*(?P<intent>[^{}:\s]+?)(?P<entities>\{.*\})?:\s*(?P<text>.*)$")
# Rasa event types that may appear as `- name{...}` but have no place in our step model
_OTHER_EVENTS = {
    "restart",
    "reset_slots",
    "rewind",
    "undo",
    "pause",
    "resume",
    "followup",
    "reminder",
    "cancel_reminder",
    "export",
    "action_execution_rejected",
    "loop_interrupted",
    "session_started",
    "user_featurization",
}


def is_markdown_nlu(text: str) -> bool:
    """Rasa's test: the text has an ``## intent:``/``synonym:``/``regex:``/``lookup:`` header."""
    return any(marker in text for marker in _NLU_MARKERS)


def is_markdown_stories(text: str) -> bool:
    """Rasa's test: not NLU, and some line holds ``## name`` or ``>> name``."""
    if is_markdown_nlu(text):
        return False
    return any(re.match(r".*(##|>>).+", line) for line in text.splitlines())


def _blank_comments(text: str) -> str:
    """Remove ``<!-- -->`` comments but keep their line breaks, so line numbers hold."""
    return _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)


# ---------------------------------------------------------------------------------- stories


def read_markdown_stories(
    text: str, file: str, problems: Problems, *, test: bool = False
) -> StoryData:
    """Read Markdown stories (and Rasa 2.0 ``>>`` rules). Stories get kind ``test`` if ``test``."""
    reader = _StoryReader(file, problems, test)
    for number, line in enumerate(_blank_comments(text).splitlines(), start=1):
        reader.line(line.strip(), Location(file, number))
    reader.finish()
    return reader.data


class _StoryReader:
    def __init__(self, file: str, problems: Problems, test: bool) -> None:
        self.file = file
        self.problems = problems
        self.test = test
        self.data = StoryData()
        self.current: Story | None = None

    def line(self, line: str, loc: Location) -> None:
        if not line:
            return
        if line.startswith(">>"):
            self._start(Story(name=line[2:].strip(), kind="rule", location=loc))
        elif line.startswith("#"):
            kind: StoryKind = "test" if self.test else "story"
            self._start(Story(name=line.lstrip("#").strip(), kind=kind, location=loc))
        elif line.startswith(">"):
            parsed = self._event(line[1:].strip(), loc)
            if parsed is not None and self._in_story(line, loc):
                name, params = parsed
                self._add(CheckpointStep(name=name, conditions=params, location=loc))
        elif _FORM_LINE.match(line):
            return  # written by Rasa for a form's own turns; Rasa skips it too
        elif line.startswith("-"):
            self._event_step(line[1:].strip(), loc)
        elif line.startswith("*"):
            self._user_step(line[1:].strip(), loc)
        else:
            self.problems.warning(
                "line is not a story line ('## story', '* intent', '- action', '> checkpoint') "
                "and is skipped",
                loc,
            )

    def _start(self, story: Story) -> None:
        self.finish()
        self.current = story

    def finish(self) -> None:
        story, self.current = self.current, None
        if story is None:
            return
        if not story.steps:
            self.problems.warning(
                f"story '{story.name}' has no steps and is skipped", story.location
            )
            return
        if story.kind == "rule":
            self._finish_rule(story)
            self.data.rules.append(story)
        else:
            self.data.stories.append(story)

    def _finish_rule(self, rule: Story) -> None:
        """``- ...`` first: conditions before it, may start anywhere; ``- ...`` last: no wait."""
        steps = rule.steps

        def is_snippet(step: Step) -> bool:
            return isinstance(step, ActionStep) and step.name == RULE_SNIPPET_ACTION

        first = next((i for i, s in enumerate(steps) if is_snippet(s)), None)
        rule.conversation_start = first is None
        if first is not None:
            for step in steps[:first]:
                if isinstance(step, SlotStep | LoopStep):
                    rule.condition.append(step)
                else:
                    self.problems.error(
                        "only slot and form events may come before '- ...' in a rule",
                        step.location,
                    )
            steps = steps[first + 1 :]
        if steps and is_snippet(steps[-1]):
            rule.wait_for_user_input = False
            steps = steps[:-1]
        rule.steps = [s for s in steps if not is_snippet(s)]
        users = [s for s in rule.steps if isinstance(s, UserStep | OrStep)]
        if len(users) > 1:
            self.problems.error(
                f"rule '{rule.name}' has {len(users)} user turns; a rule may contain at most one",
                users[1].location,
            )

    def _in_story(self, line: str, loc: Location) -> bool:
        if self.current is None:
            self.problems.error(
                f"'{line}' comes before any story header; expected '## story name' first", loc
            )
            return False
        return True

    def _add(self, step: Step) -> None:
        if self.current is not None:
            self.current.steps.append(step)

    def _event(self, text: str, loc: Location) -> tuple[str, dict[str, Any]] | None:
        """``name{"json": "params"}`` -> (name, params)."""
        match = re.match(r"^([^{]+)(\{.+)?$", text)
        if match is None:
            self.problems.error(f"cannot read '{text}': expected a name, optionally {{json}}", loc)
            return None
        name, raw = match.group(1).strip(), match.group(2)
        if not raw:
            return name, {}
        try:
            params = json.loads(raw)
        except (json.JSONDecodeError, RecursionError) as exc:
            self.problems.error(
                f"parameters of '{name}' are not valid JSON ({json_problem(exc)})", loc
            )
            return None
        if not isinstance(params, dict):
            self.problems.error(f"parameters of '{name}' must be a JSON object", loc)
            return None
        return name, params

    def _event_step(self, text: str, loc: Location) -> None:
        parsed = self._event(text, loc)
        if parsed is None or not self._in_story(f"- {text}", loc):
            return
        name, params = parsed
        if name == "slot":
            if not params:
                self.problems.error('\'slot\' needs its slots: - slot{"name": "value"}', loc)
                return
            self._add(SlotStep(slots=params, location=loc))
        elif name in ("form", "active_loop"):
            loop = params.get("name", 0)
            if loop is not None and not isinstance(loop, str):
                self.problems.error(
                    f'\'{name}\' needs a loop name: - {name}{{"name": "my_form"}} (or null)', loc
                )
                return
            self._add(LoopStep(name=loop, location=loc))
        elif name in _OTHER_EVENTS:
            self.problems.warning(f"event '{name}' has no effect in a story and is skipped", loc)
        elif params:
            self.problems.error(
                f"action '{name}' cannot take parameters (only slot, form and active_loop do)",
                loc,
            )
        else:
            self._add(ActionStep(name=name, location=loc))

    def _user_step(self, text: str, loc: Location) -> None:
        if not self._in_story(f"* {text}", loc):
            return
        alternatives = []
        for message in (part.strip() for part in text.split(" OR ")):
            step = self._message(message, loc)
            if step is not None:
                alternatives.append(step)
        if len(alternatives) == 1:
            self._add(alternatives[0])
        elif alternatives:
            self._add(OrStep(alternatives=list(alternatives), location=loc))

    def _message(self, message: str, loc: Location) -> UserStep | None:
        e2e = _E2E.match(message)
        if e2e is not None:
            step = UserStep(intent=e2e.group("intent"), location=loc)
            step.text, step.entities = parse_annotated(e2e.group("text"), loc, self.problems)
            return step
        match = _INTENT.match(message)
        if match is not None and not re.search(r"\s", match.group("intent").strip()):
            step = UserStep(intent=match.group("intent").strip(), location=loc)
            if match.group("entities"):
                try:
                    params = json.loads(match.group("entities"))
                except (json.JSONDecodeError, RecursionError) as exc:
                    self.problems.error(
                        f"entities of '{message}' are not valid JSON ({json_problem(exc)})", loc
                    )
                    return None
                if not isinstance(params, dict):
                    self.problems.error(f"entities of '{message}' must be a JSON object", loc)
                    return None
                step.entities = entities_from_mapping(params)
            return step
        if self.test:
            step = UserStep(location=loc)
            step.text, step.entities = parse_annotated(message, loc, self.problems)
            return step
        self.problems.error(
            f"'{message}' is not an intent; expected '* intent', '* intent{{\"entity\": "
            "\"value\"}' or '* intent: user text'",
            loc,
        )
        return None


# ---------------------------------------------------------------------------------- NLU


def read_markdown_nlu(
    text: str, file: str, problems: Problems, *, base_dir: Path | None = None
) -> NLUData:
    """Read Markdown NLU: ``## intent:``, ``## synonym:``, ``## regex:``, ``## lookup:``.

    A lookup section may name a file instead of listing items; it is looked up from
    ``base_dir`` (default: the file's folder) and then from its parent folders.
    """
    nlu = NLUData()
    folder = base_dir if base_dir is not None else Path(file).parent
    section: str | None = None
    title = ""
    for number, raw in enumerate(_blank_comments(text).splitlines(), start=1):
        line = raw.strip()
        loc = Location(file, number)
        if not line:
            continue
        header = _HEADER.match(line)
        if header is not None:
            section, title = header.group(1).strip(), header.group(2).strip()
            if section not in NLU_SECTIONS:
                problems.error(
                    f"unknown section '## {section}:'; expected one of "
                    + ", ".join(f"'## {s}:'" for s in NLU_SECTIONS),
                    loc,
                )
                section = None
            continue
        item = _ITEM.match(line)
        if section is None:
            continue
        if item is None:
            if section == "lookup":
                _lookup_file(nlu, title, line, folder, loc, problems)
            continue
        value = item.group(1).strip()
        if section == "intent":
            plain, entities = parse_annotated(value, loc, problems)
            add_synonyms_from_entities(plain, entities, nlu.synonyms, loc, problems)
            nlu.examples.append(Message(plain, title, entities, loc))
        elif section == "synonym":
            add_synonym(value, title, nlu.synonyms, loc, problems)
            nlu.locations.setdefault(value, loc)
        elif section == "regex":
            nlu.regexes.append(Regex(title, value, loc))
        else:
            nlu.lookups.setdefault(title, []).append(value)
            nlu.locations.setdefault(title, loc)
    return nlu


def _lookup_file(
    nlu: NLUData, name: str, reference: str, folder: Path, loc: Location, problems: Problems
) -> None:
    path = find_data_file(reference, folder)
    if path is not None:
        nlu.lookups.setdefault(name, []).extend(read_lookup_file(path))
        nlu.locations.setdefault(name, loc)
        return
    problems.error(
        f"lookup '{name}': file '{reference}' not found (looked in {folder} and its parent "
        "folders)",
        loc,
    )
