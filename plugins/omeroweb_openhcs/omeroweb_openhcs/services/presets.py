"""Pipeline presets offered to users (curated by administrators, from the inventory's
`platform_openhcs_presets` through the setting OPENHCS_PRESETS) and the validation of the
parameters a user sets. Users choose a preset and values; they never send code, and nothing
but the declared parameters reaches the pipeline (the bridge re-validates them too)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

NAME = re.compile(r"^[a-z0-9_]{1,64}$")
PARAM_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
TYPES = ("int", "float", "bool", "choice")


class ParameterError(ValueError):
    """A user's parameters do not fit the preset; the message is a sentence for them."""


@dataclass(frozen=True)
class Parameter:
    name: str
    label: str
    type: str
    default: Any
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "label": self.label, "type": self.type,
                               "default": self.default}
        if self.type in ("int", "float"):
            out.update(min=self.min, max=self.max)
        if self.type == "choice":
            out["choices"] = list(self.choices)
        return out

    def check(self, value: Any) -> Any:
        """The value if it fits this parameter; ParameterError with a sentence otherwise."""
        label = f"“{self.label}”"
        if self.type == "bool":
            if not isinstance(value, bool):
                raise ParameterError(f"{label} must be true or false.")
            return value
        if self.type == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise ParameterError(f"{label} must be one of {', '.join(self.choices)}.")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "a whole number" if self.type == "int" else "a number"
            raise ParameterError(f"{label} must be {kind}.")
        if self.type == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ParameterError(f"{label} must be a whole number.")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ParameterError(f"{label} must be a finite number.")
        below = self.min is not None and value < self.min
        if below or (self.max is not None and value > self.max):
            raise ParameterError(f"{label} must be between {_num(self.min)} and "
                                 f"{_num(self.max)}; {_num(value)} is outside.")
        return value


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    description: str
    gpu: bool
    parameters: tuple[Parameter, ...]

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "description": self.description,
                "gpu": self.gpu, "parameters": [p.public() for p in self.parameters]}

    def validate(self, values: Any) -> dict[str, Any]:
        """Every declared parameter with the user's value or its default; unknown names and
        values out of type or bounds refused."""
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise ParameterError("The parameters must be an object of names and values.")
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ParameterError(f"The preset “{self.title}” has no parameter "
                                 f"{', '.join(repr(u) for u in unknown)}.")
        return {name: p.check(values[name]) if name in values else p.default
                for name, p in known.items()}


def _parameter(raw: Any, preset: str) -> Parameter:
    where = f"preset {preset}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: each parameter must be an object")
    name, kind = raw.get("name"), raw.get("type")
    if not isinstance(name, str) or not PARAM_NAME.match(name):
        raise ValueError(f"{where}: parameter name {name!r} must match {PARAM_NAME.pattern}")
    if kind not in TYPES:
        raise ValueError(f"{where}: parameter {name} type {kind!r} is not one of {TYPES}")
    choices = raw.get("choices") or ()
    if kind == "choice" and (not isinstance(choices, list) or not choices
                             or not all(isinstance(c, str) for c in choices)):
        raise ValueError(f"{where}: parameter {name} needs a list of text choices")
    bounds = {k: raw.get(k) for k in ("min", "max")}
    if kind in ("int", "float"):
        for key, bound in bounds.items():
            if isinstance(bound, bool) or not isinstance(bound, (int, float)):
                raise ValueError(f"{where}: parameter {name} needs a numeric {key}")
        if bounds["min"] > bounds["max"]:
            raise ValueError(f"{where}: parameter {name} has min above max")
    param = Parameter(name, str(raw.get("label") or name), kind, None,
                      bounds["min"] if kind in ("int", "float") else None,
                      bounds["max"] if kind in ("int", "float") else None, tuple(choices))
    try:
        default = param.check(raw.get("default"))
    except ParameterError as exc:
        raise ValueError(f"{where}: default of parameter {name}: {exc}") from None
    return Parameter(param.name, param.label, kind, default, param.min, param.max,
                     param.choices)


def parse_presets(raw: str) -> tuple[Preset, ...]:
    """The OPENHCS_PRESETS setting: a JSON list of presets (the inventory's entries without
    `source`). A bad entry stops start-up with the reason."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(data, list):
        raise ValueError("must be a JSON list of presets")
    presets: list[Preset] = []
    for entry in data:
        if not isinstance(entry, dict):
            raise ValueError("each preset must be an object")
        name = entry.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise ValueError(f"preset name {name!r} must match {NAME.pattern}")
        if any(p.name == name for p in presets):
            raise ValueError(f"preset {name} is listed twice")
        if not isinstance(entry.get("gpu", False), bool):
            raise ValueError(f"preset {name}: gpu must be true or false")
        params = entry.get("parameters") or []
        if not isinstance(params, list):
            raise ValueError(f"preset {name}: parameters must be a list")
        parsed = tuple(_parameter(p, name) for p in params)
        if len({p.name for p in parsed}) != len(parsed):
            raise ValueError(f"preset {name}: a parameter name is listed twice")
        presets.append(Preset(name, str(entry.get("title") or name),
                              str(entry.get("description") or ""), entry.get("gpu", False),
                              parsed))
    return tuple(presets)


parse_presets.__name__ = "JSON list of presets"


def find(presets: tuple[Preset, ...], name: Any) -> Preset:
    for preset in presets:
        if preset.name == name:
            return preset
    raise ParameterError(f"There is no preset named {name!r}; choose one of the listed presets."
                         if isinstance(name, str) and name else "Choose a preset.")
