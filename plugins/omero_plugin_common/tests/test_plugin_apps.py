"""Every plugin package is registered, mounted by OMERO.web and guarded at start-up."""

import pytest
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from omero_plugin_common.plugin import installed_plugins

PLUGINS = ["omeroweb_omp_plugin", "omeroweb_upload", "omeroweb_admin_tools",
           "omeroweb_imaris_connector", "omeroweb_openhcs"]


def test_registry_lists_the_platform_first_then_every_plugin():
    names = [p.name for p in installed_plugins()]
    assert names[0] == "omero_plugin_common"
    assert sorted(names[1:]) == sorted(PLUGINS)
    assert {p.queue for p in installed_plugins()} == {"omp", "upload", "imaris_export", "admin",
                                                      "openhcs"}


def test_omero_web_mounted_every_plugin_from_omero_web_apps():
    assert list(settings.ADDITIONAL_APPS) == [p.name for p in installed_plugins()]
    for name in ["omero_plugin_common", *PLUGINS]:
        assert apps.is_installed(name)


@pytest.mark.parametrize("name", PLUGINS)
def test_plugin_refuses_to_start_without_the_platform_app(name, monkeypatch):
    monkeypatch.setattr(settings, "INSTALLED_APPS",
                        tuple(a for a in settings.INSTALLED_APPS if a != "omero_plugin_common"))
    with pytest.raises(ImproperlyConfigured, match="needs omero_plugin_common"):
        apps.get_app_config(name).ready()


def test_db_command_names_the_missing_setting(monkeypatch, capsys):
    from omero_plugin_common.config import common_settings
    from omero_plugin_common.db_cli import main

    monkeypatch.delenv("OMP_DATA_PASS")
    common_settings.cache_clear()
    try:
        assert main(["status"]) == 2
    finally:
        monkeypatch.undo()
        common_settings.cache_clear()
    assert "OMP_DATA_PASS is required but not set; set the Ansible variable " \
           "omero_web_plugins_settings.OMP_DATA_PASS" in capsys.readouterr().err


def test_the_registry_command_prints_what_ansible_deploys(capsys):
    """roles/omero_web deploys one worker unit per queue of this JSON and writes its "Open with"
    entries into omero.web.open_with (tasks/registry.yml)."""
    import json

    from omero_plugin_common.plugin import worker_queues
    from omero_plugin_common.registry_cli import main

    assert main([]) == 0
    registry = json.loads(capsys.readouterr().out)
    assert registry["worker_queues"] == worker_queues()
    # The concurrency the role's defaults had before the plugins declared it.
    assert {w["name"]: w["concurrency"] for w in registry["worker_queues"]} == {
        "admin": 1, "imaris_export": 1, "omp": 2, "upload": 2, "openhcs": 1, "openhcs_gpu": 1}
    # The entries the role's catalogue had before the plugins declared them, in registry order.
    assert registry["open_with"] == [
        ["imaris_export", "omeroweb_imaris_connector_index",
         {"supported_objects": ["image", "images"], "target": "_blank",
          "label": "Export to Imaris…"}],
        ["omp_parse_filenames", "omeroweb_omp_plugin_index",
         {"supported_objects": ["dataset", "datasets", "project"], "target": "_blank",
          "label": "Parse filenames…"}],
        ["openhcs_process", "omeroweb_openhcs_index",
         {"supported_objects": ["plate", "dataset"], "target": "_blank",
          "label": "Process with OpenHCS…"}],
        ["upload_here", "omeroweb_upload_index",
         {"supported_objects": ["project"], "target": "_blank", "label": "Upload here…"}],
    ]


def test_every_open_with_entry_names_a_page_that_resolves():
    """OMERO.web reverses each entry's URL name when it renders the webclient's menu."""
    from django.urls import reverse

    from omero_plugin_common.plugin import open_with_entries

    for _id, url_name, _options in open_with_entries():
        assert reverse(url_name).endswith("/")
