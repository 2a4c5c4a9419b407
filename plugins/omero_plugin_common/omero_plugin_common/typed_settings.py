"""Typed settings read from the plugins' environment file.

Every setting is declared once (environment variable, Ansible variable, default, parser, bounds,
description). The web and worker units load the same environment file, so both read the same
values; a bad value stops start-up with an error naming the variable and the Ansible variable.
The settings table in the docs is generated from these declarations (see settings_doc).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

REQUIRED = object()  # sentinel default: the variable must be set
# The one Ansible variable (a dict keyed by environment variable) that sets every setting;
# roles/omero_web writes it into the environment file.
ANSIBLE_SETTINGS_VAR = "omero_web_plugins_settings"


class SettingsError(ValueError):
    """One or more settings are missing or invalid; the message lists them all."""


class _Missing(ValueError):
    pass


def parse_str(raw: str) -> str:
    return raw


def parse_int(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError(f"{raw!r} is not an integer") from None


def parse_float(raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise ValueError(f"{raw!r} is not a number") from None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{raw!r} is not a boolean (use true/false, yes/no, on/off or 1/0)")


def url_parser(*schemes: str) -> Callable[[str], str]:
    """A parser accepting absolute URLs with one of the given schemes."""

    def parse_url(raw: str) -> str:
        parts = urlsplit(raw.strip())
        if parts.scheme not in schemes or not parts.netloc:
            raise ValueError(f"{_redact_url(raw)!r} is not a {'/'.join(schemes)} URL")
        return raw.strip()

    parse_url.__name__ = f"url({','.join(schemes)})"
    return parse_url


def parse_abs_path(raw: str) -> PurePosixPath:
    path = PurePosixPath(raw.strip())
    if not path.is_absolute():
        raise ValueError(f"{raw!r} is not an absolute path")
    return path


def parse_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def choice_parser(*choices: str) -> Callable[[str], str]:
    def parse_choice(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"{raw!r} is not one of {', '.join(choices)}")
        return value

    parse_choice.__name__ = f"one of {'/'.join(choices)}"
    return parse_choice


_TYPE_NAMES = {
    parse_str: "string",
    parse_int: "integer",
    parse_float: "number",
    parse_bool: "boolean",
    parse_abs_path: "absolute path",
    parse_list: "comma-separated list",
}


def _redact_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.password:
        return raw.replace(f":{parts.password}@", ":***@")
    return raw


@dataclass(frozen=True)
class Setting:
    """One environment variable of the plugins' environment file."""

    env: str
    description: str
    default: Any = REQUIRED
    parser: Callable[[str], Any] = parse_str
    minimum: float | None = None
    maximum: float | None = None
    secret: bool = False
    attr: str = ""  # attribute name on the loaded settings; derived from env when empty

    @property
    def ansible_var(self) -> str:
        return f"{ANSIBLE_SETTINGS_VAR}.{self.env}"

    @property
    def name(self) -> str:
        return self.attr or self.env.lower()

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES.get(self.parser, getattr(self.parser, "__name__", "string"))

    def describe_default(self) -> str:
        if self.default is REQUIRED:
            return "required"
        if self.secret:
            return "(empty)" if not self.default else "(secret)"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, tuple):
            return ",".join(self.default) or "(empty)"
        return str(self.default) if self.default != "" else "(empty)"

    def parse(self, raw: str | None) -> Any:
        if raw is None or raw.strip() == "":
            if self.default is REQUIRED:
                raise _Missing("is required but not set")
            return self.default
        value = self.parser(raw)
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{value} is below the minimum {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{value} is above the maximum {self.maximum:g}")
        return value


class LoadedSettings:
    """Values of one settings group, as attributes; secrets are hidden from repr."""

    def __init__(self, group: SettingsGroup, values: dict[str, Any]) -> None:
        self._group = group
        self.__dict__.update(values)

    def __repr__(self) -> str:
        shown = {
            s.name: ("***" if s.secret else getattr(self, s.name)) for s in self._group.settings
        }
        return f"<{self._group.title} settings {shown}>"


@dataclass(frozen=True)
class SettingsGroup:
    """The settings of one plugin (or of the common platform)."""

    title: str
    settings: tuple[Setting, ...] = field(default_factory=tuple)

    def load(self, environ: Mapping[str, str] | None = None) -> LoadedSettings:
        """Parse every setting; raise one SettingsError listing every bad variable."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for setting in self.settings:
            try:
                values[setting.name] = setting.parse(environ.get(setting.env))
            except ValueError as exc:
                # A secret's value never appears in an error message.
                if isinstance(exc, _Missing):
                    reason = str(exc)
                elif setting.secret:
                    reason = "is invalid"
                else:
                    reason = f"is invalid: {exc}"
                problems.append(
                    f"{setting.env} {reason}; set the Ansible variable {setting.ansible_var}"
                )
        if problems:
            raise SettingsError(
                f"{self.title}: invalid plugin settings in the environment file:\n  "
                + "\n  ".join(problems)
            )
        return LoadedSettings(self, values)
