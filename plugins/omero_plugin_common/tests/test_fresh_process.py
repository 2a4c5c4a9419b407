"""Every entry point the platform runs, each in a fresh interpreter: a test suite imports most of
the code before any one test, which hides import-order bugs (the sweep once failed in production
with `cannot import name 'ImageAnnotationLinkI' from 'omero.model'` while every suite passed)."""

import ast
import subprocess
import sys
from importlib.metadata import distributions
from pathlib import Path

import pytest

from omero_plugin_common.plugin import installed_plugins

PLUGINS_DIR = Path(__file__).resolve().parents[2]
OURS = ("omero_plugin_common", "omeroweb_")


def our_console_scripts():
    return sorted({(ep.name, ep.value) for dist in distributions() for ep in dist.entry_points
                   if ep.group == "console_scripts"
                   and dist.metadata["Name"].replace("-", "_").startswith(OURS)})


def fresh(code, timeout=120):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout)


def test_the_console_scripts_are_found():
    names = {name for name, _ in our_console_scripts()}
    assert {"omero-plugins-jobs", "omero-plugins-db", "omero-upload-cleanup"} <= names, names


@pytest.mark.parametrize("name,target", our_console_scripts())
def test_each_console_script_imports_and_answers_help(name, target):
    module, _, func = target.partition(":")
    proc = fresh(f"import sys; sys.argv = [{name!r}, '--help']\n"
                 f"from {module} import {func} as main\nsys.exit(main())")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr


def test_all_job_kinds_load_in_registry_order():
    """What the sweep and every worker do first (this failed before omero_io imported
    omero.clients: the imaris connector's imports left omero.model half filled)."""
    proc = fresh("from omero_plugin_common.plugin import installed_plugins\n"
                 "[p.import_jobs() for p in installed_plugins()]")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("plugin", [p.name for p in installed_plugins()])
def test_each_plugin_loads_its_job_kinds_alone(plugin):
    proc = fresh("from omero_plugin_common.plugin import installed_plugins\n"
                 f"[p.import_jobs() for p in installed_plugins() if p.name == {plugin!r}]")
    assert proc.returncode == 0, proc.stderr


def shipped_modules():
    for package in PLUGINS_DIR.glob("*/*/__init__.py"):
        if package.parent.name.startswith(OURS):
            for path in package.parent.rglob("*.py"):
                if "testing" not in path.parts and "tests" not in path.parts:
                    yield path


def uses_model_without_loading_it(path):
    """`omero.model`/`omero.sys` used, but neither `omero.clients` nor `omero.gateway` (which
    fill those namespaces) imported by the module."""
    tree = ast.parse(path.read_text())
    used = loads = False
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            used |= node.module in ("omero.model", "omero.sys")
            loads |= node.module in ("omero.clients", "omero.gateway")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            used |= node.value.id == "omero" and node.attr in ("model", "sys")
        elif isinstance(node, ast.Import):
            loads |= any(a.name in ("omero.clients", "omero.gateway") for a in node.names)
    return used and not loads


def test_modules_using_omero_model_load_it_themselves():
    modules = list(shipped_modules())
    assert len(modules) > 40
    offenders = [str(p.relative_to(PLUGINS_DIR)) for p in modules
                 if uses_model_without_loading_it(p)]
    assert offenders == []


@pytest.mark.parametrize("command", [["omero-upload-cleanup"], ["omero-plugins-jobs", "sweep"]])
def test_a_timer_command_refused_by_the_database_says_so_in_one_sentence(command):
    """What the journal shows while rotate-secrets.yml changes a password under a timer: the
    real plugin database refuses the login, the command exits 1 with a sentence, no traceback."""
    import os

    env = {**os.environ, "OMP_DATA_USER": "no_such_role"}
    proc = subprocess.run([str(Path(sys.executable).parent / command[0]), *command[1:]],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert f"{command[0]}: the plugin database is unavailable, nothing was changed (" \
        in proc.stderr, proc.stderr
    assert "no_such_role" in proc.stderr  # the server's reason, for the operator
