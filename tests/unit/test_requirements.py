"""requirements.yml pins exactly the collection versions the pinned ansible package bundles."""

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def bundled_versions() -> dict[str, str]:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-galaxy"), "collection", "list", "--format", "json"],
        capture_output=True, text=True, check=True,
    ).stdout
    versions: dict[str, str] = {}
    for path_collections in json.loads(out).values():
        for name, info in path_collections.items():
            versions.setdefault(name, info["version"])
    return versions


def test_requirements_match_bundled_collections():
    wanted = yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]
    bundled = bundled_versions()
    assert wanted, "requirements.yml lists no collections"
    for entry in wanted:
        assert entry["name"] in bundled, f"{entry['name']} is not bundled with the pinned ansible"
        assert entry["version"] == bundled[entry["name"]], (
            f"{entry['name']}: requirements.yml pins {entry['version']}, ansible bundles {bundled[entry['name']]}"
        )


MODULE_KEY = re.compile(r"^\s*(?:- )?([a-z0-9_]+\.[a-z0-9_]+)\.[a-z0-9_]+:\s*$")


def test_roles_use_only_pinned_collections():
    pinned = {c["name"] for c in yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]}
    used = set()
    files = [*ROOT.glob("roles/*/tasks/*.yml"), *ROOT.glob("roles/*/handlers/*.yml"), *ROOT.glob("playbooks/*.yml")]
    for task_file in files:
        for line in task_file.read_text().splitlines():
            match = MODULE_KEY.match(line)
            if match:
                used.add(match.group(1))
    used.discard("ansible.builtin")
    assert used, "no collection modules found: the pattern is broken"
    assert used <= pinned, f"collections used but not pinned in requirements.yml: {sorted(used - pinned)}"
