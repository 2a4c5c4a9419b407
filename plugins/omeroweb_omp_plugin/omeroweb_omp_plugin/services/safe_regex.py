"""User- and AI-supplied regexes, validated and run with a time limit.

Python's `re` cannot be interrupted, so a catastrophic pattern such as `(a+)+$` on a long
"aaaa…b" would hang a web or worker process. The `regex` package checks a timeout while it
backtracks; every call here passes the time left of one budget, shared by a whole batch.
"""

from __future__ import annotations

import time

import regex

MAX_PATTERN_LENGTH = 300
MAX_GROUPS = 20
DEFAULT_BUDGET_SECONDS = 2.0
MAX_REPEAT = 1000
_COUNTED_REPEAT = regex.compile(r"\{(\d+)(?:,(\d*))?\}")


class RegexError(ValueError):
    """Invalid, too long, or too slow: the message is safe to show the user."""


def validate(pattern: str) -> regex.Pattern:
    if not isinstance(pattern, str) or not pattern:
        raise RegexError("the regex is empty")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise RegexError(f"the regex is longer than {MAX_PATTERN_LENGTH} characters")
    # Large (or nested) counted repeats make compiling, which no timeout covers, slow;
    # filenames are short, so the product of all repeat counts is capped.
    product = 1
    for low, high in _COUNTED_REPEAT.findall(pattern):
        product *= max(int(low), int(high or 0), 1)
        if product > MAX_REPEAT:
            raise RegexError(f"repeat counts (multiplied together) above {MAX_REPEAT} are "
                             "not allowed")
    try:
        compiled = regex.compile(pattern, regex.VERSION0)
    except (regex.error, OverflowError, RecursionError) as exc:
        raise RegexError(f"invalid regex: {exc}") from None
    if compiled.groups > MAX_GROUPS:
        raise RegexError(f"the regex has more than {MAX_GROUPS} groups")
    return compiled


class SafePattern:
    """A validated pattern whose calls together may take at most `budget` seconds."""

    def __init__(self, pattern: str, budget: float | None = None) -> None:
        self.compiled = validate(pattern)
        self.deadline = time.monotonic() + (budget or DEFAULT_BUDGET_SECONDS)

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RegexError("the regex took too long (time limit reached); simplify it")
        return left

    def split_or_groups(self, text: str) -> list[str]:
        """With capture groups: the groups of the first match; without: split on matches."""
        try:
            if self.compiled.groups:
                match = self.compiled.search(text, timeout=self._left())
                if match is None:
                    return []
                return [g for g in match.groups() if g]
            return [p for p in self.compiled.split(text, timeout=self._left()) if p]
        except TimeoutError:
            raise RegexError("the regex took too long (time limit reached); simplify it"
                             ) from None


def compile_pattern(pattern: str, budget: float | None = None) -> SafePattern:
    return SafePattern(pattern, budget)
