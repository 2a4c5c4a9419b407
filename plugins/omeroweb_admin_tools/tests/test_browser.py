"""Each admin page in chromium, served by a live OMERO.web test server, as root; screenshots
of every page go to artifacts/screenshots/."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from .conftest import now_us
from .test_metrics_proxy import TARGETS, _vector

pytestmark = pytest.mark.browser


@pytest.fixture
def as_root(admin_env, fake_omero, login_as, people):
    login_as(fake_omero.connect("root"))


def _wait(browser, seconds=15):
    return WebDriverWait(browser, seconds, poll_frequency=0.1)


def test_overview_page(live_server, browser, as_root):
    browser.get(f"{live_server.url}/omeroweb_admin_tools/")
    links = [a.text for a in browser.find_elements(By.CSS_SELECTOR, ".admin-tiles a")]
    assert links == ["Logs", "Services and metrics", "Storage and quotas", "Diagnostics"]
    assert browser.get_log("browser") == []


def test_logs_page_filters_and_tails(live_server, browser, as_root, write_journal):
    base = now_us() - 120_000_000
    write_journal([{"ts_us": base + i * 1_000_000, "unit": "omero-server.service",
                    "priority": 3 if i % 4 == 0 else 6, "message": f"server line {i}"}
                   for i in range(40)])
    browser.get(f"{live_server.url}/omeroweb_admin_tools/logs/")
    wait = _wait(browser)
    wait.until(ec.text_to_be_present_in_element((By.ID, "log-status"), "40 entries"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#log-table tbody tr")) == 40
    Select(browser.find_element(By.NAME, "level")).select_by_visible_text("error")
    browser.find_element(By.ID, "log-run").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "log-status"), "10 entries"))
    levels = {td.text for td in browser.find_elements(
        By.CSS_SELECTOR, "#log-table tbody td:nth-child(3)")}
    assert levels == {"error"}
    # Live tail: a new error appears without reloading.
    browser.find_element(By.ID, "log-tail").click()
    write_journal([{"ts_us": now_us(), "unit": "omero-server.service", "priority": 3,
                    "message": "fresh failure"}], name="later")
    wait.until(ec.text_to_be_present_in_element((By.ID, "log-table"), "fresh failure"))
    assert browser.get_log("browser") == []


def test_logs_page_lists_omero_log_files_from_loki(live_server, browser, as_root, admin_env,
                                                   http_fake):
    from .test_loki import record_blitz_log

    recorder, base = http_fake
    admin_env(LOKI_URL=base)
    record_blitz_log(recorder, "2026-01-01 10:00:00,000 WARN [ome.services] slow query")
    browser.get(f"{live_server.url}/omeroweb_admin_tools/logs/")
    wait = _wait(browser)
    wait.until(ec.text_to_be_present_in_element((By.ID, "log-files"), "Blitz-0.log (omero_server)"))
    assert browser.find_element(By.ID, "log-files-legend").text == (
        "OMERO log files (in Loki, last 7 days)")
    labels = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#log-files label")]
    # omero_web's series answer is the same recording: each log type lists its own ids.
    assert labels == ["Blitz-0.log (omero_server)", "Processor-0.log (omero_server)",
                      "Blitz-0.log (omero_web)", "Processor-0.log (omero_web)"]
    for unit in browser.find_elements(By.CSS_SELECTOR, "input[name=unit]:checked"):
        unit.click()
    browser.find_element(By.CSS_SELECTOR, "input[value='omero_server/Blitz-0.log']").click()
    browser.find_element(By.ID, "log-run").click()
    wait.until(lambda b: recorder.requests[-1]["query"].get("query", [""])[0].startswith(
        '{log_type="omero_server"'))
    wait.until(ec.text_to_be_present_in_element((By.ID, "log-status"), "1 entries from loki"))
    assert "slow query" in browser.find_element(By.ID, "log-table").text
    assert browser.get_log("browser") == []


def test_services_page(live_server, browser, as_root, admin_env, http_fake):
    recorder, base = http_fake
    recorder.json("/api/v1/query", _vector("37.2"))
    recorder.json("/api/v1/targets", TARGETS)
    recorder.raw("/-/ready", 200, {"Content-Type": "text/plain"}, b"ready")
    admin_env(PROMETHEUS_URL=base, GRAFANA_URL="https://grafana.example.org")
    browser.get(f"{live_server.url}/omeroweb_admin_tools/services/")
    wait = _wait(browser)
    wait.until(ec.text_to_be_present_in_element((By.ID, "targets-status"), "2 targets"))
    assert "37.2 %" in browser.find_element(By.ID, "host-metrics").text
    # No systemd on this machine: the reason is shown instead of a table.
    assert browser.find_element(By.ID, "units-status").text
    link = browser.find_element(By.CSS_SELECTOR, "#dashboards a")
    assert link.get_attribute("href") == "https://grafana.example.org/d/omero-infrastructure"
    assert link.get_attribute("target") == "_blank"
    assert browser.get_log("browser") == []


def test_storage_page_edits_quotas(live_server, browser, as_root, fake_omero, people):
    fake_omero.add_original_file("a.tif", people["alice"], people["lab"], content=b"x" * 5000)
    browser.get(f"{live_server.url}/omeroweb_admin_tools/storage/")
    wait = _wait(browser)
    wait.until(lambda b: b.find_element(By.ID, "chart-groups").get_attribute("data-bars"))
    quota = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#quota-table input[name=lab]")))
    quota.send_keys("2.5")
    browser.find_element(By.ID, "quota-save").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "quota-message"), "Quotas saved."))
    small = browser.find_element(By.CSS_SELECTOR, "#quota-table input[name=imaging]")
    small.send_keys("0.01")
    browser.find_element(By.ID, "quota-save").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "quota-message"), "below the minimum"))
    assert "has not run yet" in browser.find_element(By.ID, "quota-enforcer").text
    assert browser.find_element(By.ID, "quota-auto").text == (
        "New groups get no quota automatically.")
    browser.find_element(By.CSS_SELECTOR, "details summary").click()
    assert "lab none → 2.5 GB" in browser.find_element(By.ID, "quota-log").text


def test_diagnostics_page(live_server, browser, as_root, admin_env, plugin_services):
    admin_env(REDIS_ADDRESSES=f"state=127.0.0.1:{plugin_services.redis.port}")
    browser.get(f"{live_server.url}/omeroweb_admin_tools/diagnostics/")
    Select(browser.find_element(By.NAME, "check")).select_by_visible_text("redis")
    browser.find_element(By.ID, "diag-run").click()
    wait = _wait(browser)
    wait.until(ec.text_to_be_present_in_element((By.ID, "diag-summary"), "redis: pass"))
    Select(browser.find_element(By.NAME, "check")).select_by_visible_text("omero_server_core")
    browser.find_element(By.ID, "diag-run").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "diag-summary"),
                                                "omero_server_core: fail"))
    time.sleep(0.2)
    assert "refused" in browser.find_element(By.ID, "diag-table").text
    assert browser.get_log("browser") == []


def test_help_page(live_server, browser, as_root):
    browser.get(f"{live_server.url}/omeroweb_admin_tools/help/")
    assert "Group quotas" in browser.find_element(By.CSS_SELECTOR, ".help").text
