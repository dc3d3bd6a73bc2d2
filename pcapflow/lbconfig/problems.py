"""Problems found in a declared configuration, and where in which file they are.

A :class:`Problem` names the file, the location (a JSON pointer into the document, plus the line
when the format gives one) and what is wrong.  Loaders collect problems in a :class:`Document`;
fatal ones become a :class:`~pcapflow.errors.ConfigError` when a model is asked for; ``pcapflow lb
validate`` lists all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pcapflow.errors import ConfigError


class Severity(StrEnum):
    ERROR = "error"  # the configuration is wrong or cannot be modelled faithfully
    WARNING = "warning"  # legal, but worth knowing while reading captures


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value came from: file, JSON pointer and (for YAML) line number."""

    file: str
    pointer: str = ""
    line: int | None = None

    @property
    def location(self) -> str:
        where = self.pointer or "/"
        return f"line {self.line} ({where})" if self.line is not None else where


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a configuration."""

    file: str
    pointer: str
    message: str
    line: int | None = None
    severity: Severity = Severity.ERROR

    @property
    def location(self) -> str:
        return Origin(self.file, self.pointer, self.line).location

    def __str__(self) -> str:
        file = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{file}: {self.pointer or '/'}: {self.severity.value}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "pointer": self.pointer,
            "line": self.line,
            "severity": self.severity.value,
            "message": self.message,
        }

    @classmethod
    def at(cls, origin: Origin, message: str, severity: Severity = Severity.ERROR) -> Problem:
        return cls(origin.file, origin.pointer, message, origin.line, severity)


def cite(origin: Origin) -> str:
    """Another place named inside a problem's message: ``file:line /pointer``."""
    file = f"{origin.file}:{origin.line}" if origin.line is not None else origin.file
    return f"{file} {origin.pointer or '/'}"


def pointer_join(base: str, *parts: str | int) -> str:
    """Extend a JSON pointer (RFC 6901 escaping)."""
    out = base
    for part in parts:
        out += "/" + str(part).replace("~", "~0").replace("/", "~1")
    return out


@dataclass
class Document:
    """One input document being loaded: its name, line map and the problems found so far."""

    name: str
    lines: dict[str, int] = field(default_factory=dict)  # JSON pointer -> 1-based line
    problems: list[Problem] = field(default_factory=list)

    def origin(self, pointer: str) -> Origin:
        line = self.lines.get(pointer)
        probe = pointer
        while line is None and probe:
            probe = probe.rsplit("/", 1)[0]
            line = self.lines.get(probe)
        return Origin(self.name, pointer, line)

    def report(self, pointer: str, message: str, severity: Severity = Severity.ERROR) -> None:
        self.problems.append(Problem.at(self.origin(pointer), message, severity))

    def fail(self, pointer: str, message: str) -> ConfigError:
        """A :class:`ConfigError` for a document that cannot be read at all."""
        return ConfigError(str(Problem.at(self.origin(pointer), message)))


def errors_of(problems: list[Problem] | tuple[Problem, ...]) -> list[Problem]:
    return [p for p in problems if p.severity is Severity.ERROR]


def raise_first(problems: list[Problem] | tuple[Problem, ...]) -> None:
    """Raise a one-line :class:`ConfigError` for the first error, mentioning how many there are."""
    errors = errors_of(problems)
    if not errors:
        return
    more = f" (and {len(errors) - 1} more; run `pcapflow lb validate`)" if len(errors) > 1 else ""
    raise ConfigError(f"{errors[0]}{more}")
