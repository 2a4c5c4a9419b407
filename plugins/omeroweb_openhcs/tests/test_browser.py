"""The OpenHCS page in chromium against a live OMERO.web test server, as a researcher uses it:
arrive from the webclient with a dataset chosen, set the pipeline's values, start, follow the
execution through a real worker, the real bridge and a real OpenHCS server to its result in
OMERO; the refusals; a waiting execution cancelled. Each state is kept as a screenshot
(artifacts/screenshots/openhcs-*.png) and checked by axe-core."""

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from omero_test_double.harness.axe import snapshot

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_earlier_executions")]
PAGE = "/omeroweb_openhcs/"


def _wait(browser, seconds=30):
    return WebDriverWait(browser, seconds, poll_frequency=0.1,
                         ignored_exceptions=[StaleElementReferenceException])


def _rows(browser):
    return browser.find_elements(By.CSS_SELECTOR, "#jobs-table tbody tr:not(.empty)")


def _message(browser):
    return browser.find_element(By.ID, "start-message").text


@pytest.mark.usefixtures("openhcs_env")
def test_choose_refusals_start_and_cancel_a_waiting_execution(live_server, browser, fake_omero,
                                                              lab, login_as):
    login_as(fake_omero.connect("alice"))  # no worker: the execution waits in the queue
    # What the webclient's "Open with > Process with OpenHCS…" opens: ?dataset=<id>.
    browser.get(f"{live_server.url}{PAGE}?dataset={lab['dataset'].id}")
    wait = _wait(browser)
    wait.until(lambda b: Select(b.find_element(By.ID, "source-id")).first_selected_option
               .get_attribute("value") == str(lab["dataset"].id))
    presets = browser.find_elements(By.CSS_SELECTOR, "#preset-list label")
    assert [p.text.splitlines()[0] for p in presets] == ["Cell count (CPU) CPU",
                                                         "Deconvolution (GPU) GPU"]
    assert browser.find_element(By.ID, "usage").text == (
        "Your group has used 0 min of its 1 h of processing time in the last 30 days.")
    area = browser.find_element(By.ID, "param-min_cell_area")
    assert (area.get_attribute("min"), area.get_attribute("max"), area.get_attribute("value")) == (
        "5", "10000", "20")
    assert Select(browser.find_element(By.ID, "param-method")).first_selected_option.text == "otsu"
    assert browser.find_element(By.ID, "start-hint").text == (
        "Cell count (CPU) on dataset “plate 1”.")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#jobs-table tr.empty")))
    snapshot(browser, "openhcs-chosen")

    # A value out of bounds is explained before anything is sent.
    area.clear()
    area.send_keys("3")
    browser.find_element(By.ID, "run-start").click()
    assert _message(browser) == "“Smallest cell (px)” must be a whole number from 5 to 10000."
    snapshot(browser, "openhcs-bad-value")
    area.clear()
    area.send_keys("25")

    # Data the user may see but not annotate is offered disabled; typed into the URL, refused.
    browser.get(f"{live_server.url}{PAGE}?dataset={lab['theirs'].id}")
    wait.until(ec.text_to_be_present_in_element(
        (By.ID, "start-message"), "You may not annotate this dataset"))
    option = browser.find_element(By.CSS_SELECTOR, f"#source-id option[value='{lab['theirs'].id}']")
    assert option.get_attribute("disabled") == "true"
    assert browser.find_element(By.ID, "run-start").get_attribute("disabled") == "true"
    snapshot(browser, "openhcs-not-annotatable")

    # Start on the chosen dataset: waiting (no worker), then cancelled.
    Select(browser.find_element(By.ID, "source-id")).select_by_value(str(lab["dataset"].id))
    browser.find_element(By.ID, "run-start").click()
    queued = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#jobs-table tr[data-state=queued]")))
    assert _message(browser) == "Started. Follow it in the list below."
    assert "plate 1" in queued.text and "waiting" in queued.text
    link = queued.find_element(By.CSS_SELECTOR, "a.webclient-link")
    assert link.get_attribute("href") == (
        f"{live_server.url}/webclient/?show=dataset-{lab['dataset'].id}")
    snapshot(browser, "openhcs-queued")
    # Over the limit (1 in openhcs_env): refused with the reason, nothing more started.
    browser.find_element(By.ID, "run-start").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "start-message"), "You already have 1"))
    assert len(_rows(browser)) == 1
    snapshot(browser, "openhcs-over-limit")
    wait.until(lambda b: b.find_element(
        By.CSS_SELECTOR, "#jobs-table tr[data-state=queued] button").click() or True)
    wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#jobs-table tr[data-state=cancelled]")))
    # The one error chromium logs is the refused request itself (429 over the limit).
    assert [e["message"] for e in browser.get_log("browser")
            if "status of 429" not in e["message"]] == []


@pytest.mark.usefixtures("openhcs_env")
def test_a_plate_from_the_webclient_is_preselected(live_server, browser, fake_omero, lab,
                                                  login_as):
    login_as(fake_omero.connect("alice"))  # no worker: the execution waits in the queue
    # What "Open with > Process with OpenHCS…" opens on a plate: ?plate=<id>.
    browser.get(f"{live_server.url}{PAGE}?plate={lab['plate'].id}")
    wait = _wait(browser)
    wait.until(lambda b: Select(b.find_element(By.ID, "source-id")).first_selected_option
               .get_attribute("value") == str(lab["plate"].id))
    assert Select(browser.find_element(By.ID, "source-type")).first_selected_option.text == (
        "Plate")
    wait.until(ec.text_to_be_present_in_element(
        (By.ID, "start-hint"), "Cell count (CPU) on plate “plate P”."))
    snapshot(browser, "openhcs-plate-chosen")

    # A plate the user may see but not annotate: offered disabled, the reason said.
    browser.get(f"{live_server.url}{PAGE}?plate={lab['their_plate'].id}")
    wait.until(ec.text_to_be_present_in_element(
        (By.ID, "start-message"), "You may not annotate this plate"))
    option = browser.find_element(
        By.CSS_SELECTOR, f"#source-id option[value='{lab['their_plate'].id}']")
    assert option.get_attribute("disabled") == "true"
    assert browser.find_element(By.ID, "run-start").get_attribute("disabled") == "true"

    # Started on the plate: the list links the plate in the webclient.
    Select(browser.find_element(By.ID, "source-id")).select_by_value(str(lab["plate"].id))
    browser.find_element(By.ID, "run-start").click()
    queued = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#jobs-table tr[data-state=queued]")))
    assert "plate P" in queued.text and "waiting" in queued.text
    assert queued.find_element(By.CSS_SELECTOR, "a.webclient-link").get_attribute("href") == (
        f"{live_server.url}/webclient/?show=plate-{lab['plate'].id}")
    snapshot(browser, "openhcs-plate-queued")
    assert browser.get_log("browser") == []


@pytest.mark.worker
def test_run_to_the_result_and_a_failure_about_the_data(live_server, browser, fake_omero, lab,
                                                        login_as, tier, fake_omero_worker):
    fake_omero_worker("openhcs")
    login_as(fake_omero.connect("alice"))
    browser.get(f"{live_server.url}{PAGE}?dataset={lab['dataset'].id}")
    wait = _wait(browser, 300)
    wait.until(lambda b: Select(b.find_element(By.ID, "source-id")).first_selected_option
               .get_attribute("value") == str(lab["dataset"].id))
    browser.find_element(By.ID, "run-start").click()
    running = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#jobs-table tr[data-state=running]")))
    assert running.find_element(By.TAG_NAME, "progress")
    assert running.find_element(By.CSS_SELECTOR, "button").text == "Cancel"
    snapshot(browser, "openhcs-running")
    done = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#jobs-table tr[data-state=succeeded]")))
    assert "done, 3 wells" in done.text
    result = done.find_elements(By.CSS_SELECTOR, "a.webclient-link")[1]
    assert result.text.startswith("plate 1 – Cell count (CPU) ")  # noqa: RUF001
    assert "/webclient/?show=dataset-" in result.get_attribute("href")
    # The run's time now counts for the group (a few seconds: shown as 1 minute).
    wait.until(ec.text_to_be_present_in_element((By.ID, "usage"), "used 1 min of its 1 h"))
    snapshot(browser, "openhcs-done")

    # Images that do not match: the job fails with a sentence about them.
    Select(browser.find_element(By.ID, "source-id")).select_by_visible_text(
        f"mixed sizes (ID {lab['mixed'].id})")
    browser.find_element(By.ID, "run-start").click()
    failed = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#jobs-table tr[data-state=failed]")))
    assert "failed: Image “field 2.tif”" in failed.text
    assert "differs from the first image in size, channels or pixel type" in failed.text
    snapshot(browser, "openhcs-failed")
    assert browser.get_log("browser") == []
