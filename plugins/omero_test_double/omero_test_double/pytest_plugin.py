"""pytest plugin (entry point ``pytest11``): fixtures for tests that use the OMERO test double."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from .store import FakeOmero, Group, Record, User

contract_summary: list[str] = []


@dataclass
class OmeroWorld:
    """A small lab: alice and bob in "lab", bob and carol in "other" (read-write); alice owns
    project P1 > dataset D1 > image a_b_c.tif (40x30, 3 z, 2 c, 2 t, uint16)."""

    omero: FakeOmero
    lab: Group
    other: Group
    alice: User
    bob: User
    carol: User
    project: Record
    dataset: Record
    image: Record


def build_world(level: str = "read-annotate") -> OmeroWorld:
    omero = FakeOmero()
    lab = omero.add_group("lab", permissions=level)
    other = omero.add_group("other", permissions="read-write")
    alice = omero.add_user("alice", groups=[lab], last_name="Liddell")
    bob = omero.add_user("bob", groups=[lab, other])
    carol = omero.add_user("carol", groups=[other])
    project = omero.add_project("P1", owner=alice, group=lab)
    dataset = omero.add_dataset("D1", owner=alice, group=lab, project=project)
    image = omero.add_image("a_b_c.tif", owner=alice, group=lab, dataset=dataset,
                            size=(40, 30, 3, 2, 2), pixel_type="uint16",
                            physical_size=(0.1, 0.1, 0.5))
    return OmeroWorld(omero, lab, other, alice, bob, carol, project, dataset, image)


@pytest.fixture
def fake_omero() -> FakeOmero:
    """An empty fake server (root, system and user groups only)."""
    return FakeOmero()


@pytest.fixture
def omero_world() -> OmeroWorld:
    """The small lab of build_world(), in a read-annotate group."""
    return build_world()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say on every run how many fake members the contract test compared."""
    for line in contract_summary:
        terminalreporter.write_line(line)
