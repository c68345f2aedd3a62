"""The story graph: stories stitched at checkpoints, ``or`` steps expanded, as Rasa does.

Rasa (``rasa/shared/core/training_data/structures.py`` StoryGraph and
``rasa/shared/core/generator.py`` TrainingDataGenerator) cuts every story into blocks between
checkpoints; a block with no start checkpoint starts at STORY_START, a block that starts with
checkpoints continues every path that reached one of them (a start checkpoint's
``slot_was_set`` conditions filter those paths), and an ``or`` step forks the path once per
alternative. A path that reaches the end of a block without end checkpoints is one complete
conversation. :func:`expand` walks that graph depth first, follows each cycle once and stops
at a cap instead of exploding.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from chinwag.core.data.problems import Location, Problems
from chinwag.core.data.training import (
    ActionStep,
    CheckpointStep,
    LoopStep,
    OrStep,
    SlotStep,
    Story,
    StoryKind,
    UserStep,
)

STORY_START = "STORY_START"

PlainStep = UserStep | ActionStep | SlotStep | LoopStep
# a block's body: each segment is the list of alternatives one position can take
# (one alternative for an ordinary step, several for an `or` step)
_Segment = list[PlainStep]

# how many times one block may appear in one path: twice = every cycle is followed once
_MAX_BLOCK_VISITS = 2
# DFS work allowed per conversation of the cap, so dead ends inside cycles cannot hang
_WORK_PER_CONVERSATION = 50


@dataclass
class Conversation:
    """One complete path through the story graph: plain steps only, no checkpoints or ORs."""

    steps: list[PlainStep]
    sources: list[Story]
    kind: StoryKind = "story"
    # for each step, the index in ``sources`` of the story it was written in
    origins: list[int] = field(default_factory=list)
    # True when the path stopped at an end checkpoint that no story continues: Rasa keeps
    # such trackers but does not close them with a final action_listen
    open_end: bool = False

    @property
    def name(self) -> str:
        """Rasa's tracker name for a stitched story: ``A > B > C``."""
        names: list[str] = []
        for story in self.sources:
            if story.name not in names:
                names.append(story.name)
        return " > ".join(names)

    def source_of(self, index: int) -> Story:
        """The story in which step ``index`` was written."""
        return self.sources[self.origins[index]] if self.origins else self.sources[0]


@dataclass
class _Block:
    story: Story
    starts: list[CheckpointStep]  # empty = STORY_START
    segments: list[_Segment]
    ends: list[CheckpointStep]  # empty = story end

    @property
    def start_names(self) -> list[str]:
        return [c.name for c in self.starts] or [STORY_START]


def _where(story: Story, step: Any = None) -> Location | None:
    location = getattr(step, "location", None)
    return location if location is not None else story.location


def _segment(step: PlainStep | OrStep) -> _Segment:
    if isinstance(step, OrStep):
        return list(step.alternatives)
    return [step]


def _blocks(story: Story, problems: Problems) -> list[_Block]:
    """Cut one story at its checkpoints, as Rasa's StoryStepBuilder does."""
    blocks: list[_Block] = []
    starts: list[CheckpointStep] = []
    segments: list[_Segment] = []
    ends: list[CheckpointStep] = []
    for step in story.steps:
        if isinstance(step, CheckpointStep):
            if segments:
                if step.conditions:
                    problems.warning(
                        f"story '{story.name}': checkpoint '{step.name}' is not at the start "
                        "of the story, so its slot_was_set conditions are ignored (Rasa "
                        "supports conditions on start checkpoints only)",
                        _where(story, step),
                    )
                ends.append(step)
            else:
                starts.append(step)
            continue
        if ends:  # an intermediate checkpoint: the story goes on in a new block
            blocks.append(_Block(story, starts, segments, ends))
            starts = [CheckpointStep(c.name, location=c.location) for c in ends]
            segments, ends = [], []
        if isinstance(step, OrStep) and not step.alternatives:
            continue
        segments.append(_segment(step))
    if segments:
        blocks.append(_Block(story, starts, segments, ends))
    return blocks


def _expand_rule(rule: Story, problems: Problems, budget: int) -> list[Conversation]:
    segments: list[_Segment] = []
    for step in rule.steps:
        if isinstance(step, CheckpointStep):
            problems.error(
                f"rule '{rule.name}': rules cannot use checkpoints ('{step.name}'); "
                "use a story to chain conversations",
                _where(rule, step),
            )
            continue
        if isinstance(step, OrStep) and not step.alternatives:
            continue
        segments.append(_segment(step))
    paths: list[list[PlainStep]] = [[]]
    for segment in segments:
        paths = [[*path, alt] for path in paths for alt in segment][:budget]
    return [
        Conversation(steps=path, sources=[rule], kind=rule.kind, origins=[0] * len(path))
        for path in paths
    ]


class _Walker:
    """Depth-first walk over one graph of story blocks (stories, or test stories)."""

    def __init__(self, blocks: list[_Block], problems: Problems, cap: int) -> None:
        self.blocks = blocks
        self.problems = problems
        self.cap = cap
        self.by_start: dict[str, list[int]] = defaultdict(list)
        for index, block in enumerate(blocks):
            for name in block.start_names:
                self.by_start[name].append(index)
        self.ended: set[str] = {c.name for b in blocks for c in b.ends}
        self.out: list[Conversation] = []
        self.stopped = False

    def check_checkpoints(self) -> None:
        for block in self.blocks:
            for cp in block.starts:
                if cp.name != STORY_START and cp.name not in self.ended:
                    self.problems.error(
                        f"story '{block.story.name}' starts at checkpoint '{cp.name}', but no "
                        "story ends at that checkpoint, so this story can never run",
                        _where(block.story, cp),
                    )
        warned: set[str] = set()
        for block in self.blocks:
            for cp in block.ends:
                if cp.name not in self.by_start and cp.name not in warned:
                    warned.add(cp.name)
                    self.problems.warning(
                        f"story '{block.story.name}' ends at checkpoint '{cp.name}', but no "
                        "story starts at it; the conversation just stops there",
                        _where(block.story, cp),
                    )

    def warn_cycles(self) -> None:
        """Warn once per cycle, naming the checkpoints on it (Rasa's cyclic edges)."""
        edges: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for index, block in enumerate(self.blocks):
            for cp in block.ends:
                for target in self.by_start.get(cp.name, []):
                    edges[index].append((target, cp.name))
        for component in _strongly_connected(len(self.blocks), edges):
            members = set(component)
            looping = len(component) > 1 or any(t == component[0] for t, _ in edges[component[0]])
            if not looping:
                continue
            names = sorted({name for src in component for t, name in edges[src] if t in members})
            first = self.blocks[min(component)]
            stories = sorted({self.blocks[i].story.name for i in component})
            self.problems.warning(
                "stories "
                + ", ".join(f"'{s}'" for s in stories)
                + " form a cycle through checkpoint(s) "
                + ", ".join(f"'{n}'" for n in names)
                + "; the cycle is followed once",
                _where(first.story, first.ends[0] if first.ends else None),
            )

    def walk(self) -> None:
        work_left = max(self.cap, 1) * _WORK_PER_CONVERSATION
        for root in self.by_start.get(STORY_START, []):
            if self.stopped:
                return
            work_left = self._walk_from(root, work_left)

    def _walk_from(self, root: int, work_left: int) -> int:
        path: list[PlainStep] = []
        origins: list[int] = []  # index into `visited` per step
        visited: list[int] = []  # blocks in path order
        # frame: (block, segment index, step to append first, path length, visited length)
        stack: list[tuple[int, int, PlainStep | None, int, int]] = [(root, -1, None, 0, 0)]
        while stack:
            work_left -= 1
            if work_left < 0:
                self._stop(
                    f"following them took more than {self.cap * _WORK_PER_CONVERSATION} steps"
                )
            if self.stopped:
                return 0
            block_index, seg, pending, path_len, visited_len = stack.pop()
            del path[path_len:], origins[path_len:], visited[visited_len:]
            if seg == -1:  # entering the block
                visited.append(block_index)
                seg = 0
            if pending is not None:
                path.append(pending)
                origins.append(len(visited) - 1)
            block = self.blocks[block_index]
            # ordinary steps need no fork: take them in one go
            while seg < len(block.segments) and len(block.segments[seg]) == 1:
                path.append(block.segments[seg][0])
                origins.append(len(visited) - 1)
                seg += 1
            if seg < len(block.segments):
                for alternative in reversed(block.segments[seg]):
                    stack.append((block_index, seg + 1, alternative, len(path), len(visited)))
                continue
            if not block.ends:
                self._emit(path, origins, visited, open_end=False)
                continue
            nexts = self._continuations(block, path, visited)
            if nexts is None:
                self._emit(path, origins, visited, open_end=True)
            for target in reversed(nexts or []):
                stack.append((target, -1, None, len(path), len(visited)))
        return work_left

    def _continuations(
        self, block: _Block, path: list[PlainStep], visited: list[int]
    ) -> list[int] | None:
        """Blocks that go on from this block's end checkpoints (None: no story does)."""
        targets: list[int] = []
        known = False
        for cp in block.ends:
            for target in self.by_start.get(cp.name, []):
                known = True
                if target in targets or visited.count(target) >= _MAX_BLOCK_VISITS:
                    continue
                start = next(c for c in self.blocks[target].starts if c.name == cp.name)
                if _conditions_hold(start.conditions, path):
                    targets.append(target)
        return targets if known else None

    def _emit(
        self, path: list[PlainStep], origins: list[int], visited: list[int], *, open_end: bool
    ) -> None:
        if len(self.out) >= self.cap:
            self._stop(f"they make more than {self.cap} conversations")
            return
        sources: list[Story] = []
        remap: dict[int, int] = {}
        for position, block_index in enumerate(visited):
            story = self.blocks[block_index].story
            if not sources or sources[-1] is not story:
                sources.append(story)
            remap[position] = len(sources) - 1
        self.out.append(
            Conversation(
                steps=list(path),
                sources=sources,
                kind=sources[0].kind,
                origins=[remap[o] for o in origins],
                open_end=open_end,
            )
        )

    def _stop(self, why: str) -> None:
        if not self.stopped:
            self.stopped = True
            self.problems.warning(
                f"the stories' checkpoints and 'or' steps are too many: {why}; only the "
                f"first {len(self.out)} conversations are used. Use fewer checkpoints or "
                "'or' steps"
            )


def _conditions_hold(conditions: dict[str, Any], path: list[PlainStep]) -> bool:
    """A start checkpoint's slot conditions, checked against slots set so far on the path."""
    if not conditions:
        return True
    slots: dict[str, Any] = {}
    for step in path:
        if isinstance(step, SlotStep):
            slots.update(step.slots)
    return all(slots.get(name) == value for name, value in conditions.items())


def _strongly_connected(n: int, edges: dict[int, list[tuple[int, str]]]) -> list[list[int]]:
    """Tarjan's algorithm, iterative; components listed in a deterministic order."""
    index_of: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for root in range(n):
        if root in index_of:
            continue
        work: list[tuple[int, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index_of[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = edges.get(node, [])
            if i < len(targets):
                work.append((node, i + 1))
                target = targets[i][0]
                if target not in index_of:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index_of[target])
                continue
            if low[node] == index_of[node]:
                component: list[int] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return sorted(components)


def expand(
    stories: list[Story], problems: Problems, *, max_conversations: int = 10_000
) -> list[Conversation]:
    """All complete conversations of ``stories`` (stories, test stories and rules).

    Stories and test stories are stitched at checkpoints (each kind in its own graph, as
    Rasa loads them separately); rules pass through with only their ``or`` steps expanded.
    Each of the three kinds yields at most ``max_conversations`` conversations (a warning
    says when the cap cut some off). Output order: stories, then test stories, then rules.
    """
    out: list[Conversation] = []
    for kind in ("story", "test"):
        blocks = [b for s in stories if s.kind == kind for b in _blocks(s, problems)]
        if not blocks:
            continue
        walker = _Walker(blocks, problems, max_conversations)
        walker.check_checkpoints()
        walker.warn_cycles()
        walker.walk()
        out.extend(walker.out)
    rules: list[Conversation] = []
    for rule in (s for s in stories if s.kind == "rule"):
        left = max_conversations - len(rules)
        expanded = _expand_rule(rule, problems, left + 1)
        if len(expanded) > left:
            rules.extend(expanded[:left])
            problems.warning(
                f"rule '{rule.name}': the rules' 'or' steps make more than "
                f"{max_conversations} rule conversations; the rest are not used",
                rule.location,
            )
            break
        rules.extend(expanded)
    return out + rules
