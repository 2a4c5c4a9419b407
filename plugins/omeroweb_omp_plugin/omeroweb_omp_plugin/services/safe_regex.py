"""User and AI regexes: checked with the engine's own parser, run under a CPU-time limit.

The engine is Python's `re`. A pattern is first parsed by `re`'s own parser (`re._parser`,
the code `re.compile` runs), so verbose mode, whitespace, flags and nesting are already
normalised when the limits below are applied; nothing here looks at the pattern's text.
Refused: backreferences and conditionals (no use in a filename, and they make matching
unbounded), more than MAX_GROUPS groups, repeat bounds whose product along a nesting chain
exceeds MAX_REPEAT, and patterns whose size with repeats counted out exceeds MAX_SIZE.

Compiling and matching run inside one `CpuLimit`: in the main thread (gunicorn's sync workers,
Celery's prefork children) an ITIMER_PROF timer, which counts CPU time, raises from its signal
handler; `re` checks for signals while it matches, so a runaway match stops as well. Off the
main thread the caller runs the batch in a child process instead (see parsing.preview).
"""

from __future__ import annotations

import re
import signal
import threading
import time
from re import _constants as _c  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]

MAX_PATTERN_LENGTH = 300
MAX_GROUPS = 20
MAX_REPEAT = 1000
MAX_SIZE = 10_000
DEFAULT_BUDGET_SECONDS = 2.0

_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT}
_REFUSED = {
    _c.GROUPREF: "backreferences (\\1, (?P=name)) are not allowed in a filename regex",
    _c.GROUPREF_IGNORE: "backreferences (\\1, (?P=name)) are not allowed in a filename regex",
    _c.GROUPREF_EXISTS: "conditional groups ((?(1)...)) are not allowed in a filename regex",
}


class RegexError(ValueError):
    """Invalid, too large, or too slow: the message is a sentence for the user."""


class TooSlow(RegexError):
    pass


def _too_slow(seconds: float) -> TooSlow:
    return TooSlow(f"parsing took more than {seconds:g} s of CPU time and was stopped; "
                   "simplify the regex or parse fewer images at once")


def _walk(items: list, factor: int, depth: int) -> int:
    """The pattern's size with repeats counted out; refuses what _REFUSED lists."""
    if depth > 30:
        raise RegexError("the regex is nested too deeply")
    size = 0
    for op, av in items:
        if op in _REFUSED:
            raise RegexError(_REFUSED[op])
        if op in _REPEATS:
            low, high, sub = av
            bound = max(low, 1) if high == _c.MAXREPEAT else max(high, 1)
            inner = factor * bound
            if inner > MAX_REPEAT:
                raise RegexError(f"repeat counts (multiplied along nested groups) above "
                                 f"{MAX_REPEAT} are not allowed")
            size += _walk(list(sub), inner, depth + 1)
        elif op in (_c.SUBPATTERN, _c.ATOMIC_GROUP):
            size += _walk(list(av[-1]), factor, depth + 1)
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            size += _walk(list(av[1]), factor, depth + 1)
        elif op == _c.BRANCH:
            for branch in av[1]:
                size += _walk(list(branch), factor, depth + 1)
        else:
            size += factor
        if size > MAX_SIZE:
            raise RegexError(f"the regex is too large once its repeats are counted out "
                             f"(more than {MAX_SIZE:,} elements)")
    return size


def analyse(pattern: object) -> None:
    """Parse with re's own parser and apply the limits; RegexError with a sentence."""
    if not isinstance(pattern, str) or not pattern:
        raise RegexError("the regex is empty")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise RegexError(f"the regex is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        parsed = _parser.parse(pattern)
    except re.error as exc:
        raise RegexError(f"invalid regex: {exc}") from None
    except OverflowError:
        raise RegexError("a repeat count in the regex is too large") from None
    except (RecursionError, MemoryError):
        raise RegexError("the regex is nested too deeply or too large") from None
    if parsed.state.groups - 1 > MAX_GROUPS:
        raise RegexError(f"the regex has more than {MAX_GROUPS} groups")
    try:
        _walk(list(parsed), 1, 0)
    except RecursionError:
        raise RegexError("the regex is nested too deeply") from None


def validate(pattern: object) -> re.Pattern:
    """analyse(), then compile (inside the caller's CpuLimit, if any)."""
    analyse(pattern)
    try:
        return re.compile(pattern)  # type: ignore[arg-type]
    except re.error as exc:
        raise RegexError(f"invalid regex: {exc}") from None
    except (RecursionError, OverflowError, MemoryError):
        raise RegexError("the regex is too large to compile") from None


class CpuLimit:
    """At most `seconds` of CPU time for the code inside `with`; TooSlow otherwise.

    `armed` tells whether a runaway regex match is interrupted (main thread, timer free).
    When it is not, `check()` between names still bounds the linear work."""

    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = seconds or DEFAULT_BUDGET_SECONDS
        self.armed = False
        self._active = False
        self._previous: object = None
        self._deadline = 0.0

    def __enter__(self) -> CpuLimit:
        self._deadline = time.thread_time() + self.seconds
        if (threading.current_thread() is threading.main_thread()
                and signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)):
            self._previous = signal.signal(signal.SIGPROF, self._expired)
            self._active = self.armed = True
            signal.setitimer(signal.ITIMER_PROF, self.seconds)
        return self

    def _expired(self, signum: int, frame: object) -> None:
        if self._active:
            self._active = False
            raise _too_slow(self.seconds)

    def check(self) -> None:
        if time.thread_time() > self._deadline:
            raise _too_slow(self.seconds)

    def __exit__(self, *exc: object) -> None:
        if self.armed:
            self._active = False
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, self._previous)  # type: ignore[arg-type]
            self.armed = False


class SafePattern:
    """A checked, compiled pattern; `pieces` gives a name's pieces (empty ones included)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.compiled = validate(pattern)
        self.groups = self.compiled.groups

        # With capture groups: the groups of the first match; without: split on matches.
        self.pieces = self._groups if self.groups else self.compiled.split

    def _groups(self, text: str) -> list[str]:
        match = self.compiled.search(text)
        return [g for g in match.groups() if g] if match else []

    def values(self, text: str) -> list[str]:
        """The non-empty pieces."""
        return [*filter(None, self.pieces(text))]


def compile_pattern(pattern: str) -> SafePattern:
    return SafePattern(pattern)
