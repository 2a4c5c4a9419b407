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


SECURITY_HEADERS = ("strict-transport-security", "x-content-type-options", "x-frame-options",
                    "referrer-policy", "content-security-policy")


def header_lines(host, path):
    out = curl(host, f"-k -s -D - -o /dev/null https://localhost{path}").stdout.lower()
    return [line.split(":", 1) for line in out.splitlines() if ":" in line]


def test_each_security_header_once(host):
    """nginx owns the security headers: Django's X-Frame-Options is hidden, so each comes once,
    on proxied pages, static files and errors alike."""
    for path in ("/webclient/login/", "/static/webgateway/css/ome.body.css", "/no-such-page/",
                 "/branding/logo.png"):
        lines = header_lines(host, path)
        names = [name for name, _ in lines]
        for header in SECURITY_HEADERS:
            assert names.count(header) == 1, f"{path}: {header} x{names.count(header)}"
    policy = dict(header_lines(host, "/webclient/login/"))["content-security-policy"]
    assert policy.strip().startswith("default-src 'self'; script-src 'self' 'unsafe-inline'")
    assert "frame-ancestors 'self'" in policy


def burst(host, path, count):
    """Status codes of `count` requests sent 20 at a time from the host itself, and the seconds
    they took at most (the SSH round trip included)."""
    began = time.monotonic()
    out = host.run(f"seq {count} | xargs -P 20 -I{{}} curl -sk -o /dev/null -w '%{{http_code}}\\n' "
                   f"https://localhost{path}").stdout.split()
    return {code: out.count(code) for code in set(out)}, time.monotonic() - began


def test_anonymous_routes_are_rate_limited_per_address(host):
    """Beyond the burst nginx answers 429 itself: no more pass than burst + rate x time (the
    role's defaults: health 10/s burst 20, login 5/s burst 20). Other routes are not limited."""
    health, took = burst(host, "/omero_plugin_common/health/", 150)  # no plugin here: 404
    assert health.get("429", 0) > 0 and set(health) == {"404", "429"}, health
    assert 20 <= health["404"] <= 20 + 10 * took + 1, (health, took)
    static, _ = burst(host, "/static/webgateway/css/ome.body.css", 150)
    assert static == {"200": 150}, static
    login, took = burst(host, "/webclient/login/", 150)
    assert login.get("429", 0) > 0 and set(login) == {"200", "429"}, login
    assert 20 <= login["200"] <= 20 + 5 * took + 1, (login, took)
    print(f"health/: {health}, login: {login}")
    time.sleep(5)  # the login bucket drains (5 a second) before the next tests use the page
    assert curl(host, "-k -o /dev/null -w '%{http_code}' https://localhost/webclient/login/").stdout == "200"


def nginx_main_pid(host):
    return host.run("systemctl show -p MainPID --value nginx.service").stdout.strip()


def login_status(host):
    return curl(host, "-k -o /dev/null -w '%{http_code}' https://localhost/webclient/login/").stdout


def test_nginx_is_sandboxed(host):
    dropin = "/etc/systemd/system/nginx.service.d/omero-web-hardening.conf"
    assert host.file(dropin).contains("^Restart=on-failure")
    # Debian's unit names a man page the host does not have (man:nginx(8)).
    verify = host.run("systemd-analyze verify --man=no nginx.service")
    assert verify.rc == 0, verify.stderr
    score = host.run("systemd-analyze security nginx.service --no-pager | tail -n 1").stdout
    value = float(score.split("exposure level for nginx.service:")[1].split()[0])
    print(f"nginx.service exposure {value}")
    assert value <= 5.0, score
    # The master keeps only the capabilities it needs; the workers run as www-data.
    caps = host.run("systemctl show -p CapabilityBoundingSet --value nginx.service").stdout.split()
    assert set(caps) == {"cap_chown", "cap_dac_override", "cap_setgid", "cap_setuid",
                         "cap_net_bind_service"}, caps
    workers = host.run("ps -o user= --ppid " + nginx_main_pid(host)).stdout.split()
    assert workers and set(workers) == {"www-data"}, workers


def test_nginx_reload_and_restart_work_in_the_sandbox(host):
    pid = nginx_main_pid(host)
    reload = host.run("systemctl reload nginx.service")
    assert reload.rc == 0, reload.stderr
    assert nginx_main_pid(host) == pid and login_status(host) == "200"
    restart = host.run("systemctl restart nginx.service")
    assert restart.rc == 0, restart.stderr
    assert nginx_main_pid(host) not in ("0", pid) and login_status(host) == "200"
    # logrotate's USR1: the master reopens the log files (www-data's) inside the sandbox.
    denied = "grep -c 'denied\\|not permitted' /var/log/nginx/error.log"
    before = host.run(denied).stdout.strip()
    rotate = host.run("systemctl kill -s USR1 --kill-whom=main nginx.service")
    assert rotate.rc == 0, rotate.stderr
    size = int(host.run("stat -c %s /var/log/nginx/access.log").stdout)
    time.sleep(1)
    assert login_status(host) == "200"
    time.sleep(1)
    assert int(host.run("stat -c %s /var/log/nginx/access.log").stdout) > size
    assert host.run(denied).stdout.strip() == before


def test_nginx_comes_back_after_kill_9(host):
    pid = nginx_main_pid(host)
    assert pid != "0"
    host.run(f"kill -9 {pid}")
    start = time.time()
    deadline = start + 30
    while time.time() < deadline:
        new = nginx_main_pid(host)
        if new not in ("0", pid) and login_status(host) == "200":
            break
        time.sleep(0.5)
    took = time.time() - start
    print(f"nginx answered again {took:.1f} s after kill -9 of its master")
    assert login_status(host) == "200"
    assert nginx_main_pid(host) not in ("0", pid)
    assert took < 20
    assert host.service("nginx").is_enabled
