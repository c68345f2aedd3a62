"""``chinwag data validate``: every check a bot can fail before any training happens.

The leniency rule (README, "Leniency"): an error is what Rasa refuses too or what would stop
the bot (undeclared names used in stories, missing responses, contradicting rules, malformed
files); a warning is what Rasa tolerates (unused names, NLU intents missing from the domain,
forms without questions). Two checks sit on both sides, as in Rasa: contradicting stories and
slot mappings from undeclared entities are errors for ``data validate`` (``rasa data validate``
fails on them) and warnings for training (``rasa train`` trains on them): ``for_training``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from chinwag.core.actions.forms import check_plans
from chinwag.core.data.config import ENDPOINT_SECTIONS, read_config, read_endpoints
from chinwag.core.data.domain_reader import read_domain
from chinwag.core.data.loader import (
    DATA_SUFFIXES,
    YAML_SUFFIXES,
    Bot,
    is_bot_dir,
    load_bot,
    read_data_file,
    rel,
)
from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.story_graph import expand
from chinwag.core.data.training import (
    ActionStep,
    LoopStep,
    OrStep,
    SlotStep,
    Story,
    UserStep,
)
from chinwag.core.data.yaml_io import YamlError, YamlMap, load_json_text, load_yaml
from chinwag.core.data.yaml_reader import is_test_stories_file
from chinwag.core.domain import DEFAULT_ACTIONS, DEFAULT_INTENTS, DEFAULT_SLOTS, Domain
from chinwag.core.policies.conflicts import conflicts_by_kind, find_incomplete_rules

# loops Rasa knows without a form declaration
BUILTIN_LOOPS = ("action_two_stage_fallback",)
_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][\w-]*)\}(?!\})")
_QUOTED_NAME = re.compile(r"""["']((?:utter|action)_[\w/]+)["']""")
DOMAIN_KEYS = {
    "intents",
    "entities",
    "slots",
    "responses",
    "templates",
    "actions",
    "forms",
    "session_config",
    "e2e_actions",
}
CONFIG_KEYS = {"pipeline", "policies", "language", "recipe", "assistant_id"}
TRAINING_KEYS = {"nlu", "stories", "rules", "responses"}


def _steps(story: Story) -> Iterator[tuple[UserStep | ActionStep | SlotStep | LoopStep, Story]]:
    for step in [*story.condition, *story.steps]:
        if isinstance(step, OrStep):
            for alt in step.alternatives:
                yield alt, story
        elif isinstance(step, UserStep | ActionStep | SlotStep | LoopStep):
            yield step, story


def _where(story: Story, step_loc: Location | None) -> str:
    kind = {"rule": "rule", "test": "test story"}.get(story.kind, "story")
    return f"{kind} '{story.name}'"


def check_names(bot: Bot, problems: Problems, *, for_training: bool = False) -> None:
    """Names used in stories, rules, tests, NLU and forms against the domain's declarations."""
    domain = bot.domain
    intents = set(domain.intents) | set(DEFAULT_INTENTS)
    used_intents: set[str] = set()
    used_actions: set[str] = set()
    used_entities: set[str] = set()

    for story in [*bot.stories, *bot.rules, *bot.test_stories]:
        for step, _ in _steps(story):
            where = _where(story, step.location)
            if isinstance(step, UserStep):
                if step.intent:
                    base = step.intent.split("/", 1)[0]
                    used_intents.add(base)
                    if base not in intents:
                        problems.error(
                            f"intent '{step.intent}' is used in {where} but not declared in the "
                            "domain's intents",
                            step.location,
                        )
                for ent in step.entities:
                    used_entities.add(ent.entity)
                    if ent.entity not in domain.entities:
                        problems.error(
                            f"entity '{ent.entity}' is used in {where} but not declared in the "
                            "domain's entities",
                            step.location,
                        )
            elif isinstance(step, ActionStep) and step.name:
                used_actions.add(step.name)
                if not domain.is_known_action(step.name):
                    if step.name.startswith("utter_"):
                        problems.error(
                            f"response '{step.name}' is used in {where} but the domain has no "
                            "such response",
                            step.location,
                        )
                    else:
                        problems.error(
                            f"action '{step.name}' is used in {where} but not declared in the "
                            "domain's actions or forms",
                            step.location,
                        )
            elif isinstance(step, SlotStep):
                for slot in step.slots:
                    if slot not in domain.slots and slot not in DEFAULT_SLOTS:
                        problems.error(
                            f"slot '{slot}' is set in {where} but not declared in the domain's "
                            "slots",
                            step.location,
                        )
            elif isinstance(step, LoopStep) and step.name:
                used_actions.add(step.name)
                if (
                    step.name not in domain.forms
                    and step.name not in domain.actions
                    and step.name not in BUILTIN_LOOPS
                ):
                    problems.error(
                        f"active_loop '{step.name}' in {where} is not a form or action of the "
                        "domain",
                        step.location,
                    )

    # NLU against the domain (Rasa trains with these, so they are warnings)
    nlu_intents: dict[str, Location | None] = {}
    for example in bot.nlu.examples:
        nlu_intents.setdefault(example.base_intent, example.location)
        for ent in example.entities:
            used_entities.add(ent.entity)
    for name, loc in nlu_intents.items():
        if name not in intents:
            problems.warning(
                f"intent '{name}' has training examples but is not declared in the domain", loc
            )
    for name, intent in domain.intents.items():
        if name not in nlu_intents and name not in DEFAULT_INTENTS:
            problems.warning(f"intent '{name}' has no training examples", intent.location)
        elif (
            name not in used_intents and name not in DEFAULT_INTENTS and (bot.stories or bot.rules)
        ):
            problems.warning(f"intent '{name}' is not used in any story or rule", intent.location)
    nlu_entities = {e.entity for m in bot.nlu.examples for e in m.entities}
    for example in bot.nlu.examples:
        for ent in example.entities:
            if ent.entity not in domain.entities and ent.entity in nlu_entities:
                problems.warning(
                    f"entity '{ent.entity}' is annotated in training examples but not declared "
                    "in the domain",
                    example.location,
                )
                nlu_entities.discard(ent.entity)

    check_slots_and_forms(domain, problems, used_actions, used_entities, for_training=for_training)

    # responses and actions never used (a name written in the bot's actions code counts)
    used_actions |= names_in_action_code(bot.path)
    for form in domain.forms.values():
        used_actions.update(_form_actions(form.name, form.required_slots))
    for name, loc in domain.response_locations.items():
        if (
            name.startswith("utter_")
            and name not in used_actions
            and name.split("/", 1)[0] not in used_actions
            and not name.startswith("utter_ask_")
            and name not in ("utter_default", "utter_ask_rephrase")
        ):
            problems.warning(f"response '{name}' is not used in any story or rule", loc)
    for name, action in domain.actions.items():
        if (
            name not in used_actions
            and name not in DEFAULT_ACTIONS
            and not _is_form_helper(name, domain)
        ):
            problems.warning(f"action '{name}' is not used in any story or rule", action.location)


def names_in_action_code(bot_dir: Path) -> set[str]:
    """Response and action names quoted in the bot's actions.py / actions/ package."""
    files = [bot_dir / "actions.py", *sorted((bot_dir / "actions").rglob("*.py"))]
    names: set[str] = set()
    for file in files:
        if file.is_file():
            text = file.read_text(encoding="utf-8", errors="replace")
            names.update(_QUOTED_NAME.findall(text))
    return names


def _form_actions(form: str, slots: Iterable[str]) -> set[str]:
    names = {f"validate_{form}"}
    for slot in slots:
        names |= {
            f"utter_ask_{slot}",
            f"utter_ask_{form}_{slot}",
            f"action_ask_{slot}",
            f"action_ask_{form}_{slot}",
        }
    return names


def _is_form_helper(name: str, domain: Domain) -> bool:
    """validate_<form>, action_ask_*, custom mapping actions and validation actions."""
    if name.startswith(("validate_", "action_ask_")) or name == "action_validate_slot_mappings":
        return True
    return any(m.action == name for s in domain.slots.values() for m in s.mappings)


def check_slots_and_forms(
    domain: Domain,
    problems: Problems,
    used_actions: set[str],
    used_entities: set[str],
    *,
    for_training: bool = False,
) -> None:
    check_plans(domain, problems)
    intents = set(domain.intents) | set(DEFAULT_INTENTS)
    for slot in domain.slots.values():
        for mapping in slot.mappings:
            where = mapping.location or slot.location
            if mapping.entity and mapping.entity not in domain.entities:
                # Rasa trains and never fills the slot from it; its validate fails
                (problems.warning if for_training else problems.error)(
                    f"slot '{slot.name}' maps from entity '{mapping.entity}', which the domain "
                    "does not declare: the mapping never fills the slot"
                    + (" (trained anyway, as Rasa does)" if for_training else ""),
                    where,
                )
            for name in [*(mapping.intent or []), *(mapping.not_intent or [])]:
                if name not in intents:
                    problems.warning(
                        f"slot '{slot.name}' mapping names intent '{name}', which the domain "
                        "does not declare",
                        where,
                    )
            if mapping.action and not domain.is_known_action(mapping.action):
                problems.error(
                    f"slot '{slot.name}' has a custom mapping to action '{mapping.action}', "
                    "which the domain does not declare",
                    where,
                )
            for cond in mapping.conditions:
                if cond.active_loop and cond.active_loop not in domain.forms:
                    problems.error(
                        f"slot '{slot.name}' mapping condition names active_loop "
                        f"'{cond.active_loop}', which is not a form of the domain",
                        where,
                    )
    for form in domain.forms.values():
        for slot_name in form.required_slots:
            required = domain.slots.get(slot_name)
            if required is None:
                problems.error(
                    f"form '{form.name}' requires slot '{slot_name}', which the domain does not "
                    "declare",
                    form.location,
                )
                continue
            if not required.mappings:
                problems.error(
                    f"form '{form.name}' requires slot '{slot_name}', which has no mapping: "
                    "the form could never fill it",
                    required.location or form.location,
                )
            asks = {
                f"utter_ask_{form.name}_{slot_name}",
                f"utter_ask_{slot_name}",
                f"action_ask_{form.name}_{slot_name}",
                f"action_ask_{slot_name}",
            }
            if not any(domain.is_known_action(a) for a in asks):
                problems.warning(
                    f"form '{form.name}' has no question for slot '{slot_name}' "
                    f"(utter_ask_{slot_name} or action_ask_{slot_name})",
                    form.location,
                )
        for name in form.ignored_intents:
            if name not in intents:
                problems.warning(
                    f"form '{form.name}' ignores intent '{name}', which the domain does not "
                    "declare",
                    form.location,
                )
    # placeholders in responses must name slots (they are filled as plain text)
    for name, variations in domain.responses.items():
        for variation in variations:
            text = variation.get("text") if isinstance(variation, dict) else None
            if not isinstance(text, str):
                continue
            for slot in _PLACEHOLDER.findall(text):
                if slot not in domain.slots and slot not in DEFAULT_SLOTS:
                    problems.warning(
                        f"response '{name}' uses '{{{slot}}}', which is not a slot (only a custom "
                        "action can fill it)",
                        domain.response_locations.get(name),
                    )


# how many story conflicts ``chinwag train`` names in its one warning
CONFLICTS_SHOWN = 3


def check_dialogue(
    bot: Bot, problems: Problems, *, max_history: int | None = None, for_training: bool = False
) -> None:
    """Checkpoints/OR expansion, then contradictions between stories and rules.

    Contradicting rules (and rules contradicted by stories) are errors everywhere: Rasa's
    RulePolicy refuses to train on them. Stories that contradict each other are errors for
    ``chinwag data validate`` (as for ``rasa data validate``) but one warning for training
    (``for_training``): ``rasa train`` trains on them.
    """
    stories = expand(bot.stories, problems)
    rules = expand(bot.rules, problems)
    story_conflicts, rule_conflicts = conflicts_by_kind(
        stories, rules, bot.domain, max_history=max_history
    )
    if not for_training:
        for problem in story_conflicts:
            problems.add(problem)
    elif story_conflicts:
        # each message names its stories with their file:line
        first = "; ".join(p.message for p in story_conflicts[:CONFLICTS_SHOWN])
        more = len(story_conflicts) - CONFLICTS_SHOWN
        problems.warning(
            f"{len(story_conflicts)} story conflict(s) (the same history followed by different "
            "actions): trained anyway, as Rasa does (memoization forgets those histories, the "
            f"ML policy learns the most frequent action). First: {first}"
            + (f"; and {more} more (chinwag data validate lists them all)" if more > 0 else ""),
            story_conflicts[0].location,
        )
    for problem in rule_conflicts:
        problems.add(problem)
    for problem in find_incomplete_rules(rules, bot.domain):
        problems.add(problem)


def validate_bot(
    bot: Bot, *, max_history: int | None = None, for_training: bool = False
) -> Problems:
    """Every check, on an already loaded bot.

    ``for_training`` applies the leniency rule of ``chinwag train``: what Rasa trains on
    anyway (contradicting stories, slot mappings from undeclared entities) is a warning
    there, while ``chinwag data validate`` reports it as an error, as Rasa's does.
    """
    problems = Problems()
    problems.extend(bot.problems)
    if bot.domain_ok:
        check_names(bot, problems, for_training=for_training)
    if not bot.problems.errors:
        check_dialogue(bot, problems, max_history=max_history, for_training=for_training)
    return problems


def _check_story_graph(
    stories: list[Story], by_file: dict[str, Problems], fallback: Problems
) -> None:
    """Expand checkpoints/ORs of loose files; file each problem under the file it names."""
    if not stories:
        return
    found = Problems()
    expand([s for s in stories if not s.is_rule], found)
    expand([s for s in stories if s.is_rule], found)
    for problem in found:
        target = by_file.get(problem.location.file) if problem.location else None
        (target or fallback).add(problem)


@dataclass
class Report:
    """The result for one bot (or one loose file) under a validated folder."""

    name: str
    problems: Problems


def _validate_loose_file(path: Path, root: Path) -> tuple[Problems, list[Story]] | None:
    """A file outside any bot folder, read by what it contains; None when it is no Rasa file.

    Returns its problems and the stories and rules it holds (for the story graph check,
    which needs every file of the folder).
    """
    problems = Problems()
    name = rel(path, root)
    if path.suffix == ".json":
        try:
            data = load_json_text(path.read_text(encoding="utf-8"), name)
        except (OSError, UnicodeDecodeError, YamlError):
            data = {"rasa_nlu_data": None}  # let the NLU reader report it, located
        if not (isinstance(data, dict) and "rasa_nlu_data" in data):
            return None  # some other JSON (a tracker dump, a model's metadata...)
    if path.suffix in YAML_SUFFIXES:
        try:
            data = load_yaml(path, name)
        except YamlError as exc:
            problems.error(exc.message, exc.location)
            return problems, []
        keys = set(data) if isinstance(data, YamlMap) else set()
        if keys & DOMAIN_KEYS and not keys & {"nlu", "stories", "rules"}:
            read_domain([path], root, problems)
            return problems, []
        if keys & CONFIG_KEYS:
            read_config(path, root, problems)
            return problems, []
        if keys & set(ENDPOINT_SECTIONS[1:]) and not keys & TRAINING_KEYS:
            read_endpoints(path, root, problems)
            return problems, []
        if keys and not keys & TRAINING_KEYS:
            return None  # YAML that is not a bot file (credentials, CI settings...)
    _, data = read_data_file(path, root, problems, test=is_test_stories_file(path))
    return problems, [*data.stories, *data.rules]


def validate_path(path: Path | str, *, max_history: int | None = None) -> list[Report]:
    """Validate a bot folder, or every bot and data file found under a folder of them."""
    root = Path(path)
    if is_bot_dir(root) or not root.exists():
        return [Report(str(path), validate_bot(load_bot(root), max_history=max_history))]
    if root.is_file():
        checked = _validate_loose_file(root, root.parent)
        if checked is None:
            problems = Problems()
            problems.error(
                "not a Rasa bot file (domain, config, endpoints or training data)",
                Location(str(path)),
            )
            return [Report(str(path), problems)]
        problems, stories = checked
        _check_story_graph(stories, {str(root.name): problems}, problems)
        return [Report(str(path), problems)]
    reports: list[Report] = []
    bot_dirs: list[Path] = []
    for folder in sorted(p for p in root.rglob("*") if p.is_dir()):
        if any(parent in bot_dirs for parent in folder.parents):
            continue
        if is_bot_dir(folder):
            bot_dirs.append(folder)
            bot = load_bot(folder)
            reports.append(Report(rel(folder, root), validate_bot(bot, max_history=max_history)))
    # loose files: each read alone; the stories of one folder form one story graph, as they
    # would when that folder is given to Rasa as training data
    by_file: dict[str, Problems] = {}
    by_folder: dict[Path, list[Story]] = {}
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        if file.suffix not in DATA_SUFFIXES or any(b in file.parents for b in bot_dirs):
            continue
        checked = _validate_loose_file(file, root)
        if checked is not None:
            problems, stories = checked
            by_file[rel(file, root)] = problems
            by_folder.setdefault(file.parent, []).extend(stories)
            reports.append(Report(rel(file, root), problems))
    for stories in by_folder.values():
        _check_story_graph(stories, by_file, Problems())
    if not reports:
        problems = Problems()
        problems.error(
            "no bot (domain.yml, data/) and no data file found here", Location(str(path))
        )
        reports.append(Report(str(path), problems))
    return reports
