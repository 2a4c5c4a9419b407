"""The systemd sandbox filter: its baseline, its parameters, and that every unit uses it."""

import configparser
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("systemd_sandbox", ROOT / "filter_plugins/systemd_sandbox.py")
sandbox = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sandbox)
render = sandbox.systemd_sandbox


def directives(text: str) -> list[tuple[str, str]]:
    return [tuple(line.split("=", 1)) for line in text.splitlines()]


def test_baseline_sets_every_directive_once_with_the_strict_values():
    out = dict(directives(render([])))
    assert out["ProtectSystem"] == "strict"
    assert out["NoNewPrivileges"] == "yes"
    assert out["CapabilityBoundingSet"] == ""
    assert out["RestrictAddressFamilies"] == "AF_UNIX AF_INET AF_INET6"
    assert out["UMask"] == "0077"
    assert "ReadWritePaths" not in out and "PrivateNetwork" not in out
    names = [name for name, _ in directives(render([]))]
    assert names.count("SystemCallFilter") == 2
    assert len(names) == len(set(names)) + 1


def test_system_call_filter_allows_then_denies():
    lines = [v for k, v in directives(render([], syscalls=["quotactl"])) if k == "SystemCallFilter"]
    assert lines == ["@system-service quotactl", "~@privileged @resources"]
    lines = [v for k, v in directives(render([], syscalls_denied=[])) if k == "SystemCallFilter"]
    assert lines == ["@system-service"]


def test_parameters_fill_their_directives():
    out = dict(directives(render(["/var/lib/a", "", "-/opt/b"], capabilities=["CAP_FOWNER"], network=False,
                                 address_families=["AF_UNIX"], protect_home="read-only", umask="0027",
                                 extra={"KeyringMode": "private"})))
    assert out["ReadWritePaths"] == "/var/lib/a -/opt/b"
    assert out["CapabilityBoundingSet"] == "CAP_FOWNER"
    assert out["PrivateNetwork"] == "yes"
    assert out["RestrictAddressFamilies"] == "AF_UNIX"
    assert out["ProtectHome"] == "read-only"
    assert out["UMask"] == "0027"
    assert out["KeyringMode"] == "private"


def test_relax_leaves_out_only_the_named_directives():
    full = dict(directives(render([])))
    relaxed = dict(directives(render([], relax=["MemoryDenyWriteExecute", "RemoveIPC"])))
    assert set(full) - set(relaxed) == {"MemoryDenyWriteExecute", "RemoveIPC"}


@pytest.mark.parametrize("kwargs, message", [
    ({"relax": ["MemoryDenyWriteExcute"]}, "relax names no baseline directive"),
    ({"relax": ["SystemCallFilter"]}, "cannot be relaxed"),
    ({"extra": {"UMask": "0022"}}, "use the filter's parameters"),
    ({"protect_home": "no"}, "protect_home must be"),
    ({"address_families": []}, "address_families is empty"),
    ({"capabilities": "CAP_FOWNER"}, "capabilities must be a list"),
])
def test_mistakes_are_refused_with_a_sentence(kwargs, message):
    with pytest.raises(Exception, match=message):
        render([], **kwargs)


def test_a_string_of_paths_is_refused():
    with pytest.raises(Exception, match="must be a list"):
        render("/var/lib/a /var/lib/b")


@pytest.mark.parametrize("kwargs", [{}, {"network": False, "address_families": ["AF_UNIX"]},
                                    {"relax": sorted(sandbox.BASELINE_NAMES - sandbox.REQUIRED)}])
def test_systemd_accepts_every_directive(tmp_path, kwargs):
    """systemd-analyze verify knows every key and value the filter writes (no 'Unknown key')."""
    unit = tmp_path / "oae-sandbox-check.service"
    unit.write_text("[Unit]\nDescription=sandbox check\n[Service]\nExecStart=/bin/true\n"
                    + render(["/var/lib"], **kwargs) + "\n")
    result = subprocess.run([shutil.which("systemd-analyze") or "systemd-analyze", "verify", "--man=no", str(unit)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "ignoring" not in result.stderr, result.stderr


def test_no_unit_template_writes_its_own_sandbox():
    """The sandbox is written in one place: a template that spells these out is a second copy."""
    copies = []
    for path in ROOT.glob("roles/*/templates/**/*.j2"):
        text = path.read_text()
        hits = [d for d in ("ProtectKernelModules=", "RestrictNamespaces=", "SystemCallArchitectures=")
                if re.search(rf"^{d}", text, re.M)]
        if hits:
            copies.append(f"{path.relative_to(ROOT)}: {hits}")
    assert not copies, "hand-written sandbox directives (use the systemd_sandbox filter): " + "; ".join(copies)


def test_ansible_and_molecule_load_the_filter_from_the_same_directory():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "ansible.cfg")
    assert (ROOT / cfg["defaults"]["filter_plugins"] / "systemd_sandbox.py").is_file()
    molecule = yaml.safe_load((ROOT / ".config/molecule/config.yml").read_text())
    plugins_dir = cfg["defaults"]["filter_plugins"]
    assert molecule["provisioner"]["env"]["ANSIBLE_FILTER_PLUGINS"] == "${OAE_ROOT}/" + plugins_dir


def test_ansible_templates_with_the_filter(tmp_path):
    """Through Ansible itself, as a role's template task would."""
    ansible = Path(sys.executable).parent / "ansible"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    result = subprocess.run(
        [str(ansible), "localhost", "-i", "localhost,", "-c", "local", "-m", "ansible.builtin.debug",
         "-a", "msg={{ ['/srv/x'] | systemd_sandbox(umask='0027') }}"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ReadWritePaths=/srv/x" in result.stdout and "UMask=0027" in result.stdout
