"""The whole platform on the demo host `make up` converged, tested through its front door (nginx with
TLS)."""

import json
import os
import subprocess

import pytest
from demohost import HOST_NAME, ROOT
from webhost import django_python, run_as_web, wait_until, worker_queues

PLUGINS = ["omero_plugin_common", "omeroweb_omp_plugin", "omeroweb_upload", "omeroweb_admin_tools",
           "omeroweb_imaris_connector", "omeroweb_openhcs"]
SERVICES = ["omero-web", "nginx", "postgresql@15-omero", "postgresql@15-plugin", "redis-server@cache",
            "redis-server@state", "openhcs-server"]
# Declared by the OpenHCS plugin, but its worker runs only on hosts with openhcs_gpu: true.
GPU_QUEUES = ["openhcs_gpu"]


@pytest.fixture(scope="module")
def queues(host):
    """The installed plugins' queues that have a worker on this host (no GPU here)."""
    return [q for q in worker_queues(host) if q not in GPU_QUEUES]


@pytest.fixture(scope="module")
def units(queues):
    """The platform's services and one Celery worker per queue of the installed plugins."""
    return SERVICES + [f"omero-celery@{q}" for q in queues]


def test_no_gpu_queue_worker_without_a_gpu(host):
    for queue in GPU_QUEUES:
        assert queue in worker_queues(host)  # the plugin declares it ...
        assert not host.service(f"omero-celery@{queue}").is_running  # ... no GPU host here


@pytest.fixture(scope="module")
def address(host):
    return host.interface("host0").addresses[0]


def front_door(address, path, *curl_args):
    """curl from the controller, through the host's nginx, as a browser would."""
    proc = subprocess.run(["curl", "-sS", "-k", "--max-time", "20", *curl_args,
                           "--resolve", f"{HOST_NAME}:443:{address}", "--resolve", f"{HOST_NAME}:80:{address}",
                           f"https://{HOST_NAME}{path}" if not path.startswith("http") else path],
                          capture_output=True, text=True)
    return proc.stdout


def status(address, path):
    return front_door(address, path, "-o", "/dev/null", "-w", "%{http_code}")


def test_all_units_active_and_enabled(host, units):
    for unit in units:
        svc = host.service(unit)
        assert svc.is_running, unit
        assert svc.is_enabled, unit


def test_login_page_and_static_files_through_https(address):
    assert "OMERO.web - Login" in front_door(address, "/webclient/login/")
    assert status(address, "/static/webgateway/css/ome.body.css") == "200"
    redirect = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--resolve",
                               f"{HOST_NAME}:80:{address}", f"http://{HOST_NAME}/webclient/"],
                              capture_output=True, text=True)
    assert redirect.stdout == "301"


@pytest.mark.parametrize("plugin", PLUGINS)
def test_plugin_health_answers_200(address, plugin):
    body = front_door(address, f"/{plugin}/health/")
    assert json.loads(body)["status"] == "ok", body


@pytest.mark.parametrize("plugin", PLUGINS[1:])
def test_plugin_pages_redirect_anonymous_users_to_login(address, plugin):
    out = front_door(address, f"/{plugin}/", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}")
    code, _, location = out.partition(" ")
    assert code == "302" and "/webclient/login/" in location, out


def test_a_real_job_runs_through_each_queue_worker(host, queues):
    for queue in queues:
        out = run_as_web(host, f"omero-plugins-jobs selftest --queue {queue} --steps 3 --timeout 60")
        assert out.rc == 0, out.stdout + out.stderr
        assert f"on queue {queue}: succeeded" in out.stdout


# Each third-party app's main view (None: an app with panels only), reversed in OMERO.web's Django.
APP_VIEWS = {"omero_figure": "figure_index", "omero_iviewer": "omero_iviewer_index",
             "omero_gallery": "webgallery_index", "omero_mapr": "maprindex_gene",
             "omero_parade": "parade_index",
             "omero_fpbioimage": "fpbioimage_index", "omero_autotag": None,
             "omero_tagsearch": "tagsearch", "omero_web_zarr": "omero_web_zarr_index"}
APP_PROBE = """
import json
from django.conf import settings
from django.urls import reverse
print(json.dumps({"apps": list(settings.INSTALLED_APPS), "open_with": settings.OPEN_WITH,
                  "center": settings.CENTER_PLUGINS, "right": settings.RIGHT_PLUGINS,
                  "top": settings.TOP_LINKS, "logo": settings.LOGIN_LOGO,
                  "views": {n: reverse(n) for n in %r}}))
""" % [v for v in APP_VIEWS.values() if v]


@pytest.fixture(scope="module")
def web_settings(host):
    return json.loads(django_python(host, APP_PROBE)[-1])


def test_third_party_apps_installed_with_their_links_and_panels(web_settings):
    assert set(APP_VIEWS) <= set(web_settings["apps"])
    assert {e[0] for e in web_settings["open_with"]} >= {
        "Image viewer", "omero_figure", "omero_iviewer", "FPBioimage", "web_zarr_vizarr"}
    assert ["Parade", "omero_parade/init.js.html", "omero_parade"] in web_settings["center"]
    assert {e[2] for e in web_settings["right"]} >= {"metadata_tab", "preview_tab", "auto_tag_panel"}
    assert {e[0] for e in web_settings["top"]} >= {"Figure", "Gallery", "Mapr", "Tag Search"}


@pytest.mark.parametrize("app", [a for a, v in APP_VIEWS.items() if v])
def test_third_party_app_pages_answer_through_https(address, web_settings, app):
    out = front_door(address, web_settings["views"][APP_VIEWS[app]], "-o", "/dev/null",
                     "-w", "%{http_code} %{redirect_url}")
    code, _, location = out.partition(" ")
    # Anonymous users: the page itself, or OMERO.web's login (never 404 or 500).
    assert code == "200" or (code == "302" and "/login/" in location), out


def test_login_page_shows_the_site_logo(address, web_settings):
    assert web_settings["logo"] == "/branding/logo.png"
    assert "/branding/logo.png" in front_door(address, "/webclient/login/")
    assert front_door(address, "/branding/logo.png", "-o", "/dev/null", "-w",
                      "%{http_code} %{content_type}") == "200 image/png"


def test_every_unit_logs_to_journald(host, units):
    for unit in units:
        lines = host.run(f"journalctl -u {unit} --no-pager -q -n 5 -o cat").stdout.strip()
        assert lines, f"no journal lines from {unit}"


# Every long-running service of the platform: ours, and Debian's that the roles configure.
PLATFORM_SERVICES = ("omero-", "nginx", "postgresql@", "redis-server@", "prometheus")


def platform_services(host):
    out = host.check_output("systemctl list-units --type=service --state=running --no-legend --plain")
    return sorted(line.split()[0] for line in out.splitlines()
                  if line.split() and line.split()[0].startswith(PLATFORM_SERVICES))


def test_kill_9_of_every_service_is_repaired_by_systemd(host, address):
    services = platform_services(host)
    assert {"nginx.service", "omero-web.service", "prometheus.service"} <= set(services), services
    not_back = []
    for unit in services:
        pid = host.run(f"systemctl show -p MainPID --value {unit}").stdout.strip()
        assert pid not in ("", "0"), unit
        host.run(f"kill -9 {pid}")

        def back(unit=unit, pid=pid):
            new = host.run(f"systemctl show -p MainPID --value {unit}").stdout.strip()
            return new not in ("", "0", pid) and host.service(unit).is_running

        if not wait_until(back, 30):
            not_back.append(unit)
    assert not_back == [], f"not back within 30 s after kill -9: {not_back}"
    assert wait_until(lambda: status(address, "/webclient/login/") == "200", 60)
    assert wait_until(lambda: status(address, "/omeroweb_omp_plugin/health/") == "200", 60)


def test_host_reboot_brings_everything_back(host, address, units):
    lab = ROOT / "molecule/lab/oaelab"
    subprocess.run([str(lab), "restart", HOST_NAME], check=True, env=os.environ)
    assert wait_until(lambda: status(address, "/omeroweb_omp_plugin/health/") == "200", 120)
    for unit in units:
        assert wait_until(lambda unit=unit: host.service(unit).is_running, 60), unit
    assert run_as_web(host, "omero-plugins-jobs selftest --queue admin --steps 2 --timeout 60").rc == 0


def prometheus(host, query_path):
    out = host.run(f"curl -sS --max-time 10 'http://127.0.0.1:9090/api/v1/{query_path}'")
    return json.loads(out.stdout)["data"]


# Grafana, Loki and Alloy cannot be installed on these machines (docs/verification.md).
ABSENT_JOBS = {"grafana", "loki", "alloy"}
ABSENT_PROBES = {"grafana", "loki", "omero_server_4063", "omero_server_4064"}


def test_prometheus_scrapes_every_present_service(host):
    def all_up():
        targets = prometheus(host, "targets?state=active")["activeTargets"]
        down = [t["labels"]["job"] for t in targets
                if t["health"] != "up" and t["labels"]["job"] not in ABSENT_JOBS]
        return targets and not down

    assert wait_until(all_up, 90), prometheus(host, "targets?state=active")
    jobs = {t["labels"]["job"] for t in prometheus(host, "targets?state=active")["activeTargets"]}
    assert {"node", "postgres", "redis", "blackbox", "prometheus"} <= jobs


def test_probes_of_present_services_succeed(host):
    def probes_ok():
        results = prometheus(host, "query?query=probe_success")["result"]
        failing = [r["metric"].get("probe") for r in results
                   if r["value"][1] != "1" and r["metric"].get("probe") not in ABSENT_PROBES]
        return results and not failing

    assert wait_until(probes_ok, 90), prometheus(host, "query?query=probe_success")
