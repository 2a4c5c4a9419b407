"""Every task and handler in a role is named "<role> | Sentence" (handlers: "Restart <unit>" style)."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TASK_FILES = sorted(ROOT.glob("roles/*/tasks/*.yml"))


def named_items(path: Path):
    for item in yaml.safe_load(path.read_text()) or []:
        yield item.get("name"), item
        for key in ("block", "rescue", "always"):
            for sub in item.get(key, []):
                yield sub.get("name"), sub


@pytest.mark.parametrize("path", TASK_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_tasks_are_named_role_pipe_sentence(path):
    role = path.parts[-3]
    pattern = re.compile(rf"^{re.escape(role)} \| [A-Z]")
    for name, _ in named_items(path):
        assert name and pattern.match(name), f"{path.name}: task {name!r} should read '{role} | Sentence'"


@pytest.mark.parametrize("path", sorted(ROOT.glob("roles/*/handlers/main.yml")), ids=lambda p: p.parts[-3])
def test_handlers_start_with_a_capital(path):
    for name, _ in named_items(path):
        assert name and name[0].isupper(), f"handler {name!r} should start with a capital letter"


def test_a_bad_name_is_caught():
    assert not re.match(r"^common \| [A-Z]", "common | install things")
