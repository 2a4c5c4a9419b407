"""Every role declares each public variable once in defaults/ and once in its argument specs."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent for p in ROOT.glob("roles/*/meta/argument_specs.yml"))


def role_files(role: Path) -> tuple[dict, dict]:
    defaults = yaml.safe_load((role / "defaults/main.yml").read_text()) or {}
    specs = yaml.safe_load((role / "meta/argument_specs.yml").read_text())["argument_specs"]["main"]
    return defaults, specs.get("options", {})


def test_every_role_has_argument_specs():
    roles = sorted(p.name for p in ROOT.glob("roles/*") if p.is_dir())
    assert roles, "no roles found"
    assert [r.name for r in ROLES] == roles


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_defaults_and_specs_list_the_same_variables(role):
    defaults, options = role_files(role)
    required = {k for k, v in options.items() if v.get("required")}
    assert set(defaults) == set(options) - required, (
        f"only in defaults: {sorted(set(defaults) - set(options))}; "
        f"only in argument_specs: {sorted(set(options) - set(defaults) - required)}"
    )


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_variables_are_prefixed_and_described(role):
    _, options = role_files(role)
    for name, spec in options.items():
        assert name.startswith(f"{role.name}_"), f"{name} lacks the {role.name}_ prefix"
        assert spec.get("type"), f"{name} has no type"
        assert spec.get("description"), f"{name} has no description"
        # Defaults live in defaults/main.yml only, so the two files cannot drift apart.
        assert "default" not in spec, f"{name}: move the default to defaults/main.yml"


def test_a_missing_spec_is_detected(tmp_path):
    role = tmp_path / "demo"
    (role / "defaults").mkdir(parents=True)
    (role / "meta").mkdir()
    (role / "defaults/main.yml").write_text("demo_a: 1\ndemo_b: 2\n")
    (role / "meta/argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    options:\n      demo_a: {type: int, description: x}\n"
    )
    defaults, options = role_files(role)
    assert set(defaults) != set(options)
