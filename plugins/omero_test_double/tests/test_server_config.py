import omero
import pytest


def test_config_values_are_admin_only_except_client_keys(fake_omero):
    lab = fake_omero.add_group("lab")
    fake_omero.add_user("alice", [lab])
    fake_omero.server_config = {"omero.scripts.processors": "0", "omero.client.ui.x": "y"}
    alice = fake_omero.connect("alice")
    assert alice.getConfigService().getConfigValue("omero.client.ui.x") == "y"
    with pytest.raises(omero.SecurityViolation):
        alice.getConfigService().getConfigValue("omero.scripts.processors")
    root = fake_omero.connect("root")
    assert root.getConfigService().getConfigValue("omero.scripts.processors") == "0"
    assert root.getConfigService().getConfigValue("omero.unset") == ""
    assert fake_omero.calls["IConfig.getConfigValue"] == 4


def test_busy_processors_refuse_script_starts_then_free_up(fake_omero):
    lab = fake_omero.add_group("lab")
    fake_omero.add_user("alice", [lab])
    script_id = fake_omero.add_script("/omero/export/IMS_Export.py", lambda conn, inputs: {})
    fake_omero.busy_script_starts = 2
    scripts = fake_omero.connect("alice").getScriptService()
    for _ in range(2):
        with pytest.raises(omero.NoProcessorAvailable):
            scripts.runScript(script_id, {}, 0)
    assert scripts.runScript(script_id, {}, 0).wait() == 0
    assert len(fake_omero.script_jobs) == 1
