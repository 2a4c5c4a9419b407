"""Each admin page in chromium, served by a live OMERO.web test server, as root: driven as an
administrator would, each state kept as a screenshot (artifacts/screenshots/admin-*.png) and
checked by axe-core (no serious or critical violation; results in artifacts/axe/)."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from omero_test_double.harness.axe import snapshot

from .conftest import now_us
from .test_metrics_proxy import TARGETS, _vector

pytestmark = pytest.mark.browser


@pytest.fixture
def as_root(admin_env, fake_omero, login_as, people):
    login_as(fake_omero.connect("root"))


def _wait(browser, seconds=15):
    return WebDriverWait(browser, seconds, poll_frequency=0.1)


def _rows(browser, table_id):
    """The texts of a table's body rows."""
    return [r.text for r in browser.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")]


def test_overview_page(live_server, browser, as_root):
    browser.get(f"{live_server.url}/omeroweb_admin_tools/")
    tiles = browser.find_elements(By.CSS_SELECTOR, ".admin-tiles a")
    links = [a.text.splitlines()[0] for a in tiles]
    assert links == ["Logs", "Services and metrics", "Storage and quotas", "Diagnostics"]
    # OMERO.web's header with its top links leads back to the webclient.
    header = browser.find_element(By.ID, "middle_header")
    assert header.find_element(By.CSS_SELECTOR, "#logo img").get_attribute("alt")
    assert "Data" in [a.text for a in header.find_elements(By.CSS_SELECTOR, ".menu_link a")]
    back = browser.find_element(By.CSS_SELECTOR, ".omero-header-back")
    assert back.get_attribute("href") == f"{live_server.url}/webclient/"
    snapshot(browser, "admin-overview")
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
    snapshot(browser, "admin-logs")
    assert browser.get_log("browser") == []


def test_logs_page_all_none_refresh_download_and_empty(live_server, browser, as_root,
                                                       write_journal, tmp_path):
    base = now_us() - 60_000_000
    write_journal([{"ts_us": base + i * 1_000_000, "unit": "omero-web.service", "priority": 6,
                    "message": f"web line {i}"} for i in range(5)])
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(downloads)})
    browser.get(f"{live_server.url}/omeroweb_admin_tools/logs/")
    wait = _wait(browser)
    wait.until(ec.presence_of_element_located((By.ID, "log-table")))
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "input[name=unit]"))
    units = browser.find_elements(By.CSS_SELECTOR, "input[name=unit]")
    browser.find_element(By.CSS_SELECTOR, ".select-all[data-name=unit]").click()
    assert all(u.is_selected() for u in units) and len(units) == 3
    browser.find_element(By.CSS_SELECTOR, ".select-none[data-name=unit]").click()
    assert not any(u.is_selected() for u in units)
    browser.find_element(By.CSS_SELECTOR, ".select-all[data-name=unit]").click()
    browser.find_element(By.ID, "log-run").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "log-status"), "5 entries"))
    # A line written later shows after "Refresh", without reloading the page.
    write_journal([{"ts_us": now_us(), "unit": "omero-web.service", "priority": 6,
                    "message": "after refresh"}], name="later")
    browser.find_element(By.ID, "log-refresh").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "log-status"), "6 entries"))
    browser.find_element(By.ID, "log-download").click()
    wait.until(lambda _: list(downloads.glob("omero-logs-*.tsv")))
    text = next(downloads.glob("omero-logs-*.tsv")).read_text()
    assert text.startswith("time\tsource\tlevel\tmessage\n")
    assert "after refresh" in text and len(text.strip().splitlines()) == 7
    # Defect 7: a search that finds nothing says so in the table ("none" row).
    browser.find_element(By.NAME, "q").send_keys("no such text anywhere")
    browser.find_element(By.ID, "log-run").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "log-status"), "0 entries"))
    empty = browser.find_element(By.CSS_SELECTOR, "#log-table tbody tr.empty")
    assert empty.text == "No log entries match these sources and filters."
    snapshot(browser, "admin-logs-empty")
    assert browser.get_log("browser") == []


def test_logs_search_without_matches_says_so(live_server, browser, as_root, write_journal):
    """Defect 7 alone: a search that finds nothing shows a "none" row, not headers only."""
    write_journal([{"ts_us": now_us() - 1_000_000, "unit": "omero-web.service", "priority": 6,
                    "message": "web line"}])
    browser.get(f"{live_server.url}/omeroweb_admin_tools/logs/")
    wait = _wait(browser)
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "input[name=unit]"))
    browser.find_element(By.NAME, "q").send_keys("no such text anywhere")
    browser.find_element(By.ID, "log-run").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "log-status"), "0 entries"))
    assert _rows(browser, "log-table") == ["No log entries match these sources and filters."], (
        "the empty table shows only its headers")


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
    # Defect 7: no systemd here, so no units: the table says so instead of showing headers only.
    rows = _rows(browser, "units-table")
    assert rows and rows[0].startswith("None"), f"the empty table shows only its headers: {rows}"
    # Auto-refresh is a choice; switched off it stays off after a reload.
    auto = browser.find_element(By.ID, "refresh-auto")
    assert auto.is_selected()
    auto.click()
    browser.refresh()
    wait.until(ec.text_to_be_present_in_element((By.ID, "refresh-time"), "Updated"))
    assert not browser.find_element(By.ID, "refresh-auto").is_selected()
    stamp = browser.find_element(By.ID, "refresh-time").text
    time.sleep(1.1)
    browser.find_element(By.ID, "refresh-now").click()
    wait.until(lambda b: b.find_element(By.ID, "refresh-time").text != stamp)
    snapshot(browser, "admin-services")
    assert browser.get_log("browser") == []


def test_storage_page_edits_quotas(live_server, browser, as_root, fake_omero, people):
    fake_omero.add_original_file("a.tif", people["alice"], people["lab"], content=b"x" * 5000)
    browser.get(f"{live_server.url}/omeroweb_admin_tools/storage/")
    wait = _wait(browser)
    wait.until(lambda b: b.find_element(By.ID, "chart-groups").get_attribute("data-bars"))
    quota = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#quota-table input[name=lab]")))
    # Defect 8: each quota box has a name a screen reader reads out.
    assert quota.accessible_name == "Quota in GB for group lab"
    quota.send_keys("2.5")
    browser.find_element(By.ID, "quota-save").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "quota-message"), "Quotas saved."))
    small = browser.find_element(By.CSS_SELECTOR, "#quota-table input[name=imaging]")
    small.send_keys("0.01")
    browser.find_element(By.ID, "quota-save").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "quota-message"), "below the minimum"))
    # Defect 7: the error is a sentence about the group, not "update 5 (imaging)".
    message = browser.find_element(By.ID, "quota-message").text
    assert message.startswith("Group imaging: the quota of 0.01 GB is below the minimum")
    assert "update" not in message
    snapshot(browser, "admin-storage-quota-error")
    assert "has not run yet" in browser.find_element(By.ID, "quota-enforcer").text
    assert browser.find_element(By.ID, "quota-auto").text == (
        "New groups get no quota automatically.")
    browser.find_element(By.CSS_SELECTOR, "details summary").click()
    assert "lab none → 2.5 GB" in browser.find_element(By.ID, "quota-log").text


def test_storage_page_has_no_quota_box_for_omeros_own_groups(live_server, browser, as_root,
                                                            people):
    browser.get(f"{live_server.url}/omeroweb_admin_tools/storage/")
    wait = _wait(browser)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#quota-table input[name=lab]")))
    boxes = {i.get_attribute("name") for i in browser.find_elements(
        By.CSS_SELECTOR, "#quota-table input")}
    assert boxes == {"lab", "imaging"}
    for name in ("system", "user", "guest"):
        row = browser.find_element(By.CSS_SELECTOR, f"#quota-table tr[data-group={name}]")
        assert row.text.endswith("OMERO's own group: no quota")


def test_storage_by_user_and_group_filter_csv_and_chart(live_server, browser, as_root,
                                                        fake_omero, people, tmp_path):
    fake_omero.add_original_file("a.tif", people["alice"], people["lab"], content=b"x" * 6000)
    bob = fake_omero.add_user("bob", [people["imaging"]])
    fake_omero.add_original_file("b.tif", bob, people["imaging"], content=b"y" * 2000)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(downloads)})
    browser.get(f"{live_server.url}/omeroweb_admin_tools/storage/")
    wait = _wait(browser)
    wait.until(lambda b: b.find_element(By.ID, "chart-users").get_attribute("data-bars") not in
               (None, "", "0"))
    # The chart reads at a glance: a sentence, then one labelled bar per user with size and share.
    chart = browser.find_element(By.ID, "chart-users")
    summary = chart.find_element(By.CSS_SELECTOR, ".chart-summary").text
    assert "the largest, alice, holds 5.9 KiB (75 %)" in summary
    bars = [li.text.split("\n") for li in chart.find_elements(By.CSS_SELECTOR, ".bar-chart li")]
    assert bars[0] == ["alice", "5.9 KiB (75 %)"] and bars[1] == ["bob", "2.0 KiB (25 %)"]
    users = [r.find_element(By.CSS_SELECTOR, "td").text for r in browser.find_elements(
        By.CSS_SELECTOR, "#users-table tbody tr")]
    assert users[:2] == ["alice", "bob"]  # largest first
    link = browser.find_element(By.CSS_SELECTOR, "#users-table tbody tr a")
    assert "/webadmin/experimenter/edit/" in link.get_attribute("href")
    snapshot(browser, "admin-storage")
    # Sorting by name, then filtering both tables and charts.
    browser.find_element(By.CSS_SELECTOR, "#users-table th button.sort").click()
    header = browser.find_element(By.CSS_SELECTOR, "#users-table th[aria-sort]")
    assert header.get_attribute("aria-sort") == "ascending"
    browser.find_element(By.ID, "storage-filter").send_keys("bob")
    wait.until(lambda b: b.find_element(By.ID, "users-table").get_attribute("data-rows") == "1")
    assert browser.find_element(By.ID, "chart-users").get_attribute("data-bars") == "1"
    browser.find_element(By.ID, "users-csv").click()
    wait.until(lambda _: (downloads / "storage-by-user.csv").exists())
    lines = (downloads / "storage-by-user.csv").read_text().splitlines()
    assert lines[0] == "User,ID,Bytes" and len(lines) == 2
    assert lines[1].startswith("bob,") and lines[1].endswith(",2000")
    browser.find_element(By.ID, "storage-filter").send_keys("-nobody")
    wait.until(lambda b: b.find_element(By.ID, "groups-table").get_attribute("data-rows") == "0")
    assert browser.find_element(By.CSS_SELECTOR, "#groups-table tr.empty").text == (
        "None match the filter.")
    snapshot(browser, "admin-storage-filtered")
    assert browser.get_log("browser") == []


def test_storage_page_has_no_gap_under_the_charts(live_server, browser, as_root, fake_omero,
                                                 people):
    """Defect 7: the old fixed-size canvases left a blank band under two short bar lists."""
    fake_omero.add_original_file("a.tif", people["alice"], people["lab"], content=b"x" * 5000)
    browser.get(f"{live_server.url}/omeroweb_admin_tools/storage/")
    wait = _wait(browser)
    wait.until(lambda b: b.find_element(By.ID, "chart-groups").get_attribute("data-bars"))
    # Measured on the pixels the user sees (a canvas or laid-out bars alike): the blank rows
    # at the bottom of the chart.
    chart = browser.find_element(By.ID, "chart-groups")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", chart)
    picture = Image.open(io.BytesIO(chart.screenshot_as_png)).convert("RGB")
    width, height = picture.size
    pixels = picture.load()
    blank = 0
    while blank < height and len({pixels[x, height - 1 - blank] for x in range(width)}) == 1:
        blank += 1
    print("blank rows under the chart:", blank, "of", height)
    assert blank < 24, f"a blank band of {blank} px under the chart (of {height} px)"
    # Defect 8: the chart has a text alternative (its summary sentence and labelled bars).
    assert browser.find_element(By.CSS_SELECTOR, "#chart-groups .chart-summary").text


def test_diagnostics_page(live_server, browser, as_root, admin_env, plugin_services):
    admin_env(REDIS_ADDRESSES=f"state=127.0.0.1:{plugin_services.redis.port}")
    browser.get(f"{live_server.url}/omeroweb_admin_tools/diagnostics/")
    wait = _wait(browser)
    assert _rows(browser, "diag-table") == ["No results yet: run a check."], (
        "the empty table shows only its headers")
    described = browser.find_element(By.CSS_SELECTOR, "#checks-table tr[data-check=redis]").text
    assert "answers PING" in described
    snapshot(browser, "admin-diagnostics-start")
    browser.find_element(By.CSS_SELECTOR, "button.diag-run[data-check=redis]").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "diag-summary"), "redis: pass"))
    browser.find_element(By.CSS_SELECTOR, "button.diag-run[data-check=omero_server_core]").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "diag-summary"),
                                                "omero_server_core: fail"))
    time.sleep(0.2)
    assert "refused" in browser.find_element(By.ID, "diag-table").text
    assert browser.get_log("browser") == []


def test_diagnostics_run_all_counts_and_request_id(live_server, browser, as_root, admin_env,
                                                   plugin_services):
    admin_env(REDIS_ADDRESSES=f"state=127.0.0.1:{plugin_services.redis.port}")
    browser.get(f"{live_server.url}/omeroweb_admin_tools/diagnostics/")
    wait = _wait(browser)
    browser.find_element(By.ID, "diag-all").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "diag-summary"), "platform_end_to_end:"))
    counts = browser.find_element(By.ID, "diag-counts").text
    rows = browser.find_elements(By.CSS_SELECTOR, "#diag-table tbody tr")
    statuses = [r.get_attribute("data-status") for r in rows]
    assert counts == (f"pass {statuses.count('pass')} passed warn {statuses.count('warn')} "
                      f"warnings fail {statuses.count('fail')} failed")
    groups = {r.find_element(By.CSS_SELECTOR, "td").text for r in rows}
    assert groups == {"omero_server_core", "omero_database", "plugin_database", "redis", "web"}
    request = browser.find_element(By.ID, "diag-request").text
    assert request.startswith("Request id ") and len(request.split()[2]) == 12
    # Every check's row shows its latest result.
    assert "not run" not in browser.find_element(By.ID, "checks-table").text
    snapshot(browser, "admin-diagnostics-all")
    assert browser.get_log("browser") == []


def test_help_page(live_server, browser, as_root):
    browser.get(f"{live_server.url}/omeroweb_admin_tools/help/")
    assert "Group quotas" in browser.find_element(By.CSS_SELECTOR, ".help").text
    snapshot(browser, "admin-help")
