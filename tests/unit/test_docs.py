"""The documentation generated from code is up to date, and the README's commands exist."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_role_variable_reference_is_up_to_date():
    proc = subprocess.run([sys.executable, str(ROOT / "bin/gen-role-reference"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_readme_commands_are_make_targets():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in ("up", "test"):
        assert f"sudo make {target}" in readme
        assert f"\n{target}:" in makefile


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci/run").read_text()


def test_the_test_command_runs_the_main_command_twice_and_verifies_its_host():
    """`make test` runs `make up` itself (not a copy of its steps), twice, the second run held to
    changed=0, then the tests of the host it converged."""
    runner = (ROOT / "bin/test").read_text()
    demo = runner[runner.index("stage_demo() {"):]
    demo = demo[:demo.index("\n}\n")]
    assert "make --no-print-directory up" in demo and "for run in 1 2" in demo
    assert "changed=0" in demo and "tests/system" in demo
    assert "stage_demo" in runner[runner.index("stage_system() {"):]
    assert (ROOT / "tests/system/test_operator.py").is_file()
