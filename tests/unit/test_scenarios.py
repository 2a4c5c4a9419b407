"""Every molecule scenario runs on the one shared harness and checks idempotence and behaviour."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / ".config/molecule/config.yml").read_text())
SCENARIOS = sorted([*ROOT.glob("roles/*/molecule/*/molecule.yml"), *ROOT.glob("molecule/*/molecule.yml")])


def test_there_are_scenarios():
    assert len(SCENARIOS) >= 2


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_scenario_uses_the_shared_harness_and_checks_idempotence(path):
    config = yaml.safe_load(path.read_text()) or {}
    # No scenario brings its own create/destroy: the lab driver is shared.
    playbooks = config.get("provisioner", {}).get("playbooks", {})
    assert "create" not in playbooks and "destroy" not in playbooks
    assert "driver" not in config
    sequence = config.get("scenario", {}).get("test_sequence") or BASE["scenario"]["test_sequence"]
    assert "idempotence" in sequence and "verify" in sequence
    assert sequence.index("converge") < sequence.index("idempotence")
    assert (path.parent / "tests").is_dir() and list((path.parent / "tests").glob("test_*.py"))
    names = [p["name"] for p in config.get("platforms", [])]
    assert names, "a scenario needs at least one lab host"


def test_lab_host_names_are_unique_across_scenarios():
    names = [p["name"] for path in SCENARIOS for p in (yaml.safe_load(path.read_text()) or {}).get("platforms", [])]
    assert len(names) == len(set(names)), sorted(names)
