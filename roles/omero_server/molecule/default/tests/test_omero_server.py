"""OMERO.server role on a real systemd host, installed from a SYNTHETIC release zip.

The real zip and Ice 3.6 cannot be fetched here, so nothing starts the server: these tests
check everything up to the start, with the real omero CLI from the venv.
"""

import re
import shlex

import pytest

BASE = "/opt/omero/server"
CURRENT = f"{BASE}/OMERO.server"
CLI = f"{BASE}/bin/omero"
USER = "omero-server"
UNIT = "omero-server.service"
SCRIPTS = f"{CURRENT}/lib/scripts/omero"

# Every setting the role renders, as the scenario sets it (molecule.yml and converge.yml).
EXPECTED_CONFIG = {
    "omero.db.host": "db.example.org",
    "omero.db.port": "5432",
    "omero.db.name": "omero",
    "omero.db.user": "omero",
    "omero.db.poolsize": "60",
    "omero.data.dir": "/srv/omero-data",
    "omero.fs.repo.path": "%group%/%user%/%year%-%month%-%day%/%time%",
    "omero.fs.maxRetries": "5",
    "omero.fs.retryInterval": "3",
    "omero.security.login_failure_throttle_count": "5",
    "omero.security.login_failure_throttle_time": "60000",
    "omero.scripts.processors": "8",
    "omero.scripts.python": f"{BASE}/venv/bin/python",
    "omero.jvmcfg.heap_size.blitz": "2G",
    "omero.glacier2.IceSSL.DefaultDir": "/srv/omero-data/certs",
    "omero.glacier2.IceSSL.CertFile": "server.p12",
    "omero.glacier2.IceSSL.CAs": "server.pem",
    "omero.glacier2.IceSSL.Protocols": "TLS1_2,TLS1_3",
    "omero.certificates.commonname": "localhost",
    "omero.ldap.config": "true",
    "omero.ldap.urls": "ldaps://ldap.example.org:636",
    "omero.ldap.username": "cn=omero,ou=services,dc=example,dc=org",
    "omero.ldap.user_filter": "(objectClass=person)",
    "omero.ldap.new_user_group": ":ou:",
    "omero.ldap.sync_on_login": "true",
    "omero.mail.config": "true",
    "omero.client.ui.tree.type_order": '["project", "dataset", "screen", "plate"]',
}
SECRETS = {
    "omero.db.pass": "db p@ss 'with' $pecial \"chars\"",
    "omero.glacier2.IceSSL.Password": "cert-secret",
    "omero.ldap.password": "ldap-secret",
}
PINNED = {
    "zeroc-ice": "3.6.5", "omero-py": "5.23.0", "omero-dropbox": "5.7.0",
    "omero-cli-render": "0.8.1", "omero-metadata": "0.14.0", "omero-cli-duplicate": "0.4.0",
    "omero-rdf": "0.7.2", "omero-certificates": "0.4.0", "reportlab": "5.1.0", "Markdown": "3.11.3",
}


def as_service_user(host, command: str):
    return host.run(f"runuser -u {USER} -- {command}")


@pytest.fixture(scope="module")
def config(host) -> dict[str, str]:
    out = as_service_user(host, f"{CLI} config get --show-password")
    assert out.rc == 0, out.stderr
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


def test_service_account(host):
    user = host.user(USER)
    assert user.exists and user.group == USER
    assert user.shell == "/usr/sbin/nologin"
    assert "omero-data" in user.groups


def test_versioned_install_behind_a_stable_symlink(host):
    link = host.file(CURRENT)
    assert link.is_symlink and link.linked_to == f"{BASE}/OMERO.server-5.6.90-ice36"
    for sub in ["bin", "etc/grid", "lib/server", "lib/scripts/omero", "sql/psql/OMERO5.4__0"]:
        assert host.file(f"{CURRENT}/{sub}").is_directory, sub
    # The release's own Python is superseded by the venv.
    assert not host.file(f"{CURRENT}/lib/python").exists
    assert host.file(f"{CURRENT}/lib/server").user == "root"
    assert host.file(f"{CURRENT}/etc/grid").user == USER
    assert host.file(f"{CURRENT}/var").linked_to == "/var/lib/omero-server/var"


def test_site_script_in_official_directory(host):
    script = host.file(f"{SCRIPTS}/util_scripts/Site_Script.py")
    assert (script.user, script.mode) == ("root", 0o644)
    assert "scripts.client(\"Site_Script.py\"" in script.content_string


def test_pinned_omero_scripts_replace_the_zips(host):
    # The wheel's tree, not the zip's: the zip-only script is gone, the wheel's are there.
    assert not host.file(f"{SCRIPTS}/util_scripts/Synthetic_Script.py").exists
    for rel, name in [("util_scripts/Combine_Images.py", "Combine_Images.py"),
                      ("export_scripts/Batch_Image_Export.py", "Batch_Image_Export.py"),
                      ("figure_scripts/Split_View_Figure.py", "Split_View_Figure.py")]:
        script = host.file(f"{SCRIPTS}/{rel}")
        assert (script.user, script.group, script.mode) == ("root", "root", 0o644), rel
        assert f"{name} from synthetic release 5.10.0" in script.content_string
    assert host.file(f"{SCRIPTS}/.omero-scripts").content_string.strip() == "omero_scripts-5.10.0-py3-none-any.whl"
    # Nothing of the wheel's metadata lands among the scripts.
    assert not host.run(f"find {SCRIPTS} -name '*.dist-info'").stdout.strip()


def test_script_tree_modes(host):
    # Root owns every script; nobody but root can change one (the processors run them).
    out = host.run(f"find {SCRIPTS} \\( -type f ! -perm 0644 \\) -o \\( -type d ! -perm 0755 \\) -o ! -user root")
    assert out.rc == 0 and out.stdout.strip() == "", out.stdout


def test_figure_and_imaris_scripts(host):
    figure = host.file(f"{SCRIPTS}/figure_scripts/Figure_To_Pdf.py")
    assert (figure.user, figure.mode) == ("root", 0o644)
    assert 'VERSION = "7.3.1"' in figure.content_string
    ims = host.file(f"{SCRIPTS}/export_scripts/IMS_Export.py")
    assert (ims.user, ims.mode) == ("root", 0o644)
    assert "IMS_Export.py from synthetic release 1.0.0" in ims.content_string


def test_downloader_versioned_behind_symlinks(host):
    current = host.file("/opt/omero/downloader/current")
    assert current.is_symlink and current.linked_to == "/opt/omero/downloader/OMERO.downloader-0.3.3"
    assert host.file("/usr/local/bin/omero-downloader").linked_to == \
        "/opt/omero/downloader/OMERO.downloader-0.3.3/OMERO.downloader-0.3.3/bin/omero-downloader"
    # The command follows current, so a version switch moves it too.
    assert host.check_output("readlink /usr/local/bin/omero-downloader") == \
        "/opt/omero/downloader/current/OMERO.downloader-0.3.3/bin/omero-downloader"
    out = host.run("runuser -u nobody -- /usr/local/bin/omero-downloader")
    assert out.rc == 0 and "OMERO.downloader 0.3.3 (synthetic)" in out.stdout


def test_refused_version_left_no_trace(host):
    # converge ran the role for 5.6.91 with a wrong checksum: nothing of it reached the host.
    assert not host.file(f"{BASE}/OMERO.server-5.6.91-ice36").exists
    assert not host.file(f"{BASE}/artifacts/OMERO.server-5.6.91-ice36.zip").exists
    assert host.file(f"{BASE}/artifacts/OMERO.server-5.6.90-ice36.zip").exists


def test_java_runtime(host):
    out = host.run("java -version")
    assert out.rc == 0 and 'version "17' in out.stderr


@pytest.mark.parametrize(("package", "version"), sorted(PINNED.items()))
def test_venv_packages_pinned(host, package, version):
    out = host.run(f"{BASE}/venv/bin/python -m pip show {package}")
    assert out.rc == 0, out.stderr
    assert re.search(rf"^Version: {re.escape(version)}$", out.stdout, re.M)


def test_venv_uses_the_host_python(host):
    cfg = host.file(f"{BASE}/venv/pyvenv.cfg").content_string
    assert "home = /usr/bin" in cfg
    # Only root may change the venv.
    assert host.file(f"{BASE}/venv/lib").user == "root"


def test_omero_version_as_service_user(host):
    out = as_service_user(host, f"{CLI} version")
    assert out.rc == 0, out.stderr
    assert "5.23.0" in out.stdout


def test_cli_plugins_load(host):
    out = as_service_user(host, f"{CLI} --help")
    assert out.rc == 0, out.stderr
    for plugin in ["render", "metadata", "duplicate", "rdf", "certificates", "config", "admin"]:
        assert re.search(rf"^\s+{plugin}\b", out.stdout, re.M), plugin


@pytest.mark.parametrize("key", sorted(EXPECTED_CONFIG))
def test_rendered_setting(config, key):
    assert config.get(key) == EXPECTED_CONFIG[key]


@pytest.mark.parametrize("key", sorted(SECRETS))
def test_secret_setting(config, key):
    assert config.get(key) == SECRETS[key]


def test_ldap_empty_base_is_set(config):
    assert config.get("omero.ldap.base", "<unset>") == ""


def test_no_unmanaged_settings(config):
    # 00-reset drops everything first: only what the fragments say is in the configuration.
    expected = set(EXPECTED_CONFIG) | set(SECRETS) | {
        "omero.glacier2.IceSSL.Ciphers", "omero.glacier2.IceSSL.ProtocolVersionMax", "omero.ldap.base",
    }
    assert set(config) == expected


def test_manual_settings_are_dropped_at_load(host):
    assert as_service_user(host, f"{CLI} config set omero.example.manual yes").rc == 0
    out = as_service_user(host, f"{CLI} load --glob '/etc/omero-server/*.omero'")
    assert out.rc == 0, out.stderr
    assert as_service_user(host, f"{CLI} config get omero.example.manual").stdout.strip() == ""


def test_fragment_files_and_modes(host):
    conf_dir = host.file("/etc/omero-server")
    assert conf_dir.mode == 0o750 and conf_dir.group == USER
    names = sorted(host.run("ls /etc/omero-server").stdout.split())
    assert names == [f"{n}.omero" for n in
                     ["00-reset", "10-database", "20-data", "30-security", "40-scripts", "50-jvm",
                      "60-tls", "70-ldap", "90-site"]]
    for name in names:
        fragment = host.file(f"/etc/omero-server/{name}")
        assert (fragment.user, fragment.group, fragment.mode) == ("root", USER, 0o640), name
    # Nobody else can read the password.
    assert host.run("runuser -u nobody -- cat /etc/omero-server/10-database.omero").rc != 0


def test_data_directory(host):
    data = host.file("/srv/omero-data")
    assert data.user == USER and data.mode == 0o750
    repo = host.file("/srv/omero-data/ManagedRepository")
    assert (repo.user, repo.group, repo.mode) == (USER, "omero-data", 0o2770)


def test_certificate_with_sans(host):
    out = host.run("openssl x509 -in /srv/omero-data/certs/server.pem -noout -ext subjectAltName -subject")
    assert out.rc == 0, out.stderr
    for san in ["DNS:localhost", "DNS:omeroserver", "DNS:omero.example.org"]:
        assert san in out.stdout
    assert "CN = localhost" in out.stdout
    key = host.file("/srv/omero-data/certs/server.key")
    assert (key.user, key.group, key.mode) == ("root", USER, 0o640)


def test_pkcs12_opens_with_the_configured_password(host):
    p12 = "/srv/omero-data/certs/server.p12"
    good = host.run(f"P=cert-secret openssl pkcs12 -in {p12} -passin env:P -nokeys -noout")
    bad = host.run(f"P=wrong openssl pkcs12 -in {p12} -passin env:P -nokeys -noout")
    assert good.rc == 0, good.stderr
    assert bad.rc != 0
    # The service user (Glacier2) can read it.
    assert as_service_user(host, f"test -r {p12}").rc == 0


def test_unit_file(host):
    unit = host.file(f"/etc/systemd/system/{UNIT}").content_string
    assert "ExecStart=/opt/omero/server/venv/bin/omero admin start --foreground" in unit
    assert "ExecStartPre=/opt/omero/server/venv/bin/omero load --glob /etc/omero-server/*.omero" in unit
    assert "Restart=on-failure" in unit
    assert re.search(r"^After=.*postgresql@15-omero\.service", unit, re.M)
    # No password on any command line of the unit.
    assert "cert-secret" not in unit and "p@ss" not in unit


def test_unit_properties(host):
    props = host.run(f"systemctl show {UNIT} -p LimitNOFILE -p User -p Type -p ProtectSystem "
                     "-p NoNewPrivileges -p PrivateTmp -p ReadWritePaths").stdout
    for expected in ["LimitNOFILE=15000", "User=omero-server", "Type=simple", "ProtectSystem=strict",
                     "NoNewPrivileges=yes", "PrivateTmp=yes"]:
        assert expected in props
    rw = re.search(r"^ReadWritePaths=(.*)$", props, re.M).group(1).split()
    assert set(rw) == {"/var/lib/omero-server", "/srv/omero-data",
                       f"{BASE}/OMERO.server-5.6.90-ice36/etc/grid"}


def test_unit_verifies_clean(host):
    out = host.run(f"systemd-analyze verify /etc/systemd/system/{UNIT}")
    assert out.rc == 0 and out.stdout.strip() == "" and out.stderr.strip() == "", out.stderr


def test_unit_security_exposure(host):
    out = host.run(f"systemd-analyze security --no-pager {UNIT}")
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out.stdout).group(1))
    assert score <= 3.0, out.stdout


def test_unit_not_started_here(host):
    # No real server zip or Ice 3.6 here: the scenario never starts it (omero_server_service_enabled).
    assert host.run(f"systemctl is-enabled {UNIT}").stdout.strip() == "disabled"
    assert host.run(f"systemctl is-active {UNIT}").stdout.strip() == "inactive"


def test_fragment_quoting_survives_shlex(host):
    # The password holds quotes, $ and spaces: the fragment's quoting must round-trip.
    line = host.run("grep '^config set omero.db.pass ' /etc/omero-server/10-database.omero").stdout
    assert shlex.split(line)[-1] == SECRETS["omero.db.pass"]
