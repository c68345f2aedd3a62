"""Located problems found while reading or checking a bot.

Every reader and checker reports into a :class:`Problems` collector instead of raising on the
first mistake, so one run of ``chinwag data validate`` shows every problem, each with the file
and line it comes from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class Location:
    """Where something was written: a file and (when known) a 1-based line."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Problem:
    level: Level
    message: str
    location: Location | None = None

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.level}: {self.message}"


class Problems:
    """An ordered collector of errors and warnings."""

    def __init__(self) -> None:
        self._items: list[Problem] = []

    def error(self, message: str, location: Location | None = None) -> None:
        self._items.append(Problem("error", message, location))

    def warning(self, message: str, location: Location | None = None) -> None:
        self._items.append(Problem("warning", message, location))

    def add(self, problem: Problem) -> None:
        self._items.append(problem)

    def extend(self, other: Problems) -> None:
        self._items.extend(other)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self._items if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self._items if p.level == "warning"]


class BotDataError(Exception):
    """Raised when a bot cannot be used because of errors in its files."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
