"""The webclient's "Open with" entries for the platform plugins, as roles/omero_web renders them
into 20-apps.omero: Ansible itself renders the template with the role's defaults and vars."""

import json
import os
import shlex
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles/omero_web"


def render(tmp_path: Path, **overrides) -> dict[str, object]:
    """The `config set` lines of 20-apps.omero for these variables, as {key: value}."""
    out = tmp_path / "20-apps.omero"
    (tmp_path / "overrides.json").write_text(json.dumps(overrides))
    (tmp_path / "render.yml").write_text(textwrap.dedent(f"""\
        - hosts: localhost
          connection: local
          gather_facts: false
          vars_files: ["{ROLE}/defaults/main.yml", "{ROLE}/vars/main.yml"]
          tasks:
            - name: Render the apps' settings
              ansible.builtin.template:
                src: "{ROLE}/templates/20-apps.omero.j2"
                dest: "{out}"
                mode: "0600"
        """))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    run = subprocess.run(["ansible-playbook", "-i", "localhost,", str(tmp_path / "render.yml"),
                          "-e", f"@{tmp_path / 'overrides.json'}"],
                         capture_output=True, text=True, env=env, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    settings = {}
    for line in out.read_text().splitlines():
        if line.startswith("config set "):
            _, _, key, value = shlex.split(line)
            settings[key] = json.loads(value) if value[:1] in "[{" else value
    return settings


# What `omero-plugins-registry` prints on a host with the upload and Imaris plugins (its real
# output is asserted in plugins/omero_plugin_common/tests/test_plugin_apps.py); the role registers
# it in tasks/registry.yml.
REGISTRY = {
    "worker_queues": [{"name": "admin", "concurrency": 1}, {"name": "upload", "concurrency": 2}],
    "open_with": [
        ["imaris_export", "omeroweb_imaris_connector_index",
         {"supported_objects": ["image", "images"], "target": "_blank", "label": "Export to Imaris…"}],
        ["upload_here", "omeroweb_upload_index",
         {"supported_objects": ["project"], "target": "_blank", "label": "Upload here…"}],
    ],
}
REGISTERED = {"__omero_web_plugin_registry": {"stdout": json.dumps(REGISTRY)}}


def test_the_installed_plugins_entries_follow_omero_webs_own(tmp_path):
    entries = render(tmp_path, **REGISTERED)["omero.web.open_with"]
    # OMERO.web's own image viewer stays first; then the plugins' entries as they declare them.
    assert entries[0][1] == "webgateway"
    assert entries[1:] == REGISTRY["open_with"]


def test_site_entries_come_after_the_plugins(tmp_path):
    site = ["my_viewer", "https://viewer.example.org/", {"supported_objects": ["image"]}]
    entries = render(tmp_path, omero_web_open_with=[site], **REGISTERED)["omero.web.open_with"]
    assert [e[0] for e in entries] == ["Image viewer", "imaris_export", "upload_here", "my_viewer"]


@pytest.mark.parametrize("registered", [{}, REGISTERED])
def test_switched_off_or_no_registry_adds_no_entries(tmp_path, registered):
    settings = render(tmp_path, omero_web_plugin_open_with=False, **registered)
    assert "omero.web.open_with" not in settings
