"""The shared job UI in a real browser: chromium drives the self-test page served by a live
OMERO.web (test server) while a real celery worker runs the job."""

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from omero_plugin_common import jobs


@pytest.mark.browser
@pytest.mark.worker
def test_selftest_page_shows_live_job_progress(live_server, browser, fake_omero, login_as,
                                               celery_worker_factory):
    celery_worker_factory("upload", "upload@browser")
    login_as(fake_omero.connect("root"))
    browser.get(f"{live_server.url}/omero_plugin_common/")
    Select(browser.find_element(By.NAME, "queue")).select_by_visible_text("upload")
    steps = browser.find_element(By.NAME, "steps")
    steps.clear()
    steps.send_keys("10")
    browser.find_element(By.ID, "selftest-run").click()

    # Each poll re-renders the job, so an element found a moment ago may be gone.
    wait = WebDriverWait(browser, 30, poll_frequency=0.1,
                         ignored_exceptions=[StaleElementReferenceException])
    # While the worker counts, the bar shows partial progress out of 10.
    running_value = wait.until(lambda b: next(
        ((bar.get_attribute("value"),) for bar in b.find_elements(
            By.CSS_SELECTOR, "#selftest-job[data-state=running] progress")
         if bar.get_attribute("max") == "10"), None))
    assert 0 <= int(running_value[0]) < 10

    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR,
                                               "#selftest-job[data-state=succeeded]")))
    bar = browser.find_element(By.CSS_SELECTOR, "#selftest-job progress")
    assert bar.get_attribute("value") == "10"
    summary = browser.find_element(By.CSS_SELECTOR, "#selftest-job .job-summary").text
    assert summary == "succeeded 10 / 10 (100%)"
    assert "counting to 10" in browser.find_element(By.CSS_SELECTOR, ".job-log").text
    assert browser.get_log("browser") == []  # no JavaScript errors
    owned = [j for j in _jobs_of("root") if j.queue == "upload" and j.state == "succeeded"]
    assert owned, "the page's job ran on the upload queue"


@pytest.mark.browser
def test_start_error_is_shown_to_the_user(live_server, browser, fake_omero, login_as):
    lab = fake_omero.add_group("lab")
    fake_omero.add_user("alice", [lab], admin=False)
    login_as(fake_omero.connect("root"))
    browser.get(f"{live_server.url}/omero_plugin_common/")
    login_as(fake_omero.connect("alice"))  # privileges drop after the page loaded
    browser.find_element(By.ID, "selftest-run").click()
    WebDriverWait(browser, 10).until(ec.text_to_be_present_in_element(
        (By.ID, "selftest-job"), "administrators only"))


def _jobs_of(owner):
    from omero_plugin_common import db

    with db.transaction() as tx:
        rows = tx.fetchall("SELECT id FROM plugin_jobs WHERE owner = %s", (owner,))
    return [jobs.get(r["id"]) for r in rows]
