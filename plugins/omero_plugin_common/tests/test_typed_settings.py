from pathlib import Path, PurePosixPath

import pytest

from omero_plugin_common.config import SETTINGS
from omero_plugin_common.settings_doc import render
from omero_plugin_common.typed_settings import (
    REQUIRED,
    Setting,
    SettingsError,
    SettingsGroup,
    choice_parser,
    parse_abs_path,
    parse_bool,
    parse_float,
    parse_int,
    url_parser,
)

REPO = Path(__file__).resolve().parents[3]

GROUP = SettingsGroup("demo", (
    Setting("DEMO_NAME", "A name.", default="x"),
    Setting("DEMO_COUNT", "A count.", default=5, parser=parse_int,
            minimum=1, maximum=10),
    Setting("DEMO_RATIO", "A ratio.", default=0.5, parser=parse_float,
            minimum=0, maximum=1),
    Setting("DEMO_FLAG", "A flag.", default=False, parser=parse_bool),
    Setting("DEMO_URL", "A URL.", default="http://x", parser=url_parser("http")),
    Setting("DEMO_DIR", "A dir.", default=PurePosixPath("/srv/default"),
            parser=parse_abs_path),
    Setting("DEMO_LEVEL", "A level.", default="info",
            parser=choice_parser("info", "debug")),
    Setting("DEMO_TOKEN", "A secret.", default=REQUIRED, secret=True),
))


def test_defaults_apply_and_values_are_typed():
    s = GROUP.load({"DEMO_TOKEN": "t0p", "DEMO_COUNT": " 7 ", "DEMO_FLAG": "Yes",
                    "DEMO_DIR": "/srv/x"})
    assert (s.demo_name, s.demo_count, s.demo_ratio, s.demo_flag) == ("x", 7, 0.5, True)
    assert s.demo_dir == PurePosixPath("/srv/x")
    assert s.demo_token == "t0p"
    assert "t0p" not in repr(s)


@pytest.mark.parametrize(("env", "value", "expected"), [
    ("DEMO_COUNT", "11", "DEMO_COUNT is invalid: 11 is above the maximum 10;"),
    ("DEMO_COUNT", "0", "below the minimum 1"),
    ("DEMO_COUNT", "ten", "'ten' is not an integer"),
    ("DEMO_RATIO", "1.5", "above the maximum 1"),
    ("DEMO_FLAG", "maybe", "is not a boolean"),
    ("DEMO_URL", "ftp://x", "is not a http URL"),
    ("DEMO_DIR", "relative/dir", "is not an absolute path"),
    ("DEMO_LEVEL", "loud", "is not one of info, debug"),
])
def test_invalid_values_name_the_variable_and_the_ansible_variable(env, value, expected):
    with pytest.raises(SettingsError) as err:
        GROUP.load({"DEMO_TOKEN": "t", env: value})
    message = str(err.value)
    assert expected in message
    assert env in message
    assert f"set the Ansible variable omero_web_plugins_settings.{env}" in message


def test_every_problem_is_reported_at_once_and_secrets_never_leak():
    with pytest.raises(SettingsError) as err:
        SETTINGS.load({"OMERO_PLUGINS_SECRET_KEYS": "not-a-key-SECRETVALUE",
                       "OMP_DATA_PORT": "70000"})
    message = str(err.value)
    assert "OMP_DATA_PASS is required but not set; set the Ansible variable "\
           "omero_web_plugins_settings.OMP_DATA_PASS" in message
    assert "OMERO_PLUGINS_STATE_REDIS_URL is required" in message
    assert "OMP_DATA_PORT is invalid: 70000 is above the maximum 65535" in message
    assert "OMERO_PLUGINS_SECRET_KEYS" in message
    assert "SECRETVALUE" not in message


def test_settings_reference_in_docs_is_generated_and_up_to_date():
    committed = REPO / "docs" / "reference" / "plugin-settings.md"
    assert committed.read_text() == render(), (
        "run: .venv-plugins/bin/omero-plugins-settings-doc --write "
        "docs/reference/plugin-settings.md")


def test_settings_table_lists_every_declared_variable():
    text = render()
    for setting in SETTINGS.settings:
        assert f"| `{setting.env}` | `{setting.ansible_var}` |" in text
