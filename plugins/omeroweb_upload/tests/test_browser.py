"""The upload page in chromium against a live OMERO.web test server: chunked upload with
progress, the confirm/prune step, the import, and a rendered SEM-EDX spectrum. Screenshots in
artifacts/screenshots/upload-*.png."""

import os

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from omero_test_double.harness.axe import snapshot


def _shot(browser, name):
    """A full-page screenshot of this state, and axe-core finds no serious violation."""
    snapshot(browser, f"upload-{name}")


@pytest.fixture
def page(live_server, browser, upload_dir, world, login_as, standin_omero, celery_eager,
         job_service):
    login_as(world["omero"].connect("alice"))
    browser.get(f"{live_server.url}/omeroweb_upload/")
    WebDriverWait(browser, 10).until(
        lambda b: len(Select(b.find_element(By.ID, "project")).options) == 2)
    WebDriverWait(browser, 10).until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "body[data-ready]")))
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
    Select(browser.find_element(By.ID, "project")).select_by_value(str(world["project"].id))
    browser.find_element(By.ID, "files").send_keys(f"{big}\n{notes}\n{junk}")
    tree = [i.get_attribute("data-path") for i in
            browser.find_elements(By.CSS_SELECTOR, "#tree li[data-path]")]
    assert tree == ["Thumbs.db", "a.tif", "notes.docx"]  # reviewed before anything is sent
    _shot(browser, "review")
    browser.find_element(By.ID, "start").click()
    wait = WebDriverWait(browser, 60, poll_frequency=0.05,
                         ignored_exceptions=[StaleElementReferenceException])

    def in_progress(b):
        bar = b.find_element(By.ID, "job-progress")
        value, top = float(bar.get_attribute("value")), float(bar.get_attribute("max"))
        return 0 < value < top and top > 6_000_000
    wait.until(in_progress)
    _shot(browser, "in-progress")
    # Defect 5: the heading is not "Upload uploading"; the state reads as words.
    heading = browser.find_element(By.CSS_SELECTOR, "#upload-job h2")
    assert heading.get_attribute("textContent") == "Your upload"
    wait.until(ec.text_to_be_present_in_element((By.ID, "job-state"),
                                                "Waiting for your decision"))
    rows = {r.find_elements(By.TAG_NAME, "td")[1].text: r
            for r in browser.find_elements(By.CSS_SELECTOR, "#job-files tbody tr")}
    assert rows["notes.docx"].get_attribute("data-compat") == "incompatible"
    assert "skipped: system file Thumbs.db" in rows["Thumbs.db"].text
    # Defect 5: a skipped file has no Keep box (nothing to keep).
    assert rows["Thumbs.db"].find_elements(By.CLASS_NAME, "keep") == []
    assert not rows["notes.docx"].find_element(By.CLASS_NAME, "keep").is_selected()
    assert "1 file(s) cannot be read" in browser.find_element(By.ID, "job-question").text
    _shot(browser, "confirm-prune")
    browser.find_element(By.ID, "prune").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "job-state"), "Ready to import"))
    browser.find_element(By.ID, "import").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "job-state"), "Done"))
    _shot(browser, "done")
    conn = world["omero"].connect("alice")
    datasets = list(conn.getObject("Project", world["project"].id).listChildren())
    [image] = [i for d in datasets for i in d.listChildren()]
    assert image.getName() == "a.tif"
    # Defect 5: "Image N" links to the image in the webclient; the check's question is gone.
    link = WebDriverWait(browser, 10).until(lambda b: b.find_element(
        By.CSS_SELECTOR, "#job-files tbody tr[data-state=imported] a"),
        "the imported file's image is not a link")
    assert link.text == f"Image {image.getId()}"
    assert link.get_attribute("href").endswith(f"/webclient/?show=image-{image.getId()}")
    assert "confirm to import anyway" not in browser.find_element(By.ID, "job-messages").text
    assert browser.get_log("browser") == []
    # Defect 5: the result survives a reload.
    browser.refresh()
    wait.until(ec.text_to_be_present_in_element((By.ID, "job-state"), "Done"),
               "the result is gone after the reload")
    assert wait.until(lambda b: b.find_element(
        By.CSS_SELECTOR, "#job-files tbody tr[data-state=imported] a")).text.startswith("Image")
    _shot(browser, "done-after-reload")
    # The choices are the user's settings: a new visit starts from them.
    browser.find_element(By.ID, "new-upload").click()
    WebDriverWait(browser, 10).until(lambda b: Select(
        b.find_element(By.ID, "project")).first_selected_option.get_attribute("value")
        == str(world["project"].id))
    assert browser.find_element(By.ID, "upload-form").is_displayed()


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


@pytest.mark.browser
def test_root_is_refused_before_choosing_files(live_server, browser, upload_dir, world,
                                               login_as):
    """Defect 6: root sees the refusal at once, never a form that fails on Upload."""
    login_as(world["omero"].connect("root"))
    browser.get(f"{live_server.url}/omeroweb_upload/")
    WebDriverWait(browser, 10).until(ec.visibility_of_element_located((By.ID, "root-refused")),
                                     "root is not told before choosing files")
    assert not browser.find_element(By.ID, "upload-form").is_displayed()
    _shot(browser, "root")


@pytest.mark.browser
def test_file_and_folder_buttons_have_their_own_labels(page):
    """Defect 5: not two "Choose Files" buttons."""
    browser = page
    # The browser's own file inputs (each a "Choose Files" button) are not what users see.
    native = browser.execute_script("""return [...document.querySelectorAll('input[type=file]')]
      .filter((i) => { const r = i.getBoundingClientRect(); return r.width > 1 && r.height > 1; })
      .map((i) => i.id);""")
    assert native == [], f"the browser's own Choose Files buttons are shown: {native}"
    assert browser.find_element(By.ID, "choose-files").text == "Choose files…"
    assert browser.find_element(By.ID, "choose-folder").text == "Choose a folder…"
    assert browser.find_element(By.ID, "files").accessible_name == "Files to upload"
    assert browser.find_element(By.ID, "folder").accessible_name == "Folder to upload"


DROP = """
const [input, target] = arguments;
const data = new DataTransfer();
for (const file of input.files) data.items.add(file);
for (const type of ['dragenter', 'dragover']) {
  target.dispatchEvent(new DragEvent(type, { bubbles: true, dataTransfer: data }));
}
window.__dropData = data;
"""
FINISH_DROP = """
const target = arguments[0];
target.dispatchEvent(new DragEvent('drop', { bubbles: true, dataTransfer: window.__dropData }));
"""


def _drag_in(browser, paths):
    """Drag files onto the page the way a desktop does: dragenter, dragover, then drop."""
    browser.execute_script(
        "const i = document.createElement('input'); i.type = 'file'; i.multiple = true;"
        " i.id = 'test-drag-source'; i.style.display = 'none'; document.body.append(i);")
    source = browser.find_element(By.ID, "test-drag-source")
    source.send_keys("\n".join(str(p) for p in paths))
    target = browser.find_element(By.ID, "dropzone")
    browser.execute_script(DROP, source, target)
    overlay = browser.find_element(By.ID, "drop-overlay")
    assert overlay.is_displayed()
    _shot(browser, "drag-overlay")
    browser.execute_script(FINISH_DROP, target)
    WebDriverWait(browser, 5).until(lambda b: not overlay.is_displayed())
    browser.execute_script("document.getElementById('test-drag-source').remove()")


@pytest.mark.browser
def test_drag_and_drop_review_tree_and_cancel(page, tmp_path):
    browser = page
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    for folder in (first, second):
        (folder / "a.tif").write_bytes(os.urandom(1000))
    (first / "b.tif").write_bytes(os.urandom(1000))
    _drag_in(browser, [first / "a.tif", first / "b.tif"])

    def tree():
        return [i.get_attribute("data-path") for i in
                browser.find_elements(By.CSS_SELECTOR, "#tree li[data-path]")]
    assert tree() == ["a.tif", "b.tif"]
    _drag_in(browser, [second / "a.tif"])  # the same name again: replaced, and said so
    assert browser.find_element(By.ID, "warnings").text == (
        "a.tif was already in the list: the new copy replaces it.")
    # A folder: each top-level folder is a dataset; two files of one name in it are flagged.
    plate = tmp_path / "plate"
    (plate / "sub").mkdir(parents=True)
    (plate / "c.tif").write_bytes(b"c")
    (plate / "sub" / "c.tif").write_bytes(b"c")
    browser.find_element(By.ID, "folder").send_keys(str(plate))
    WebDriverWait(browser, 5).until(lambda b: "plate/c.tif" in tree())
    assert "2 files named c.tif go to dataset \"plate\"" in browser.find_element(
        By.ID, "warnings").text
    assert "dataset \"plate\"" in browser.find_element(By.ID, "tree").text
    _shot(browser, "tree")
    browser.find_element(By.CSS_SELECTOR, "#tree li[data-path='b.tif'] button.remove").click()
    assert "b.tif" not in tree()
    browser.find_element(By.CSS_SELECTOR, "button[aria-label='Remove folder plate']").click()
    assert tree() == ["a.tif"]
    browser.find_element(By.ID, "clear-all").click()
    assert tree() == [] and not browser.find_element(By.ID, "selection").is_displayed()
    # Upload, then cancel while the job waits for a decision: the files are deleted.
    notes = tmp_path / "notes.docx"
    notes.write_bytes(b"not an image")
    _drag_in(browser, [second / "a.tif", notes])
    browser.find_element(By.ID, "start").click()
    wait = WebDriverWait(browser, 30, ignored_exceptions=[StaleElementReferenceException])
    wait.until(ec.text_to_be_present_in_element((By.ID, "job-state"),
                                                "Waiting for your decision"))
    browser.find_element(By.ID, "cancel").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "job-state"), "Cancelled"))
    assert "You cancelled the upload" in browser.find_element(By.ID, "job-messages").text
    statuses = {r.find_elements(By.TAG_NAME, "td")[4].text for r in
                browser.find_elements(By.CSS_SELECTOR, "#job-files tbody tr")}
    assert statuses == {"not imported (cancelled)"}
    assert browser.find_element(By.ID, "new-upload").is_displayed()
    _shot(browser, "cancelled")
    assert browser.get_log("browser") == []


@pytest.mark.browser
def test_sem_edx_spectrum_is_matched_to_a_chosen_image(page, tmp_path):
    from importlib import util

    from omero_plugin_common import db

    spec = util.spec_from_file_location("spectra", os.path.join(os.path.dirname(__file__),
                                                                "test_sem_edx.py"))
    spectra = util.module_from_spec(spec)
    spec.loader.exec_module(spectra)
    browser = page
    (tmp_path / "site1.txt").write_bytes(spectra.make_spectrum(title="Basalt, site 1"))
    (tmp_path / "site1.tif").write_bytes(b"tif")
    (tmp_path / "overview.tif").write_bytes(b"tif")
    browser.find_element(By.ID, "sem-edx").click()
    browser.find_element(By.ID, "files").send_keys("\n".join(
        str(tmp_path / n) for n in ("site1.txt", "site1.tif", "overview.tif")))
    pair = WebDriverWait(browser, 10).until(ec.visibility_of_element_located(
        (By.CSS_SELECTOR, "select.pair[data-spectrum='site1.txt']")))
    assert Select(pair).first_selected_option.get_attribute("value") == "site1.tif"
    Select(pair).select_by_value("overview.tif")
    browser.find_element(By.ID, "sem-figure-images").click()
    _shot(browser, "sem-edx-pairs")
    browser.find_element(By.ID, "start").click()
    WebDriverWait(browser, 30).until(ec.visibility_of_element_located((By.ID, "upload-job")))
    with db.transaction() as tx:
        options = tx.fetchone("SELECT options FROM upload_jobs ORDER BY created_at DESC"
                              " LIMIT 1")["options"]
    assert options["sem_edx_associations"] == {"site1.txt": "overview.tif"}
    assert options["sem_edx_settings"]["create_figures_images"] is False


@pytest.mark.browser
def test_settings_panel(page, world):
    browser = page
    browser.find_element(By.ID, "settings-open").click()
    WebDriverWait(browser, 5).until(ec.visibility_of_element_located((By.ID, "set-project")))
    Select(browser.find_element(By.ID, "set-project")).select_by_value(str(world["project"].id))
    browser.find_element(By.ID, "set-compatibility").click()
    browser.find_element(By.ID, "set-batch").send_keys("3")
    browser.find_element(By.ID, "settings-save").click()
    WebDriverWait(browser, 5).until(ec.text_to_be_present_in_element(
        (By.ID, "settings-message"), "Settings saved."))
    _shot(browser, "settings")
    browser.refresh()
    WebDriverWait(browser, 10).until(lambda b: Select(b.find_element(
        By.ID, "project")).first_selected_option.get_attribute("value")
        == str(world["project"].id))
    assert not browser.find_element(By.ID, "compatibility").is_selected()
