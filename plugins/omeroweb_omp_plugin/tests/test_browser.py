"""The OMP page in chromium against a live OMERO.web test server; jobs run in a real worker."""

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from omero_test_double.harness.fixtures import SCREENSHOTS

from .conftest import map_values

PAGE = "/omeroweb_omp_plugin/"


def _wait(browser, timeout=30):
    return WebDriverWait(browser, timeout, poll_frequency=0.1,
                         ignored_exceptions=[StaleElementReferenceException])


def _open(browser, live_server, lab):
    browser.get(live_server.url + PAGE)
    wait = _wait(browser)
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#project option")) > 1)
    Select(browser.find_element(By.ID, "project")).select_by_value(str(lab.project.id))
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#datasets input:checked"))
    return wait


@pytest.mark.browser
def test_main_page(live_server, browser, lab, login_as):
    login_as(lab.omero.connect("bob"))
    _open(browser, live_server, lab)
    variables = [i.get_attribute("value") for i in browser.find_elements(By.CLASS_NAME,
                                                                          "variable")]
    assert variables[:6] == ["Project number", "Sample type", "Substrate", "Position",
                             "Image acquisition", "Specific experimental conditions"]
    groups = [g.get_attribute("label") for g in browser.find_elements(By.TAG_NAME, "optgroup")]
    assert groups == ["Read-annotate groups"]
    assert browser.get_log("browser") == []


@pytest.mark.browser
def test_root_sees_the_refusal(live_server, browser, lab, login_as):
    login_as(lab.omero.connect("root"))
    browser.get(live_server.url + PAGE)
    _wait(browser).until(ec.visibility_of_element_located((By.ID, "root-refused")))
    assert not browser.find_element(By.ID, "omp-app").is_displayed()


@pytest.mark.browser
def test_preview(live_server, browser, lab, login_as):
    login_as(lab.omero.connect("alice"))
    wait = _open(browser, live_server, lab)
    browser.find_element(By.CSS_SELECTOR, ".separator[value='-']").click()
    browser.find_element(By.ID, "preview-run").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#preview tbody tr")) == 3)
    cells = [c.text for c in browser.find_elements(By.CSS_SELECTOR,
                                                   "#preview tbody tr:last-child td")]
    assert cells == ["P2_T-cell_plastic_pos3.tif", "P2", "T-cell", "plastic", "pos3"]
    assert "3 image(s), 3 you may annotate" in browser.find_element(By.ID, "message").text
    browser.execute_script("document.getElementById('parser').scrollIntoView()")
    assert browser.get_log("browser") == []


@pytest.mark.browser
@pytest.mark.worker
def test_running_job_progress_survives_reload(live_server, browser, lab, login_as,
                                              fake_omero_worker, monkeypatch):
    for n in range(300):
        lab.omero.add_image(f"P9_cells_glass_pos{n}.tif", owner=lab.alice, group=lab.lab,
                            dataset=lab.dataset)
    monkeypatch.setenv("OMP_WRITE_BATCH_SIZE", "1")  # many small steps: a visible running job
    worker = fake_omero_worker("omp")
    login_as(lab.omero.connect("alice"))
    wait = _open(browser, live_server, lab)
    browser.find_element(By.ID, "job-write").click()
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#job[data-state=running] progress"))
    browser.refresh()  # the page picks the running job up again from localStorage
    # Counts and an ETA once the first batches are done.
    wait.until(lambda b: any("/ 303" in s.text and "left" in s.text for s in b.find_elements(
        By.CSS_SELECTOR, "#job[data-state=running] .job-summary")))
    browser.execute_script("document.getElementById('actions').scrollIntoView()")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "omp_running_job.png"))
    wait.until(ec.visibility_of_element_located((By.ID, "job-cancel"))).click()
    _wait(browser, 60).until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#job[data-state=cancelled]")))
    job_url = browser.execute_script("return localStorage.length")
    assert job_url == 0
    after = worker.omero_after(_last_job_id("alice"))
    written = sum(1 for image in lab.images if map_values(after, image))
    assert written <= 3  # cancelled before the end: not every image was written
    assert browser.get_log("browser") == []


def _last_job_id(owner):
    from omero_plugin_common import db

    with db.transaction() as tx:
        row = tx.fetchone("SELECT id FROM plugin_jobs WHERE owner = %s"
                          " ORDER BY created_at DESC LIMIT 1", (owner,))
    return row["id"]
