"""Filename → values: separators or a regex, hyphen protection, key names.

Plain functions, no OMERO and no Django, so the preview (request) and the write job (worker)
parse identically. User and AI regexes go through `safe_regex` (validated, time-limited).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from . import safe_regex

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
MAX_NAME_LENGTH = 128
SEPARATORS = ("_", "-", ".", " ", "__")
MODES = ("separators", "regex")

# Hyphens inside these scientific terms are part of the value, never a separator.
# "\b" would not do: "_" is a word character, and it is the commonest separator.
_B, _E = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"
HYPHEN_PROTECTION = tuple(re.compile(p.replace("<", _B).replace(">", _E), re.I) for p in (
    r"<\d+(?:,\d+)*-[a-z]{3,}[a-z0-9]*",          # 2-propanol, 1,4-dioxane
    r"<(?:n|o|s|tert|sec|iso|cis|trans)-[a-z]{3,}[a-z0-9]*",  # N-acetyl..., tert-butanol
    r"<z-?(?:stack|series|projection|plane)s?>",   # Z-stack, z-projection
    r"<\d+(?:\.\d+)?nm-(?:laser|line|excitation|emission)>",  # 488nm-laser
    r"<[tb]-(?:cells?|lymphocytes?)>",       # T-cell, B-cells
    r"<p-values?>",                          # p-value
    r"<(?:alpha|beta|gamma|delta|kappa)-[a-z0-9]+",   # alpha-tubulin, beta-actin
    r"<(?:anti|non|pre|post|co|re|sub|multi|wild)-[a-z0-9]+",  # anti-GFP, wild-type
    r"<[a-z]{1,4}\d*-(?:ko|kd|oe|wt)>",      # Rab5-KO, p53-wt
    r"<h2b-[a-z0-9]+|<[a-z0-9]+-(?:gfp|rfp|yfp|cfp|mcherry|egfp|tdtomato)>",  # H2B-GFP
    r"<(?:x|y|z|t)-(?:axis|position|shift)>",  # x-axis, z-position
))
_GUARD = "\u2060"  # word joiner: invisible, never in a filename separator set


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
        separators = data.get("separators", ["_"])
        if (not isinstance(separators, list) or not separators
                or any(s not in SEPARATORS for s in separators)):
            raise ParseError("separators must be a non-empty list of: "
                             + ", ".join(repr(s) for s in SEPARATORS))
        pattern = data.get("regex", "")
        if not isinstance(pattern, str):
            raise ParseError("regex must be a string")
        if mode == "regex":
            try:
                safe_regex.validate(pattern)
            except safe_regex.RegexError as exc:
                raise ParseError(str(exc)) from None
        protect = data.get("protect_hyphens", True)
        if not isinstance(protect, bool):
            raise ParseError("protect_hyphens must be true or false")
        variables = validate_variables(data.get("variables", list(DEFAULT_VARIABLES)))
        return cls(mode, tuple(dict.fromkeys(separators)), pattern, protect, variables)

    def as_dict(self) -> dict:
        return {"mode": self.mode, "separators": list(self.separators), "regex": self.regex,
                "protect_hyphens": self.protect_hyphens, "variables": list(self.variables)}


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


def filename_base(name: str) -> str:
    """What gets parsed: the text inside [...] (series of a multi-image file), otherwise the
    last path component without its extension."""
    bracket = re.search(r"\[([^\[\]]+)\]\s*$", name)
    if bracket:
        return bracket.group(1).strip()
    last = re.split(r"[\\/]", name.strip())[-1]
    stem, dot, ext = last.rpartition(".")
    # Only a short alphanumeric suffix is an extension ("a.b.c" keeps its inner dots).
    if dot and stem and re.fullmatch(r"[A-Za-z0-9]{1,5}", ext):
        last = stem
        if last.lower().endswith(".ome"):
            last = last[:-4]
    return last


def _protect(text: str) -> str:
    for pattern in HYPHEN_PROTECTION:
        text = pattern.sub(lambda m: m.group(0).replace("-", _GUARD), text)
    return text


def split_by_separators(base: str, separators: Sequence[str], protect_hyphens: bool = True
                        ) -> list[str]:
    if protect_hyphens and "-" in separators and _GUARD not in base:
        base = _protect(base)
    # Longest first, so "__" wins over "_".
    pattern = "|".join(re.escape(s) for s in sorted(separators, key=len, reverse=True))
    parts = re.split(f"(?:{pattern})+", base)
    return [p.replace(_GUARD, "-") for p in parts if p != ""]


def split_values(base: str, settings: ParserSettings,
                 compiled: safe_regex.SafePattern | None = None) -> list[str]:
    if settings.mode == "regex":
        compiled = compiled or safe_regex.compile_pattern(settings.regex)
        return compiled.split_or_groups(base)
    return split_by_separators(base, settings.separators, settings.protect_hyphens)


def key_names(variables: Sequence[str], count: int) -> list[str]:
    """One key per value: the variable's name or VarN, made unique with _2, _3 ..."""
    keys: list[str] = []
    seen: dict[str, int] = {}
    for i in range(count):
        name = variables[i] if i < len(variables) and variables[i] else f"Var{i + 1}"
        seen[name] = seen.get(name, 0) + 1
        keys.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return keys


def pairs_for(name: str, settings: ParserSettings,
              compiled: safe_regex.SafePattern | None = None) -> list[tuple[str, str]]:
    values = split_values(filename_base(name), settings, compiled)[:MAX_VARIABLES]
    return list(zip(key_names(settings.variables, len(values)), values, strict=True))


def preview(names: Iterable[str], settings: ParserSettings,
            deadline_seconds: float | None = None) -> list[dict]:
    """Rows {name, base, values, keys} for the page. The regex (if any) is compiled once and
    the whole batch shares one time budget."""
    compiled = (safe_regex.compile_pattern(settings.regex, deadline_seconds)
                if settings.mode == "regex" else None)
    rows = []
    for name in names:
        base = filename_base(name)
        values = split_values(base, settings, compiled)[:MAX_VARIABLES]
        rows.append({"name": name, "base": base, "values": values,
                     "keys": key_names(settings.variables, len(values))})
    return rows


def suggest_separators(names: Sequence[str]) -> list[str]:
    """The separators that occur in most filename bases (the local heuristic's input)."""
    bases = [filename_base(n) for n in names if n]
    if not bases:
        return ["_"]
    found = []
    for sep in ("__", "_", "-", ".", " "):
        hits = sum(1 for b in bases if sep in (_protect(b) if sep == "-" else b))
        if hits * 2 >= len(bases) and not (sep == "_" and "__" in found
                                           and all("_" not in b.replace("__", "")
                                                   for b in bases)):
            found.append(sep)
    return found or ["_"]


def separators_regex(separators: Sequence[str]) -> str:
    """A split regex equivalent to these separators (what the heuristic suggests)."""
    chars = sorted({s for s in separators if len(s) == 1})
    parts = [re.escape(s) for s in separators if len(s) > 1]
    if chars:
        parts.append("[" + "".join(re.escape(c) for c in chars) + "]")
    return "(?:" + "|".join(parts) + ")+"
