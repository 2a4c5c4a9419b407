"""Each platform-wide value has one home, and no role reads another role's files.

The platform values (docs/design/platform-values.md) are declared in the wiring file
inventories/example/group_vars/all/platform.yml and handed to the roles from there; a plugin's
typed settings may keep the same value as its own default (the plugin's declaration, read outside
Ansible too). Any other copy in the product (roles, playbooks, inventories, plugin code) is a
second home that would drift.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = Path("inventories/example/group_vars/all/platform.yml")
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())

# value -> files allowed to spell it out (besides PLATFORM)
SINGLE_HOME = {
    "/OMERO": {Path("plugins/omeroweb_admin_tools/omeroweb_admin_tools/config.py")},
    "5433": {Path("plugins/omero_plugin_common/omero_plugin_common/config.py")},
    "/var/lib/omero-quota": {Path("plugins/omeroweb_admin_tools/omeroweb_admin_tools/config.py")},
    "/var/lib/omero-plugins/upload": {Path("plugins/omeroweb_upload/omeroweb_upload/config.py")},
    "/var/lib/openhcs/work": {Path("plugins/omeroweb_openhcs/omeroweb_openhcs/config.py")},
    "/opt/openhcs/bin/openhcs-bridge": {Path("plugins/omeroweb_openhcs/omeroweb_openhcs/config.py")},
}
PATTERNS = {
    "/OMERO": re.compile(r"(?<![\w.])/OMERO(?![\w.-])"),
    "5433": re.compile(r"(?<!\d)5433(?!\d)"),
    "/var/lib/omero-quota": re.compile(r"/var/lib/omero-quota(?![\w-])"),
    "/var/lib/omero-plugins/upload": re.compile(r"/var/lib/omero-plugins/upload(?![\w-])"),
    "/var/lib/openhcs/work": re.compile(r"/var/lib/openhcs/work(?![\w-])"),
    "/opt/openhcs/bin/openhcs-bridge": re.compile(r"/opt/openhcs/bin/openhcs-bridge(?![\w-])"),
}
SUFFIXES = {".yml", ".yaml", ".j2", ".py", ".sh", ".cfg", ".conf", ""}


def product_files():
    """Deployed or deploying files: not tests, scenarios, docs or caches."""
    for top in ("roles", "playbooks", "inventories", "plugins", "filter_plugins", "files", "templates"):
        for path in (ROOT / top).rglob("*"):
            rel = path.relative_to(ROOT)
            skipped = {"molecule", "tests", "testing", "__pycache__", "node_modules", "build"}
            if (not path.is_file() or path.is_symlink() or path.suffix not in SUFFIXES
                    or any(p in skipped or p.startswith(".") or p.endswith(".egg-info") for p in rel.parts)):
                continue
            yield rel


def code_lines(path: Path):
    """Lines that declare or use something: comments (YAML, Jinja, shell, Python) are left out."""
    for n, line in enumerate((ROOT / path).read_text(errors="replace").splitlines(), 1):
        if line.lstrip().startswith(("#", "{#")):
            continue
        yield n, line


@pytest.mark.parametrize("value", sorted(SINGLE_HOME))
def test_platform_value_has_one_home(value):
    homes = SINGLE_HOME[value] | {PLATFORM}
    copies = [f"{rel}:{n}" for rel in product_files() if rel not in homes
              for n, line in code_lines(rel) if PATTERNS[value].search(line)]
    assert not copies, (f"{value} is declared in {PLATFORM} (platform values) and may be repeated only in "
                        f"{sorted(map(str, SINGLE_HOME[value]))}; hand it over as a variable instead of: {copies}")
    declared = [n for n, line in code_lines(PLATFORM) if PATTERNS[value].search(line)]
    assert len(declared) == 1, f"{value} should be written once in {PLATFORM}, found on lines {declared}"


# role_path followed by a way out of the role: /.., | dirname, ~ '/..'
OUTSIDE = re.compile(r"role_path\s*(\}\}\s*/\.\.|\|\s*dirname|~\s*['\"]/\.\.)")


def role_reaches_outside(role: Path) -> list[str]:
    hits = []
    for path in role.rglob("*"):
        if not path.is_file() or "molecule" in path.relative_to(role).parts or path.suffix not in SUFFIXES:
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    return hits


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_reads_no_file_outside_itself(role):
    """A file a role needs from elsewhere (another role, the repository's files/) is handed to it
    as a variable by the playbooks; role_path never climbs out of the role."""
    hits = role_reaches_outside(role)
    assert not hits, "role_path leaves the role (hand the path over as a variable): " + "; ".join(hits)


def test_the_role_path_check_finds_a_climb(tmp_path):
    role = tmp_path / "r"
    (role / "tasks").mkdir(parents=True)
    (role / "tasks/main.yml").write_text('src: "{{ role_path | dirname | dirname }}/files/x"\n'
                                         'dir: "{{ role_path }}/.."\n')
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert len(role_reaches_outside(role)) == 2
    finally:
        ROOT = saved


def test_the_literal_check_sees_each_pattern():
    samples = {"/OMERO": "path: /OMERO", "5433": "port: 5433",
               "/var/lib/omero-quota": "dir: /var/lib/omero-quota",
               "/var/lib/omero-plugins/upload": "d: '/var/lib/omero-plugins/upload'"}
    for value, sample in samples.items():
        assert PATTERNS[value].search(sample), value
    assert not PATTERNS["/OMERO"].search("/OMERO.server") and not PATTERNS["5433"].search("54331")
