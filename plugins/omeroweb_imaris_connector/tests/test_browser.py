"""The Imaris export page in chromium against a live OMERO.web test server, as a researcher
uses it: arrive from the webclient with images chosen, export them in a real imaris_export
worker, follow the job, download the file, find it again after a reload; cancel a waiting
export. Each state is kept as a screenshot (artifacts/screenshots/imaris-*.png) and checked by
axe-core."""

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from omero_plugin_common.testing.axe import snapshot

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("export_dir", "no_earlier_exports")]
PAGE = "/omeroweb_imaris_connector/"


def _wait(browser, seconds=30):
    return WebDriverWait(browser, seconds, poll_frequency=0.1,
                         ignored_exceptions=[StaleElementReferenceException])


def _rows(browser, table):
    return browser.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr:not(.empty)")


@pytest.mark.worker
def test_export_from_the_webclient_selection_then_download(live_server, browser, fake_omero,
                                                           lab, login_as, fake_omero_worker,
                                                           tmp_path):
    image, _ = lab
    fake_omero_worker("imaris_export")
    login_as(fake_omero.connect("alice"))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(downloads)})
    # What the webclient's "Open with > Export to Imaris…" opens: the page with ?image=<id>.
    browser.get(f"{live_server.url}{PAGE}?image={image.id}&image=987654")
    wait = _wait(browser)
    wait.until(lambda b: len(_rows(b, "chosen-table")) == 2)
    first, missing = _rows(browser, "chosen-table")
    link = first.find_element(By.CSS_SELECTOR, "a.webclient-link")
    assert link.text == "sample 1.czi"
    assert link.get_attribute("href") == f"{live_server.url}/webclient/?show=image-{image.id}"
    assert "Ready to export." in first.text
    assert "Not found, or you cannot read it." in missing.text
    assert browser.find_element(By.ID, "choose-message").text == (
        "Image 987654 was not found, or you cannot read it.")
    assert browser.find_element(By.CSS_SELECTOR, "#jobs-table tr.empty").text == "No exports yet."
    snapshot(browser, "imaris-chosen")
    missing.find_element(By.TAG_NAME, "button").click()
    assert len(_rows(browser, "chosen-table")) == 1
    assert browser.find_element(By.ID, "start-hint").text == "1 image will be exported."

    browser.find_element(By.ID, "export-start").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "start-message"), "Started 1 export."))
    assert browser.find_element(By.CSS_SELECTOR, "#chosen-table tr.empty").text == (
        "No images chosen yet.")
    download = wait.until(ec.element_to_be_clickable(
        (By.CSS_SELECTOR, "#jobs-table tr[data-state=succeeded] a.button")))
    row = browser.find_element(By.CSS_SELECTOR, "#jobs-table tr[data-state=succeeded]")
    assert "ready" in row.text and "sample 1.czi" in row.text
    snapshot(browser, "imaris-ready")
    download.click()
    wait.until(lambda _: [p for p in downloads.glob("*.ims")])
    (ims,) = downloads.glob("*.ims")
    assert ims.name.startswith("sample_1_")
    assert ims.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"  # an HDF5 file, as Imaris reads

    # Older exports: still listed after a reload, with the download.
    browser.get(f"{live_server.url}{PAGE}")
    wait.until(lambda b: len(_rows(b, "jobs-table")) == 1)
    assert _rows(browser, "jobs-table")[0].find_element(By.CSS_SELECTOR, "a.button").text == (
        "Download")
    assert browser.get_log("browser") == []


def test_type_ids_follow_a_waiting_export_and_cancel_it(live_server, browser, fake_omero, lab,
                                                       login_as, job_service):
    image, _ = lab
    login_as(fake_omero.connect("alice"))  # no worker: the export waits in the queue
    browser.get(f"{live_server.url}{PAGE}")
    wait = _wait(browser)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#jobs-table tr.empty")))
    assert browser.find_element(By.ID, "export-start").get_attribute("disabled") == "true"
    snapshot(browser, "imaris-empty")
    ids = browser.find_element(By.ID, "image-ids")
    ids.send_keys("12x")
    browser.find_element(By.CSS_SELECTOR, "#add-form button").click()
    assert browser.find_element(By.ID, "choose-message").text == (
        '"12x" is not an image ID: IDs are whole numbers such as 12.')
    ids.clear()
    ids.send_keys(f"{image.id}")
    browser.find_element(By.CSS_SELECTOR, "#add-form button").click()
    wait.until(lambda b: len(_rows(b, "chosen-table")) == 1)
    browser.find_element(By.ID, "export-start").click()
    queued = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#jobs-table tr[data-state=queued]")))
    assert queued.find_element(By.TAG_NAME, "progress")
    assert "queued" in queued.text
    snapshot(browser, "imaris-queued")
    # The list re-renders while it polls: find the button afresh if it was replaced.
    wait.until(lambda b: b.find_element(
        By.CSS_SELECTOR, "#jobs-table tr[data-state=queued] button").click() or True)
    wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#jobs-table tr[data-state=cancelled]")))
    assert browser.get_log("browser") == []
