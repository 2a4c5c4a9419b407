"""Filename → values: cleaning, separators or a regex, hyphen protection, key names.

Plain functions, no OMERO and no Django, so the preview (request) and the write job (worker)
parse identically. Every batch runs under one CPU-time limit (`safe_regex.CpuLimit`); user
and AI regexes are checked by `safe_regex` before they are compiled.

Before splitting, a name is cleaned: invisible and control characters (U+2060 word joiner,
zero-width spaces, soft hyphens, byte-order marks ...) are removed, other white space becomes
a plain space, and the ends are stripped; each value is stripped again after splitting.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import hyphens, safe_regex

log = logging.getLogger(__name__)

# REMBI-style default variable names (the original's defaults).
DEFAULT_VARIABLES = (
    "Project number",
    "Sample type",
    "Substrate",
    "Position",
    "Image acquisition",
    "Specific experimental conditions",
)
MAX_VARIABLES = 10
MAX_VARIABLE_SETS = 10
MAX_NAME_LENGTH = 128  # of a variable name
MAX_FILENAME_LENGTH = 1000  # characters of an image name that is parsed
MAX_BATCH = 100_000  # names parsed in one call (OMP_PREVIEW_MAX_IMAGES allows at most this)
# The page's ticks; any other separators (characters, or short strings like "__") can be typed.
SEPARATORS = ("_", "-", ".", " ", "__")
MAX_SEPARATORS = 64  # separators in one parser
MAX_SEPARATOR_LENGTH = 8  # characters of one separator
MODES = ("separators", "regex")
_CHECK_EVERY = 256  # names between CPU-time checks when no timer is armed
_CHILD_MEMORY = 1 << 30  # address space of the child that parses off the main thread


class ParseError(ValueError):
    """Bad parser settings (an unknown separator, a too-long name ...): a 400 for the page."""


@dataclass(frozen=True)
class ParserSettings:
    mode: str = "separators"
    separators: tuple[str, ...] = ("_",)
    regex: str = ""
    protect_hyphens: bool = True
    variables: tuple[str, ...] = DEFAULT_VARIABLES

    @classmethod
    def from_dict(cls, data: dict) -> ParserSettings:
        """Validated settings from a request body or job params; ParseError otherwise."""
        if not isinstance(data, dict):
            raise ParseError("parser settings must be an object")
        mode = data.get("mode", "separators")
        if mode not in MODES:
            raise ParseError(f"mode must be one of {', '.join(MODES)}")
        separators = validate_separators(data.get("separators", ["_"]))
        pattern = data.get("regex", "")
        if not isinstance(pattern, str):
            raise ParseError("regex must be a string")
        if mode == "regex":
            try:
                safe_regex.analyse(pattern)
            except safe_regex.RegexError as exc:
                raise ParseError(str(exc)) from None
        protect = data.get("protect_hyphens", True)
        if not isinstance(protect, bool):
            raise ParseError("protect_hyphens must be true or false")
        variables = validate_variables(data.get("variables", list(DEFAULT_VARIABLES)))
        return cls(mode, separators, pattern, protect, variables)

    def as_dict(self) -> dict:
        return {"mode": self.mode, "separators": list(self.separators), "regex": self.regex,
                "protect_hyphens": self.protect_hyphens, "variables": list(self.variables)}


def _character_name(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def validate_separators(separators: object) -> tuple[str, ...]:
    """Any visible characters, or short strings of them, each a separator (duplicates
    dropped); ParseError with a sentence otherwise. Names are cleaned of control and
    invisible characters before they are split, so such a separator could never match."""
    if not isinstance(separators, list):
        raise ParseError("Separators must be a list of characters.")
    if not separators:
        raise ParseError("Choose at least one separator character, or use a regular "
                         "expression.")
    if len(separators) > MAX_SEPARATORS:
        raise ParseError(f"At most {MAX_SEPARATORS} separators can be used at once "
                         f"({len(separators):,} were given).")
    for sep in separators:
        if not isinstance(sep, str) or not sep:
            raise ParseError("Each separator must be one or more characters.")
        if len(sep) > MAX_SEPARATOR_LENGTH:
            raise ParseError(f"A separator can be at most {MAX_SEPARATOR_LENGTH} characters "
                             "long.")
        if not sep.isprintable():
            bad = next(ch for ch in sep if not ch.isprintable())
            raise ParseError(f"A separator cannot contain an invisible or control character "
                             f"({_character_name(bad)}): filenames are cleaned of them before "
                             "they are split; use a visible character such as _ or -.")
        if hyphens.KEPT in sep:
            raise ParseError(f"The character {hyphens.KEPT} ({_character_name(hyphens.KEPT)}) "
                             "cannot be a separator: the parser uses it for protected hyphens.")
    return tuple(dict.fromkeys(separators))


def validate_variables(names: object) -> tuple[str, ...]:
    if not isinstance(names, list) or len(names) > MAX_VARIABLES:
        raise ParseError(f"variables must be a list of at most {MAX_VARIABLES} names")
    cleaned = []
    for name in names:
        if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH or "\x00" in name:
            raise ParseError(f"each variable name must be text of at most {MAX_NAME_LENGTH} "
                             "characters, without NUL")
        cleaned.append(name.strip())
    return tuple(cleaned)


def _clean_slow(text: str) -> str:
    return "".join(ch if ch.isprintable() else " " if ch.isspace() else "" for ch in text)


def clean(text: str) -> str:
    """Invisible and control characters removed, other white space a plain space, stripped."""
    if not text.isprintable():  # C-speed test: names are almost always printable
        text = _clean_slow(text)
    return text.strip()


def filename_base(name: str) -> str:
    """What gets parsed (cleaned): the text inside a trailing [...] (the series of a
    multi-image file), otherwise the last path component without its extension."""
    if not name.isprintable():
        name = _clean_slow(name)
    name = name.strip()
    if name[-1:] == "]":
        start = name.rfind("[")
        inner = name[start + 1:-1].strip()
        if start != -1 and inner and "]" not in inner:
            return inner
    if "/" in name:
        name = name.rpartition("/")[2]
    if "\\" in name:
        name = name.rpartition("\\")[2]
    stem, dot, ext = name.rpartition(".")
    # Only a short alphanumeric suffix is an extension ("a.b.c" keeps its inner dots).
    if dot and stem and len(ext) <= 5 and ext.isalnum() and ext.isascii():
        if stem[-1:] in "eE" and stem[-4:].lower() == ".ome":
            stem = stem[:-4]
        return stem.strip() if stem[-1:] == " " else stem
    return name


@functools.lru_cache(maxsize=64)
def _splitter(separators: tuple[str, ...]):
    """A function base → pieces for these separators; runs of separators give empty pieces,
    which are dropped later. Where separators of several characters could overlap, the
    leftmost match wins, and of those the longest ("__" before "_"): re.split on the escaped
    alternation (literal text only, so linear time)."""
    chars = {sep for sep in separators if len(sep) == 1}
    # "__" with "_" (any separator made only of one-character separators) changes nothing:
    # its pieces between those characters are empty and dropped.
    ordered = sorted((sep for sep in separators if len(sep) == 1 or not set(sep) <= chars),
                     key=len, reverse=True)
    if len(ordered) == 1:
        sep = ordered[0]
        return lambda base: base.split(sep)
    if len(ordered[0]) > 1:
        return re.compile("|".join(map(re.escape, ordered))).split
    # One-character separators: replaces are the fastest; with many, one translate pass.
    # clean() removed control characters, so NUL is free to mark the cuts.
    table = str.maketrans(dict.fromkeys(ordered, "\x00")) if len(ordered) > 4 else None

    def split(base: str) -> list[str]:
        if table:
            return base.translate(table).split("\x00")
        for sep in ordered:
            base = base.replace(sep, "\x00")
        return base.split("\x00")

    return split


def _finish(pieces: list[str], spaced: bool, kept: bool) -> list[str]:
    """Pieces → values: stripped (when the base has spaces), empties dropped, kept
    hyphens restored, at most MAX_VARIABLES."""
    values = [*filter(None, (p.strip() for p in pieces) if spaced else pieces)]
    if kept:
        values = [v.replace(hyphens.KEPT, "-") for v in values]
    return values if len(values) <= MAX_VARIABLES else values[:MAX_VARIABLES]


_last: tuple = (None, None, None, None)  # settings, pattern, values function, keys table


def _prepared(settings: ParserSettings, pattern: safe_regex.SafePattern | None) -> tuple:
    """(settings, pattern, values function, keys by count); the last one is reused, so a
    loop of pairs_for calls prepares once."""
    global _last
    last = _last
    if last[0] is settings and last[1] is pattern:
        return last
    compiled = None
    if settings.mode == "regex":
        compiled = pattern or safe_regex.compile_pattern(settings.regex)
    last = (settings, pattern, _make_values_fn(settings, compiled),
            [_keys(settings.variables, n) for n in range(MAX_VARIABLES + 1)])
    _last = last
    return last


def _values_fn(settings: ParserSettings, pattern: safe_regex.SafePattern | None):
    return _prepared(settings, pattern)[2]


def _make_values_fn(settings: ParserSettings, pattern: safe_regex.SafePattern | None):
    regex = settings.mode == "regex"
    protect = settings.protect_hyphens and (regex or "-" in settings.separators)
    split = pattern.pieces if pattern is not None else _splitter(settings.separators)
    # A hyphen's words also end at the other one-character separators (HeLa+H2B-GFP with +).
    extra = "" if regex else "".join(s for s in settings.separators
                                     if len(s) == 1 and s not in hyphens.DELIMITERS)
    keep = functools.partial(hyphens.protect, delimiters=extra) if extra else hyphens.protect
    # A value can start or end with a space only if the space is not a separator.
    spaces = regex or " " not in settings.separators
    kept_char, finish, most = hyphens.KEPT, _finish, MAX_VARIABLES

    def values(base: str) -> list[str]:
        if protect and "-" in base:
            kept = keep(base)
            return finish(split(kept), spaces and " " in base,
                          kept_char in kept and kept_char not in base)
        if spaces and " " in base:
            return finish(split(base), True, False)
        out = split(base)
        if "" in out:  # cheaper than always copying: most names have no empty pieces
            out = [*filter(None, out)]
        return out if len(out) <= most else out[:most]

    if not protect and not spaces:  # the common separators case, without the tests above
        def values(base: str) -> list[str]:
            out = split(base)
            if "" in out:
                out = [*filter(None, out)]
            return out if len(out) <= most else out[:most]

    return values


def split_values(base: str, settings: ParserSettings,
                 compiled: safe_regex.SafePattern | None = None) -> list[str]:
    """The values of one base (no time limit: use parse_names for batches)."""
    return _values_fn(settings, compiled)(clean(base))


@functools.lru_cache(maxsize=256)
def _keys(variables: tuple[str, ...], count: int) -> list[str]:
    """Shared by every row with this count: callers never change it."""
    keys: list[str] = []
    seen: dict[str, int] = {}
    for i in range(count):
        name = variables[i] if i < len(variables) and variables[i] else f"Var{i + 1}"
        seen[name] = seen.get(name, 0) + 1
        keys.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return keys


def key_names(variables: Sequence[str], count: int) -> list[str]:
    """One key per value: the variable's name or VarN, made unique with _2, _3 ..."""
    return list(_keys(tuple(variables), count))


def pairs_for(name: str, settings: ParserSettings,
              compiled: safe_regex.SafePattern | None = None) -> list[tuple[str, str]]:
    """One name's key/value pairs (no time limit: use parse_names for batches)."""
    if len(name) > MAX_FILENAME_LENGTH:
        return []
    last = _last
    if last[0] is not settings or last[1] is not compiled:
        last = _prepared(settings, compiled)
    values = last[2](filename_base(name))
    return list(zip(last[3][len(values)], values, strict=True))


def too_long_message() -> str:
    return (f"the name is longer than {MAX_FILENAME_LENGTH:,} characters and was not parsed")


def parse_names(names: Sequence[str], settings: ParserSettings,
                budget_seconds: float | None = None) -> list[tuple[str, list[str]] | None]:
    """(base, values) per name, None for a name longer than MAX_FILENAME_LENGTH. The whole
    batch, compiling the regex included, gets `budget_seconds` of CPU time (TooSlow after).
    Off the main thread a regex cannot be interrupted, so regex mode then runs in a child
    process with the same CPU limit."""
    if len(names) > MAX_BATCH:
        raise ParseError(f"at most {MAX_BATCH:,} names are parsed at once; "
                         f"choose fewer datasets")
    with safe_regex.CpuLimit(budget_seconds) as limit, _no_gc():
        if not limit.armed and settings.mode == "regex":
            return _parse_in_child(names, settings, limit.seconds)
        try:
            pattern = (safe_regex.compile_pattern(settings.regex)
                       if settings.mode == "regex" else None)
            values = _values_fn(settings, pattern)
            base_of = filename_base
            if limit.armed and max(map(len, names), default=0) <= MAX_FILENAME_LENGTH:
                return [(base, values(base)) for base in map(base_of, names)]
            out: list[tuple[str, list[str]] | None] = []
            append = out.append
            for i, name in enumerate(names):
                if len(name) > MAX_FILENAME_LENGTH:
                    append(None)
                    continue
                base = base_of(name)
                append((base, values(base)))
                if not limit.armed and not i % _CHECK_EVERY:
                    limit.check()
            return out
        except MemoryError:
            raise safe_regex.RegexError("parsing needed too much memory; simplify the regex"
                                        ) from None


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic garbage collector paused while a batch builds its (acyclic) results: with
    100,000 rows its repeated full passes cost more than the parsing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def preview(names: Iterable[str], settings: ParserSettings,
            deadline_seconds: float | None = None) -> list[dict]:
    """Rows {name, base, values, keys} for the page ({name, error} for a name too long)."""
    names = list(names)
    table = [_keys(settings.variables, n) for n in range(MAX_VARIABLES + 1)]
    too_long = too_long_message()
    parsed_rows = parse_names(names, settings, deadline_seconds)
    with _no_gc():
        return [{"name": name, "base": "", "values": [], "keys": [], "error": too_long}
                if parsed is None else
                {"name": name, "base": parsed[0], "values": parsed[1],
                 "keys": table[len(parsed[1])]}
                for name, parsed in zip(names, parsed_rows, strict=True)]


def _parse_in_child(names: Sequence[str], settings: ParserSettings, seconds: float
                    ) -> list[tuple[str, list[str]] | None]:
    """parse_names in a child process (main thread there, so the CPU timer is armed), with
    its address space bounded; a child that dies or hangs is a TooSlow, never a hang here."""
    request = json.dumps({"names": list(names), "settings": settings.as_dict(),
                          "seconds": seconds})
    # -I: no environment, no current directory on the path; the package's own location is.
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parents[2])!r}); "
            f"from {__name__} import _child_main; _child_main()")
    try:
        done = subprocess.run([sys.executable, "-I", "-c", code], input=request,
                              capture_output=True, text=True, timeout=30 + 5 * seconds,
                              check=False)
    except subprocess.TimeoutExpired:
        raise safe_regex.TooSlow(f"parsing took more than {seconds:g} s of CPU time and "
                                 "was stopped; simplify the regex") from None
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        log.warning("OMP parser child exited with %s: %s", done.returncode, done.stderr[-2000:])
        answer = {"error": "parsing stopped: the regex needed too much memory or time"}
    if "error" in answer:
        error = safe_regex.TooSlow if answer.get("slow") else safe_regex.RegexError
        raise error(answer["error"])
    return [tuple(row) if row is not None else None for row in answer["rows"]]


def _child_main() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (_CHILD_MEMORY, _CHILD_MEMORY))
    request = json.load(sys.stdin)
    try:
        rows = parse_names(request["names"], ParserSettings(
            **{**request["settings"], "separators": tuple(request["settings"]["separators"]),
               "variables": tuple(request["settings"]["variables"])}), request["seconds"])
        answer: dict = {"rows": rows}
    except (safe_regex.RegexError, ParseError) as exc:
        answer = {"error": str(exc), "slow": isinstance(exc, safe_regex.TooSlow)}
    except MemoryError:
        answer = {"error": "parsing needed too much memory; simplify the regex"}
    json.dump(answer, sys.stdout)


def suggest_separators(names: Sequence[str]) -> list[str]:
    """The separators that occur in most filename bases (the local heuristic's input); a
    hyphen counts only where protection would not keep it."""
    bases = [filename_base(n) for n in names if n and len(n) <= MAX_FILENAME_LENGTH]
    if not bases:
        return ["_"]
    found = []
    for sep in ("__", "_", "-", ".", " "):
        hits = sum(1 for b in bases if sep in (hyphens.protect(b) if sep == "-" else b))
        if hits * 2 >= len(bases) and not (sep == "_" and "__" in found
                                           and all("_" not in b.replace("__", "")
                                                   for b in bases)):
            found.append(sep)
    return found or ["_"]


def separators_regex(separators: Sequence[str]) -> str:
    """The regex-mode equivalent of these separators (what the heuristic suggests). Hyphen
    protection is applied to the name before any regex, so with the same "protect" setting
    this regex and separators mode give the same values."""
    chars = sorted({s for s in separators if len(s) == 1})
    parts = [re.escape(s) for s in separators if len(s) > 1]
    if chars:
        parts.append("[" + "".join(re.escape(c) for c in chars) + "]")
    return "(?:" + "|".join(parts) + ")+"

