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


PLUGINS = ["omero_plugin_common", "omeroweb_omp_plugin", "omeroweb_upload",
           "omeroweb_imaris_connector", "omeroweb_admin_tools", "omeroweb_openhcs"]


def test_each_plugin_page_is_in_the_webclient_open_with_menu(tmp_path):
    entries = render(tmp_path, omero_web_plugins=PLUGINS)["omero.web.open_with"]
    by_label = {e[2].get("label", e[0]): e for e in entries}
    # OMERO.web's own image viewer stays first.
    assert entries[0][1] == "webgateway"
    assert by_label["Parse filenames…"][1] == "omeroweb_omp_plugin_index"
    assert by_label["Parse filenames…"][2]["supported_objects"] == ["dataset", "datasets", "project"]
    assert by_label["Upload here…"][1] == "omeroweb_upload_index"
    assert by_label["Upload here…"][2]["supported_objects"] == ["project"]
    assert by_label["Export to Imaris…"][1] == "omeroweb_imaris_connector_index"
    assert by_label["Export to Imaris…"][2]["supported_objects"] == ["image", "images"]
    assert by_label["Process with OpenHCS…"][1] == "omeroweb_openhcs_index"
    assert by_label["Process with OpenHCS…"][2]["supported_objects"] == ["plate", "dataset"]


def test_entries_only_for_installed_plugins_and_site_entries_after(tmp_path):
    site = ["my_viewer", "https://viewer.example.org/", {"supported_objects": ["image"]}]
    entries = render(tmp_path, omero_web_plugins=["omero_plugin_common", "omeroweb_upload"],
                     omero_web_open_with=[site])["omero.web.open_with"]
    assert [e[0] for e in entries] == ["Image viewer", "upload_here", "my_viewer"]


@pytest.mark.parametrize("plugins", [[], PLUGINS])
def test_switched_off_or_no_plugins_adds_no_entries(tmp_path, plugins):
    settings = render(tmp_path, omero_web_plugins=plugins, omero_web_plugin_open_with=False)
    assert "omero.web.open_with" not in settings
