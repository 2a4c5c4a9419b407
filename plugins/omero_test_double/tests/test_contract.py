"""Every public member of every fake class resolves to a concrete member of the real omero-py
class it mirrors, with the same parameters."""

from __future__ import annotations

import inspect
from typing import Any

import omero.gateway
import pytest

import omero_test_double
from omero_test_double.contract import (
    check_class,
    compare,
    distinct_real_members,
    fake_classes,
    fake_of,
    mirrors,
    resolve,
    undecorate,
)
from omero_test_double.pytest_plugin import contract_summary

MIN_EXPECTED = 400  # guards against a check that silently compares nothing


def test_every_fake_member_matches_a_real_omero_py_member() -> None:
    classes = fake_classes()
    checks = [check for cls in classes for check in check_class(cls)]
    failures = [f"{c.fake}.{c.member} -> {c.real}: {c.problem}" for c in checks if not c.ok]
    summary = (f"OMERO test double contract: {len(checks)} members of {len(classes)} fake "
               f"classes checked against omero-py ({distinct_real_members(checks)} distinct "
               "real members)")
    print(summary)
    contract_summary[:] = [summary]
    assert not failures, "\n".join(failures)
    assert len(checks) >= MIN_EXPECTED


def test_every_fake_class_declares_the_real_class_it_stands_in_for() -> None:
    import importlib
    import pkgutil

    declared = set(fake_classes())
    for info in pkgutil.iter_modules(omero_test_double.__path__):
        module = importlib.import_module(f"omero_test_double.{info.name}")
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and name.startswith("Fake") and name != "FakeOmero"
                    and obj.__module__ == module.__name__):
                assert obj in declared, f"{name} has no @fake_of declaration"
    real_classes = {cls.__fake_of__ for cls in declared}
    for dotted in real_classes:
        assert inspect.isclass(resolve(dotted)), dotted


def test_the_check_is_the_same_after_omero_web_rebinds_gateway_classes() -> None:
    import omeroweb.webclient.webclient_gateway as web  # rebinds omero.gateway.ImageWrapper

    assert omero.gateway.ImageWrapper is web.ImageWrapper
    assert omero.gateway.BlitzGateway is web.OmeroWebGateway
    failures = [c for cls in fake_classes() for c in check_class(cls) if not c.ok]
    assert not failures


def test_a_wrong_signature_is_caught() -> None:
    @fake_of("omero.gateway._BlitzGateway")
    class WrongGateway:
        def getObjects(self, obj_type: str, ids: Any = None, params: Any = None) -> None:
            """respect_order and opts are missing."""

        def getObject(self, obj_type: str, oid: Any = None, params: Any = None,
                      attributes: Any = None, opts: Any = 1) -> None:
            """opts has the wrong default."""

        def deleteObjects(self, obj_ids: Any, graph_spec: str, deleteAnns: bool = False,
                          deleteChildren: bool = False, dryRun: bool = False,
                          wait: bool = False) -> None:
            """First two parameters swapped."""

    problems = {c.member: c.problem for c in check_class(WrongGateway)}
    assert set(problems) == {"getObjects", "getObject", "deleteObjects"}
    assert all(problem is not None for problem in problems.values())
    assert "respect_order" in problems["getObjects"]


def test_members_that_only_exist_through_getattr_are_refused() -> None:
    @fake_of("omero.gateway._ImageWrapper")
    class DynamicImage:
        def getArchived(self) -> bool:
            """ImageWrapper answers this through __getattr__ only."""
            return False

        @mirrors("omero.model.ImageI.getArchived")
        def isArchived(self) -> bool:
            return False

    problems = {c.member: c.problem for c in check_class(DynamicImage)}
    assert "does not exist" in problems["getArchived"]
    assert problems["isArchived"] is None  # mapped to the real model accessor


def test_ice_context_parameter_rules() -> None:
    real = omero.api.IQueryPrx.findAllByQuery

    def without_ctx(self: Any, query: str, params: Any) -> None: ...
    def with_ctx(self: Any, query: str, params: Any, _ctx: Any = None) -> None: ...
    def bad_ctx(self: Any, query: str, params: Any, _ctx: Any = 0) -> None: ...
    def renamed(self: Any, hql: str, params: Any, _ctx: Any = None) -> None: ...

    assert compare(without_ctx, real) is None
    assert compare(with_ctx, real) is None
    assert compare(bad_ctx, real) is not None
    assert compare(renamed, real) is not None


def test_decorated_real_members_are_compared_by_their_inner_function() -> None:
    inner = undecorate(omero.gateway._ImageWrapper.getPixelSizeX)
    assert list(inspect.signature(inner).parameters) == ["self", "units"]

    def wrong(self: Any, unit: Any = None) -> None: ...

    assert compare(wrong, omero.gateway._ImageWrapper.getPixelSizeX) is not None


def test_values_are_compared_for_class_attributes() -> None:
    @fake_of("omero.gateway._ImageWrapper")
    class Mislabelled:
        OMERO_CLASS = "Dataset"

    (check,) = check_class(Mislabelled)
    assert check.problem is not None


@pytest.mark.parametrize("cls", fake_classes(), ids=lambda cls: cls.__name__)
def test_each_fake_class_passes(cls: type) -> None:
    failures = [c for c in check_class(cls) if not c.ok]
    assert not failures
