"""Declarations that tie each fake member to a concrete member of a real omero-py class, and the
check that compares them.

A fake class names the real class it stands in for with
``@fake_of("omero.gateway._BlitzGateway")``; each public member mirrors the member of the same
name there unless ``@mirrors("pkg.Class.name")`` names another one (wrapper fields that the
real wrapper serves through ``__getattr__`` map to the ``omero.model.*I`` accessor). Real
members are found by plain attribute lookup on the class, which never reaches an instance
``__getattr__``, so dynamic lookups cannot pass for real API.

Fakes name omero-py's own classes by their defining names (``omero.gateway._ImageWrapper``,
``omero.gateway._BlitzGateway``): importing OMERO.web rebinds ``omero.gateway.ImageWrapper``,
``BlitzGateway`` and a few others to its subclasses, which would make the check depend on
import order.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
# Ice proxies end with ``_ctx=None`` and servants with ``current=None``: a fake may leave them out.
_ICE_TRAILERS = ("_ctx", "current")


def fake_of(real: str) -> Callable[[type[T]], type[T]]:
    """Class decorator: the fake stands in for the real class at dotted path ``real``."""

    def decorate(cls: type[T]) -> type[T]:
        cls.__fake_of__ = real  # type: ignore[attr-defined]
        return cls

    return decorate


def mirrors(real_member: str) -> Callable[[T], T]:
    """Member decorator: this member mirrors ``real_member`` ("omero.model.ImageI.getName")."""

    def decorate(member: T) -> T:
        target = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
        target.__mirrors__ = real_member  # type: ignore[attr-defined]
        return member

    return decorate


def resolve(dotted: str) -> Any:
    """Import the longest module prefix of ``dotted``, then walk the rest with getattr."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(dotted)


@dataclass(frozen=True)
class Check:
    fake: str
    member: str
    real: str
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def public_members(cls: type) -> list[str]:
    """Public names the fake class offers (its own and inherited, not object's)."""
    return sorted(
        name for name in dir(cls)
        if not name.startswith("_") and not hasattr(object, name)
    )


def _declared_target(cls: type, name: str) -> str:
    member = inspect.getattr_static(cls, name)
    member = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
    return getattr(member, "__mirrors__", None) or f"{cls.__fake_of__}.{name}"


def undecorate(func: Any) -> Any:
    """The function inside a decorator that did not use functools.wraps.

    omero.gateway's ``assert_pixels`` and ``assert_re`` return ``wrapped(self, *args,
    **kwargs)`` closures; the parameters that count are those of the one function they close
    over.
    """
    while True:
        params = list(inspect.signature(func).parameters.values())
        kinds = [p.kind for p in params]
        closure = getattr(func, "__closure__", None) or ()
        inner = [c.cell_contents for c in closure if inspect.isfunction(c.cell_contents)]
        if (kinds[-2:] != [inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD]
                or len(inner) != 1):
            return func
        func = inner[0]


def _params(func: Any) -> list[inspect.Parameter]:
    params = list(inspect.signature(func).parameters.values())
    if params and params[0].name in ("self", "cls") and not inspect.ismethod(func):
        params = params[1:]
    return params


def _describe(params: list[inspect.Parameter]) -> str:
    return "(" + ", ".join(str(p) for p in params) + ")"


def compare(fake: Any, real: Any) -> str | None:
    """None when ``fake`` accepts exactly the calls ``real`` accepts, else what differs."""
    if not callable(real):
        if callable(fake):
            return f"real member is a {type(real).__name__} value, fake is callable"
        return None if fake == real else f"value {fake!r} != real {real!r}"
    if not callable(fake):
        return "real member is callable, fake is not"
    try:
        real_params = _params(undecorate(real))
    except (TypeError, ValueError) as exc:
        return f"real signature unreadable: {exc}"
    fake_params = _params(fake)
    if real_params and real_params[-1].name in _ICE_TRAILERS:
        trailer = real_params.pop()
        if fake_params and fake_params[-1].name == trailer.name:
            last = fake_params.pop()
            if last.default is not None:
                return f"{trailer.name} must default to None"
    shape_real = [(p.name, p.kind, p.default) for p in real_params]
    shape_fake = [(p.name, p.kind, p.default) for p in fake_params]
    if shape_real != shape_fake:
        return f"signature {_describe(fake_params)} != real {_describe(real_params)}"
    return None


def check_class(cls: type) -> list[Check]:
    """One Check per public member of the fake class ``cls``."""
    checks = []
    for name in public_members(cls):
        target = _declared_target(cls, name)
        problem: str | None
        try:
            real = resolve(target)
        except (ImportError, AttributeError):
            problem = f"{target} does not exist (by plain attribute lookup)"
        else:
            problem = compare(getattr(cls, name), real)
        checks.append(Check(cls.__qualname__, name, target, problem))
    return checks


def fake_classes(module_names: tuple[str, ...] = ()) -> list[type]:
    """Every class declared with @fake_of in this package (and in ``module_names``)."""
    import pkgutil

    import omero_test_double

    names = [f"omero_test_double.{m.name}" for m in pkgutil.iter_modules(
        omero_test_double.__path__)] + list(module_names)
    found: dict[str, type] = {}
    for module_name in names:
        module = importlib.import_module(module_name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and "__fake_of__" in vars(obj):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[key] for key in sorted(found)]


def distinct_real_members(checks: list[Check]) -> int:
    """How many different real members the checks compared against (an inherited member
    checked on several fake subclasses counts once)."""
    seen = set()
    for check in checks:
        try:
            seen.add(id(undecorate(resolve(check.real))))
        except (ImportError, AttributeError, TypeError, ValueError):
            seen.add(id(check))
    return len(seen)
