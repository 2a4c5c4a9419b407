"""The OMP page in chromium against a live OMERO.web test server; jobs run in a real worker."""

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from omero_test_double.harness.axe import snapshot

from .conftest import map_values

PAGE = "/omeroweb_omp_plugin/"


def _wait(browser, timeout=30):
    return WebDriverWait(browser, timeout, poll_frequency=0.1,
                         ignored_exceptions=[StaleElementReferenceException])


def _shot(browser, name):
    """A full-page screenshot of this state, and axe-core finds no serious violation."""
    snapshot(browser, f"omp-{name}")


def _click(browser, element_id):
    """Click in the middle of the window: OMERO.web's sticky header covers the top."""
    element = browser.find_element(By.ID, element_id)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def _open(browser, live_server, lab, collab=False):
    browser.get(live_server.url + PAGE)
    wait = _wait(browser)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#omp-app[data-ready]")))
    if collab:
        wait.until(ec.visibility_of_element_located((By.ID, "collab"))).click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#project option")) > 1)
    Select(browser.find_element(By.ID, "project")).select_by_value(str(lab.project.id))
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#datasets input.dataset:checked"))
    return wait


# Controls without an accessible name (label, aria-label, aria-labelledby, or own text).
UNNAMED = """
return [...document.querySelectorAll('input, select, textarea, button')].filter((el) => {
  if (el.type === 'hidden' || el.closest('[hidden]')) return false;
  if (el.closest('dialog:not([open])')) return false;
  const named = (el.labels && el.labels.length && [...el.labels].some((l) => l.textContent.trim()))
    || (el.getAttribute('aria-label') || '').trim() || el.getAttribute('aria-labelledby')
    || (el.tagName === 'BUTTON' && el.textContent.trim());
  return !named;
}).map((el) => el.id || el.className || el.outerHTML.slice(0, 60));
"""


@pytest.mark.browser
def test_main_page(live_server, browser, lab, login_as):
    login_as(lab.omero.connect("bob"))
    _open(browser, live_server, lab, collab=True)
    variables = [i.get_attribute("value") for i in browser.find_elements(By.CLASS_NAME,
                                                                          "variable")]
    assert variables[:6] == ["Project number", "Sample type", "Substrate", "Position",
                             "Image acquisition", "Specific experimental conditions"]
    groups = [g.get_attribute("label") for g in browser.find_elements(By.TAG_NAME, "optgroup")]
    assert groups == ["Read-annotate groups"]
    _shot(browser, "page")
    assert browser.get_log("browser") == []


@pytest.mark.browser
def test_root_sees_the_refusal(live_server, browser, lab, login_as):
    login_as(lab.omero.connect("root"))
    browser.get(live_server.url + PAGE)
    _wait(browser).until(ec.visibility_of_element_located((By.ID, "root-refused")))
    assert not browser.find_element(By.ID, "omp-app").is_displayed()
    _shot(browser, "root")


@pytest.mark.browser
def test_preview(live_server, browser, lab, login_as):
    login_as(lab.omero.connect("alice"))
    wait = _open(browser, live_server, lab)
    browser.find_element(By.CSS_SELECTOR, ".separator[value='-']").click()
    browser.find_element(By.ID, "preview-run").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#preview tbody tr")) == 3)
    cells = [c.text for c in browser.find_elements(By.CSS_SELECTOR,
                                                   "#preview tbody tr:last-child td")]
    assert cells == ["", "P2_T-cell_plastic_pos3.tif", str(lab.dataset.id),
                     str(lab.images[2].id), "P2", "T-cell", "plastic", "pos3"]
    assert "3 image(s), 3 you may annotate" in browser.find_element(By.ID, "message").text
    _shot(browser, "preview")
    assert browser.get_log("browser") == []


@pytest.mark.browser
def test_free_separator_characters(live_server, browser, lab, login_as):
    """Any characters typed under "Other separator characters" split (the original's box);
    the choice comes back after a reload; an invisible one is refused with a sentence."""
    image = lab.omero.add_image("P4+HeLa;glass·pos1[2.tif", owner=lab.alice, group=lab.lab,
                                dataset=lab.dataset)
    login_as(lab.omero.connect("alice"))
    wait = _open(browser, live_server, lab)
    box = browser.find_element(By.ID, "separator-chars")
    assert box.accessible_name == "Other separator characters"
    browser.find_element(By.CSS_SELECTOR, "input[name=mode][value=regex]").click()
    box.send_keys("+;·[")
    # Typing separator characters chooses the separators mode again.
    assert browser.find_element(By.CSS_SELECTOR,
                                "input[name=mode][value=separators]").is_selected()
    browser.find_element(By.ID, "preview-run").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#preview tbody tr")) == 4)
    row = browser.find_element(By.XPATH, f"//a[text()='{image.id}']/ancestor::tr")
    cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
    assert cells[4:] == ["P4", "HeLa", "glass", "pos1", "2"]
    _shot(browser, "free-separators")
    browser.refresh()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#omp-app[data-ready]")))
    assert browser.find_element(By.ID, "separator-chars").get_attribute("value") == "+;·["
    assert browser.find_element(By.CSS_SELECTOR, ".separator[value='_']").is_selected()
    # A control character (pasted, say) is refused with a sentence, not split on silently.
    browser.execute_script("document.getElementById('separator-chars').value = '+\\u0007'")
    Select(browser.find_element(By.ID, "project")).select_by_value(str(lab.project.id))
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#datasets input.dataset:checked"))
    browser.find_element(By.ID, "preview-run").click()
    wait.until(ec.text_to_be_present_in_element(
        (By.ID, "message"), "A separator cannot contain an invisible or control character "
                            "(U+0007)"))
    assert browser.find_element(By.ID, "message").get_attribute("data-kind") == "error"
    _shot(browser, "separator-refused")
    # Only the refused request itself is in the log (chromium logs every 4xx), no script error.
    assert [e for e in browser.get_log("browser") if e["source"] != "network"] == []


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
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#job[data-state=running] progress"))
    # Defect 4: no second job can be started while one runs.
    for button in ("job-write", "job-acq", "job-delete-plugin", "job-delete-all"):
        assert not browser.find_element(By.ID, button).is_enabled(), button
    # Counts and an ETA once the first batches are done.
    wait.until(lambda b: any("/ 303" in s.text and "left" in s.text for s in b.find_elements(
        By.CSS_SELECTOR, "#job[data-state=running] .job-summary")))
    browser.execute_script("document.getElementById('actions').scrollIntoView()")
    _shot(browser, "running-job")
    wait.until(ec.visibility_of_element_located((By.ID, "job-cancel"))).click()
    _wait(browser, 60).until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#job[data-state=cancelled]")))
    # Defect 2: the outcome is in section 3, and a cancel is a note, not an error.
    outcome = _wait(browser).until(lambda b: b.find_element(
        By.CSS_SELECTOR, "#actions #job-message[data-kind=info]"))
    assert outcome.text.startswith("The job was cancelled after")
    assert browser.find_element(By.ID, "message").text == ""
    assert browser.find_element(By.ID, "job-write").is_enabled()
    _shot(browser, "cancelled")
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


def _sets(user):
    from omeroweb_omp_plugin.services import store

    return [s["set_name"] for s in store.list_sets(user)]


def _answer_dialog(browser, button):
    """The confirmation dialog is open (modal); press Cancel or the named action."""
    dialog = _wait(browser, 10).until(ec.visibility_of_element_located((By.ID, "confirm-dialog")),
                                      "no confirmation dialog opened")
    assert dialog.get_attribute("open") is not None
    text = browser.find_element(By.ID, "confirm-dialog-text").text
    browser.find_element(By.ID, f"confirm-dialog-{button}").click()
    _wait(browser).until(ec.invisibility_of_element(dialog))
    return text


@pytest.mark.browser
def test_deletes_of_my_data_ask_first(live_server, browser, lab, login_as):
    """Defect 1: a set's Delete, "Delete my variable sets" and "Delete all my plugin data"
    ask before acting; Cancel keeps the data."""
    from omeroweb_omp_plugin.services import store

    store.save_set("alice", "Plates", ["Plate", "Well"])
    store.save_set("alice", "Cells", ["Line", "Stain"])
    login_as(lab.omero.connect("alice"))
    _open(browser, live_server, lab)
    Select(browser.find_element(By.ID, "varsets")).select_by_value("Plates")
    browser.find_element(By.ID, "varset-delete").click()
    _shot(browser, "confirm-delete-set")
    assert "Plates" in _answer_dialog(browser, "cancel")
    assert _sets("alice") == ["Cells", "Plates"]
    browser.find_element(By.ID, "varset-delete").click()
    _answer_dialog(browser, "ok")
    _wait(browser).until(ec.text_to_be_present_in_element((By.ID, "message"),
                                                          'Variable set "Plates" deleted.'))
    assert _sets("alice") == ["Cells"]
    browser.find_element(By.ID, "data-delete-sets").click()
    _answer_dialog(browser, "cancel")
    browser.find_element(By.ID, "data-delete-all").click()
    assert "cannot be undone" in _answer_dialog(browser, "cancel")
    assert _sets("alice") == ["Cells"]
    browser.find_element(By.ID, "data-delete-all").click()
    _answer_dialog(browser, "ok")
    _wait(browser).until(ec.text_to_be_present_in_element((By.ID, "account-message"),
                                                          "All your plugin data was deleted."))
    assert _sets("alice") == []
    assert browser.get_log("browser") == []


@pytest.mark.browser
def test_messages_are_sentences_in_their_own_section(live_server, browser, lab, login_as):
    """Defects 2 and 3: no dataset chosen reads as a sentence; a refused delete is reported
    in section 3, not in section 2."""
    login_as(lab.omero.connect("alice"))
    browser.get(live_server.url + PAGE)
    _wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR,
                                                         "#omp-app[data-ready]")))
    browser.find_element(By.ID, "preview-run").click()
    told = _wait(browser, 10).until(lambda b: b.find_element(By.ID, "message").text)
    assert told == "Choose a project and at least one dataset first."
    browser.find_element(By.ID, "job-write").click()
    assert browser.find_element(By.ID, "job-message").text == (
        "Choose a project and at least one dataset first.")
    Select(browser.find_element(By.ID, "project")).select_by_value(str(lab.project.id))
    _wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, "input.dataset:checked"))
    browser.find_element(By.ID, "preview-run").click()
    _wait(browser).until(ec.text_to_be_present_in_element((By.ID, "message"), "3 image(s)"))
    browser.find_element(By.ID, "job-delete-all").click()  # DELETE not typed
    _wait(browser).until(ec.text_to_be_present_in_element(
        (By.ID, "job-message"), "Type DELETE in the box to confirm the deletion."))
    assert browser.find_element(By.ID, "job-message").get_attribute("data-kind") == "error"
    assert "3 image(s)" in browser.find_element(By.ID, "message").text  # section 2 untouched
    _shot(browser, "delete-refused")


SHOWN = """return [...document.querySelectorAll('#message, #job-message')]
  .map((n) => n.textContent.trim()).filter(Boolean);"""


@pytest.mark.browser
@pytest.mark.worker
def test_section_3_outcomes_stay_in_section_3(live_server, browser, lab, login_as,
                                              fake_omero_worker, monkeypatch):
    """Defect 2 alone: a refused delete and a cancelled job are told in section 3, never in
    section 2's message line, and a cancel is a neutral note, not an error."""
    for n in range(300):
        lab.omero.add_image(f"P9_cells_glass_pos{n}.tif", owner=lab.alice, group=lab.lab,
                            dataset=lab.dataset)
    monkeypatch.setenv("OMP_WRITE_BATCH_SIZE", "1")
    fake_omero_worker("omp")
    login_as(lab.omero.connect("alice"))
    wait = _open(browser, live_server, lab)
    _click(browser, "job-delete-all")  # DELETE not typed
    wait.until(lambda b: b.execute_script(SHOWN))
    assert browser.find_element(By.ID, "message").text == "", "section 2 shows it"
    assert browser.find_element(By.ID, "job-message").get_attribute("data-kind") == "error"
    _click(browser, "job-write")
    wait.until(ec.visibility_of_element_located((By.ID, "job-cancel"))).click()
    _wait(browser, 60).until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#job[data-state=cancelled]")))
    wait.until(lambda b: "cancel" in " ".join(b.execute_script(SHOWN)).lower())
    assert browser.find_element(By.ID, "message").text == "", "section 2 shows it"
    outcome = browser.find_element(By.ID, "job-message")
    assert outcome.get_attribute("data-kind") == "info", outcome.text


@pytest.mark.browser
def test_every_control_has_a_label(live_server, browser, lab, login_as):
    """Defect 8: the regex box, provider lists, variable boxes, set list and name and the API
    key box (and every other control) have an accessible name, in each main state."""
    login_as(lab.omero.connect("alice"))
    _open(browser, live_server, lab)
    assert browser.execute_script(UNNAMED) == []
    browser.find_element(By.ID, "preview-run").click()
    _wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#preview tbody tr"))
    assert browser.execute_script(UNNAMED) == []
    for control in ("regex", "ai-provider", "key-provider", "api-key", "varsets",
                    "varset-name"):
        assert browser.find_element(By.ID, control).accessible_name, control
    _click(browser, "settings-open")
    assert browser.execute_script(UNNAMED) == []
    _shot(browser, "settings-open")


@pytest.mark.browser
def test_project_search_collaboration_and_dataset_table(live_server, browser, lab, login_as):
    o = lab.omero
    zebra = o.add_project("Zebrafish screen", owner=lab.alice, group=lab.lab)
    d10 = o.add_dataset("D10", owner=lab.alice, group=lab.lab, project=zebra)
    d2 = o.add_dataset("D2", owner=lab.alice, group=lab.lab, project=zebra)
    for n in range(2):
        o.add_image(f"z_{n}.tif", owner=lab.alice, group=lab.lab, dataset=d2)
    login_as(o.connect("bob"))
    browser.get(live_server.url + PAGE)
    wait = _wait(browser)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#omp-app[data-ready]")))
    # bob owns nothing: the collaborators' projects come with the toggle.
    assert browser.find_elements(By.CSS_SELECTOR, "#project optgroup") == []
    browser.find_element(By.ID, "collab").click()
    labels = [g.get_attribute("label") for g in
              browser.find_elements(By.CSS_SELECTOR, "#project optgroup")]
    assert labels == ["Read-annotate groups"]
    browser.find_element(By.ID, "project-search").send_keys("zebra")
    options = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#project option")]
    assert options == ["Choose a project", f"Zebrafish screen (alice, ID {zebra.id})"]
    Select(browser.find_element(By.ID, "project")).select_by_value(str(zebra.id))
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#datasets tbody tr")) == 2)

    def table():
        return [[c.text for c in r.find_elements(By.TAG_NAME, "td")[1:]]
                for r in browser.find_elements(By.CSS_SELECTOR, "#datasets tbody tr")]
    assert table() == [["D2", "2", str(d2.id)], ["D10", "0", str(d10.id)]]  # natural order
    browser.find_element(By.CSS_SELECTOR, "#datasets button[data-key=image_count]").click()
    assert table()[0][0] == "D10"
    browser.find_element(By.CSS_SELECTOR, "#datasets button[data-key=image_count]").click()
    assert table()[0][0] == "D2"
    link = browser.find_element(By.LINK_TEXT, "D2").get_attribute("href")
    assert link.endswith(f"/webclient/?show=dataset-{d2.id}")
    browser.find_element(By.ID, "datasets-all").click()
    assert browser.find_elements(By.CSS_SELECTOR, "input.dataset:checked") == []
    browser.find_element(By.CSS_SELECTOR, f"input.dataset[value='{d2.id}']").click()
    assert browser.execute_script("return document.getElementById('datasets-all')"
                                  ".indeterminate") is True
    _shot(browser, "datasets")
    assert browser.get_log("browser") == []


@pytest.mark.browser
def test_variable_rows_preview_untick_and_sort(live_server, browser, lab, login_as):
    login_as(lab.omero.connect("alice"))
    wait = _open(browser, live_server, lab)

    def names():
        return [i.get_attribute("value") for i in browser.find_elements(By.CLASS_NAME,
                                                                         "variable")]
    assert len(names()) == 6
    browser.find_element(By.CSS_SELECTOR, "#variables li:nth-child(2) [data-action=up]").click()
    assert names()[:2] == ["Sample type", "Project number"]
    browser.find_element(By.CSS_SELECTOR, "#variables li:nth-child(1) [data-action=remove]"
                         ).click()
    assert names()[0] == "Project number" and len(names()) == 5
    browser.find_element(By.ID, "variable-add").click()
    browser.switch_to.active_element.send_keys("Extra")
    assert names()[-1] == "Extra"
    browser.find_element(By.ID, "variables-reset").click()
    assert names() == ["Project number", "Sample type", "Substrate", "Position",
                       "Image acquisition", "Specific experimental conditions"]
    assert browser.find_element(By.LINK_TEXT, "What is REMBI?").get_attribute("href")
    browser.find_element(By.ID, "preview-run").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#preview tbody tr")) == 3)
    browser.find_element(By.CSS_SELECTOR, "#preview button[data-key=image_id]").click()
    browser.find_element(By.CSS_SELECTOR, "#preview button[data-key=image_id]").click()
    first = browser.find_element(By.CSS_SELECTOR, "#preview tbody tr td:nth-child(2)").text
    assert first == "P2_T-cell_plastic_pos3.tif"  # highest id first
    browser.find_element(By.CSS_SELECTOR, "#preview tbody tr input.image").click()
    assert "2 ticked to write" in browser.find_element(By.ID, "message").text
    _shot(browser, "preview-unticked")
    assert browser.get_log("browser") == []


@pytest.mark.browser
def test_sets_search_settings_key_visibility_and_ai_review(live_server, browser, lab,
                                                           login_as):
    from omeroweb_omp_plugin.services import store

    for name in ("Plates", "Cells", "Tissue"):
        store.save_set("alice", name, [name + " id"])
    login_as(lab.omero.connect("alice"))
    wait = _open(browser, live_server, lab)
    browser.find_element(By.ID, "varset-search").send_keys("cel")
    options = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#varsets option")]
    assert options == ["Variable sets…", "Cells (1)"]
    browser.find_element(By.ID, "varset-load").click()
    wait.until(lambda b: b.find_element(By.CLASS_NAME, "variable").get_attribute("value")
               == "Cells id")
    # Show/hide of a typed API key.
    key = browser.find_element(By.ID, "api-key")
    key.send_keys("sk-test")
    assert key.get_attribute("type") == "password"
    browser.find_element(By.ID, "api-key-show").click()
    assert key.get_attribute("type") == "text"
    browser.find_element(By.ID, "api-key-show").click()
    assert key.get_attribute("type") == "password"
    # The AI's answer is reviewed before it is used (the local heuristic needs no key).
    Select(browser.find_element(By.ID, "ai-provider")).select_by_value("local")
    browser.find_element(By.ID, "ai-suggest").click()
    review = wait.until(ec.visibility_of_element_located((By.ID, "ai-review")))
    assert "Suggested by local" in review.text
    assert browser.find_element(By.ID, "regex").get_attribute("value") == ""
    _shot(browser, "ai-review")
    browser.find_element(By.ID, "ai-accept").click()
    assert browser.find_element(By.ID, "regex").get_attribute("value")
    assert browser.find_element(By.CSS_SELECTOR, "input[name=mode][value=regex]").is_selected()
    # AI parsing: the rows are reviewed, then shown in the preview for the write.
    browser.find_element(By.ID, "ai-parse").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#ai-review-rows tbody tr")) == 3)
    assert browser.find_elements(By.CSS_SELECTOR, "#preview tbody tr") == []
    _shot(browser, "ai-parse-review")
    browser.find_element(By.ID, "ai-accept").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#preview tbody tr input.image"))
               == 3)
    assert "Write key/value pairs writes them" in browser.find_element(By.ID, "message").text
    # User settings: saved server-side, applied on the next visit.
    _click(browser, "settings-open")
    box = wait.until(ec.visibility_of_element_located((By.ID, "set-variables")))
    box.clear()
    box.send_keys("Plate\nWell\nField")
    browser.find_element(By.ID, "set-batch").send_keys("25")
    browser.find_element(By.ID, "settings-save").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "settings-message"), "Settings saved."))
    _shot(browser, "settings")
    assert store.get_settings("alice")["batch_size"] == 25
    browser.refresh()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#omp-app[data-ready]")))
    assert [i.get_attribute("value") for i in browser.find_elements(By.CLASS_NAME, "variable")
            ] == ["Plate", "Well", "Field"]
    _click(browser, "settings-open")
    browser.find_element(By.ID, "settings-restore").click()
    _answer_dialog(browser, "ok")
    wait.until(ec.text_to_be_present_in_element((By.ID, "settings-message"),
                                                "Default settings restored."))
    assert store.get_settings("alice") == {}
    assert browser.get_log("browser") == []


@pytest.mark.browser
def test_opened_from_the_webclient_on_a_dataset(live_server, browser, lab, login_as):
    """"Parse filenames…" on a dataset: its project is chosen and only that dataset ticked."""
    other = lab.omero.add_dataset("D2", owner=lab.alice, group=lab.lab, project=lab.project)
    login_as(lab.omero.connect("alice"))
    browser.get(f"{live_server.url}{PAGE}?dataset={other.id}")
    _wait(browser).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "input.dataset")) == 2)
    assert Select(browser.find_element(By.ID, "project")).first_selected_option.get_attribute(
        "value") == str(lab.project.id)
    ticked = [i.get_attribute("value") for i in
              browser.find_elements(By.CSS_SELECTOR, "input.dataset:checked")]
    assert ticked == [str(other.id)]
    link = browser.find_element(By.ID, "project-link").get_attribute("href")
    assert link.endswith(f"/webclient/?show=project-{lab.project.id}")
