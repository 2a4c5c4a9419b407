"""The upload page in chromium against a live OMERO.web test server: chunked upload with
progress, the confirm/prune step, the import, and a rendered SEM-EDX spectrum. Screenshots in
artifacts/screenshots/upload-*.png."""

import os

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from omero_test_double.harness.fixtures import SCREENSHOTS


def _shot(browser, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"upload-{name}.png"))


@pytest.fixture
def page(live_server, browser, upload_dir, world, login_as, standin_omero, celery_eager,
         job_service):
    login_as(world["omero"].connect("alice"))
    browser.get(f"{live_server.url}/omeroweb_upload/")
    WebDriverWait(browser, 10).until(
        lambda b: len(Select(b.find_element(By.ID, "project")).options) == 2)
    return browser


def _no_reread(*_):
    raise AssertionError("the page sent chunk digests: the finished file was read again")


@pytest.mark.browser
def test_upload_confirm_prune_and_import(page, world, tmp_path, monkeypatch):
    from omeroweb_upload import chunks

    # The page sends X-Prefix-Sha256, so the server never reads a finished file again.
    monkeypatch.setattr(chunks, "file_sha256", _no_reread)
    browser = page
    _shot(browser, "page")
    big = tmp_path / "a.tif"
    big.write_bytes(os.urandom(6 * 1024 * 1024))
    notes = tmp_path / "notes.docx"
    notes.write_bytes(b"not an image")
    junk = tmp_path / "Thumbs.db"
    junk.write_bytes(b"junk")
    Select(browser.find_element(By.ID, "project")).select_by_visible_text("P1")
    browser.find_element(By.ID, "files").send_keys(f"{big}\n{notes}\n{junk}")
    browser.find_element(By.ID, "start").click()
    wait = WebDriverWait(browser, 60, poll_frequency=0.05,
                         ignored_exceptions=[StaleElementReferenceException])

    def in_progress(b):
        bar = b.find_element(By.ID, "job-progress")
        value, top = float(bar.get_attribute("value")), float(bar.get_attribute("max"))
        return 0 < value < top and top > 6_000_000
    wait.until(in_progress)
    _shot(browser, "in-progress")
    wait.until(ec.text_to_be_present_in_element((By.ID, "job-state"), "awaiting confirmation"))
    rows = {r.find_elements(By.TAG_NAME, "td")[1].text: r
            for r in browser.find_elements(By.CSS_SELECTOR, "#job-files tbody tr")}
    assert rows["notes.docx"].get_attribute("data-compat") == "incompatible"
    assert "skipped: system file Thumbs.db" in rows["Thumbs.db"].text
    assert not rows["notes.docx"].find_element(By.CLASS_NAME, "keep").is_selected()
    assert "1 file(s) cannot be read" in browser.find_element(By.ID, "job-question").text
    _shot(browser, "confirm-prune")
    browser.find_element(By.ID, "prune").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "job-state"), "ready"))
    browser.find_element(By.ID, "import").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "job-state"), "done"))
    _shot(browser, "done")
    # The table is re-rendered on each poll: read the row inside the (stale-tolerant) wait.
    imported = wait.until(lambda b: b.find_element(
        By.CSS_SELECTOR, "#job-files tbody tr[data-state=imported]").text)
    assert "a.tif" in imported and "Image" in imported
    conn = world["omero"].connect("alice")
    datasets = list(conn.getObject("Project", world["project"].id).listChildren())
    assert [i.getName() for d in datasets for i in d.listChildren()] == ["a.tif"]
    assert browser.get_log("browser") == []
    # The choices are the user's settings: a new visit starts from them.
    browser.refresh()
    WebDriverWait(browser, 10).until(lambda b: Select(
        b.find_element(By.ID, "project")).first_selected_option.text == "P1")


@pytest.mark.browser
def test_sem_edx_spectrum_is_rendered(page, tmp_path):
    from importlib import util

    spec = util.spec_from_file_location("spectra", os.path.join(os.path.dirname(__file__),
                                                                "test_sem_edx.py"))
    spectra = util.module_from_spec(spec)
    spec.loader.exec_module(spectra)
    browser = page
    good = tmp_path / "site1.txt"
    good.write_bytes(spectra.make_spectrum(title="Basalt, site 1"))
    bad = tmp_path / "broken.txt"
    bad.write_bytes(spectra.make_spectrum(cut=True))
    short = tmp_path / "short.txt"
    short.write_bytes(spectra.make_spectrum(npoints=1000))
    browser.find_element(By.ID, "sem-edx").click()
    browser.find_element(By.ID, "files").send_keys(f"{good}\n{bad}\n{short}")
    image = WebDriverWait(browser, 30).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#spectra img.spectrum")))
    WebDriverWait(browser, 10).until(lambda b: b.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth", image) == 1275)
    error = WebDriverWait(browser, 10).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#spectra p.error")))
    assert error.text == "broken.txt: no #ENDOFDATA marker: the file is cut off"
    warning = WebDriverWait(browser, 10).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#spectra p.warning")))
    assert warning.text == ("short.txt: #NPOINTS says 1000 points but the data hold 1024; "
                            "all 1024 are shown")
    browser.execute_script("arguments[0].scrollIntoView()", image)
    _shot(browser, "spectrum")
