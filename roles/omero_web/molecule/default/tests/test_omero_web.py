"""OMERO.web behind nginx with TLS, on a real systemd host."""

import json
import time


def curl(host, args):
    return host.run(f"curl -sS --max-time 20 {args}")


def test_https_login_page(host):
    out = curl(host, "-k -o /dev/null -w '%{http_code}' https://localhost/webclient/login/")
    assert out.stdout == "200"
    body = curl(host, "-k https://localhost/webclient/login/").stdout
    assert "OMERO.web - Login" in body


def test_http_redirects_to_https_with_hsts(host):
    out = curl(host, "-o /dev/null -w '%{http_code} %{redirect_url}' http://localhost/webclient/")
    assert out.stdout == "301 https://localhost/webclient/"
    headers = curl(host, "-k -I https://localhost/webclient/login/").stdout.lower()
    assert "strict-transport-security: max-age=31536000" in headers
    assert "x-content-type-options: nosniff" in headers
    assert "server: nginx\r" in headers  # no version


def test_static_files_served_by_nginx(host):
    headers = curl(host, "-k -I https://localhost/static/webgateway/css/ome.body.css").stdout.lower()
    assert headers.startswith("http/2 200")
    assert "cache-control: public" in headers


def test_settings_loaded_from_declared_files(host):
    cfg = host.run("sudo -u omero-web env OMERODIR=/opt/omero/web/omerodir HOME=/opt/omero/web/omerodir "
                   "/opt/omero/web/venv/bin/omero config get omero.web.server_list")
    assert json.loads(cfg.stdout) == [["localhost", 4064, "omero"]]
    links = host.run("sudo -u omero-web env OMERODIR=/opt/omero/web/omerodir HOME=/opt/omero/web/omerodir "
                     "/opt/omero/web/venv/bin/omero config get omero.web.ui.top_links")
    assert json.loads(links.stdout) == [["Help", "https://help.example.org", {"target": "_blank"}]]
    for name in ("00-base.omero", "10-site.omero", "20-apps.omero"):
        f = host.file(f"/etc/omero-web/config/{name}")
        assert f.mode == 0o640 and f.user == "root" and f.group == "omero-web"
    # The secret key is in a file only omero-web can read, never in a process's arguments.
    assert "molecule-only-secret-key" not in host.run("cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' '").stdout


def test_debug_is_off_and_login_answers_json_api(host):
    servers = curl(host, "-k https://localhost/api/v0/servers/").stdout
    assert json.loads(servers)["data"][0]["host"] == "localhost"
    missing = curl(host, "-k -o /dev/null -w '%{http_code}' https://localhost/no-such-page/").stdout
    assert missing == "404"
    assert "Traceback" not in curl(host, "-k https://localhost/no-such-page/").stdout


def test_unit_is_hardened(host):
    verify = host.run("systemd-analyze verify /etc/systemd/system/omero-web.service")
    assert verify.rc == 0, verify.stderr
    score = host.run("systemd-analyze security omero-web.service --no-pager | tail -n 1").stdout
    value = float(score.split("exposure level for omero-web.service:")[1].split()[0])
    print(f"omero-web.service exposure {value}")
    assert value <= 3.0, score


def test_gunicorn_comes_back_after_kill_9(host):
    pid = host.run("systemctl show -p MainPID --value omero-web.service").stdout.strip()
    assert pid != "0"
    host.run(f"kill -9 {pid}")
    deadline = time.time() + 30
    code = ""
    while time.time() < deadline:
        code = curl(host, "-k -o /dev/null -w '%{http_code}' https://localhost/webclient/login/").stdout
        if code == "200" and host.run("systemctl show -p MainPID --value omero-web.service").stdout.strip() != pid:
            break
        time.sleep(1)
    assert code == "200"
    assert host.service("omero-web").is_enabled
