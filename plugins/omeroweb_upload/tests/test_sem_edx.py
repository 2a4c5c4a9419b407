"""SEM-EDX: EMSA/MSA parsing of generated spectra (good and malformed), the plot checked as an
image, and the attachments made for the user after an upload in SEM-EDX mode."""

import hashlib
import io
import math

import numpy as np
import pytest
from PIL import Image

from omeroweb_upload.sem_edx import (
    NAMESPACE,
    SpectrumError,
    merge_labels,
    parse_emsa,
    plot_spectrum,
)

ELEMENTS = [(6, 0.277, "C"), (8, 0.525, "O"), (11, 1.041, "Na"), (12, 1.253, "Mg"),
            (13, 1.486, "Al"), (14, 1.739, "Si"), (19, 3.312, "K"), (20, 3.690, "Ca"),
            (26, 6.398, "Fe"), (26, 7.057, "Fe")]


def make_spectrum(title="Site 1", labels=ELEMENTS, points=1024, step=0.01,
                  single_column=False, extra_header="", cut=False):
    lines = ["#FORMAT      : EMSA/MAS Spectral Data File", "#VERSION     : 1.0",
             f"#TITLE       : {title}", "#OWNER       : lab", "#OWNER       : second owner",
             f"#NPOINTS     : {points}", "#XUNITS      : keV", "#YUNITS      : cps/eV",
             f"#XPERCHAN    : {step}", "#OFFSET      : 0.0"]
    lines += [f"##OXINSTLABEL: {z}, {kev}, {symbol}" for z, kev, symbol in labels]
    lines.append(extra_header) if extra_header else None
    lines.append("#SPECTRUM    : Spectral Data Starts Here")
    for i in range(points):
        energy = i * step
        counts = 5 + sum(100 * math.exp(-((energy - kev) ** 2) / 0.002)
                         for _, kev, _ in labels)
        lines.append(f"{counts:.3f}" if single_column else f"{energy:.4f}, {counts:.3f}")
    if not cut:
        lines.append("#ENDOFDATA   : ")
    return ("\n".join(lines) + "\n").encode("latin-1")


def test_parses_metadata_labels_and_data():
    spectrum = parse_emsa(make_spectrum())
    assert spectrum.title == "Site 1"
    assert spectrum.metadata["OWNER"] == "lab" and spectrum.metadata["OWNER_2"] == "second owner"
    assert [lab.symbol for lab in spectrum.labels][:3] == ["C", "O", "Na"]
    assert len(spectrum.energy) == len(spectrum.counts) == 1024
    assert spectrum.energy[100] == pytest.approx(1.0)
    peak = spectrum.counts[int(1.739 / 0.01)]
    assert peak > 90


def test_single_column_data_uses_the_channel_width():
    spectrum = parse_emsa(make_spectrum(single_column=True, step=0.02, points=500))
    assert spectrum.energy[-1] == pytest.approx(499 * 0.02)


def test_merges_labels_of_one_element_nearby():
    merged = merge_labels(parse_emsa(make_spectrum()).labels)
    assert [lab.symbol for lab in merged].count("Fe") == 2  # 0.66 keV apart: both kept
    assert len(merge_labels(parse_emsa(make_spectrum(
        labels=[(26, 6.398, "Fe"), (26, 6.5, "Fe")])).labels)) == 1


@pytest.mark.parametrize("raw, message", [
    (b"", "no #SPECTRUM marker"),
    (b"#TITLE: x\n1.0, 2.0\n", "data before the #SPECTRUM marker"),
    (make_spectrum(cut=True), "no #ENDOFDATA marker"),
    (make_spectrum().replace(b"0.0100, ", b"0.0100, abc"), "is not a number"),
    (make_spectrum().replace(b"0.0200, ", b"nan, "), "not a finite number"),
    (make_spectrum(extra_header="##OXINSTLABEL: 6, C"), "must be 'Z, keV, symbol'"),
    (b"#SPECTRUM: x\n#ENDOFDATA: \n", "no data points"),
    (b"\x00\x01\x02#SPECTRUM", "binary"),
    (b"#SPECTRUM:\n1,2\n3\n#ENDOFDATA:\n", "some data lines have an energy"),
    (b"#SPECTRUM:\n1\n2\n#ENDOFDATA:\n", "needs #XPERCHAN"),
    (b"#SPECTRUM:\n1,2,3\n#ENDOFDATA:\n", "line 2: expected"),
])
def test_malformed_files_get_a_clear_error(raw, message):
    with pytest.raises(SpectrumError, match=message):
        parse_emsa(raw)


def _check_plot(spectrum):
    plot = plot_spectrum(spectrum)
    image = Image.open(io.BytesIO(plot.png))
    assert image.size == (1275, 750)  # 8.5 x 5 in at 150 dpi
    pixels = np.asarray(image.convert("RGB"), dtype=float)
    assert pixels.std() > 10  # not blank
    yellow = (pixels[..., 0] > 200) & (pixels[..., 1] > 180) & (pixels[..., 2] < 80)
    assert yellow.sum() > 1000  # the filled spectrum is drawn
    x0, y0, x1, y1 = plot.axes_box
    for box in plot.label_boxes:
        assert x0 <= box[0] and box[2] <= x1 and y0 <= box[1] and box[3] <= y1
    for i, a in enumerate(plot.label_boxes):
        for b in plot.label_boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    return plot


def test_plot_is_an_image_with_labels_inside_the_axes_and_apart():
    plot = _check_plot(parse_emsa(make_spectrum()))
    assert len(plot.label_boxes) == 10


def test_crowded_labels_never_overlap():
    crowded = [(20 + i, 2.0 + i * 0.03, f"E{i}") for i in range(25)]
    plot = _check_plot(parse_emsa(make_spectrum(labels=crowded)))
    assert len(plot.label_boxes) >= 10


def test_upload_in_sem_edx_mode_attaches_spectra_for_the_user(
        upload_dir, world, session_for, standin_omero, celery_eager, job_service):
    omero = world["omero"]
    alice = session_for("alice")
    files = {"site1/site1.tif": b"tif", "site1/site1.txt": make_spectrum(),
             "site1/broken.txt": make_spectrum(cut=True), "site1/overview.tif": b"tif",
             "site1/spot 2.txt": make_spectrum(title="Spot 2")}
    body = {"files": [{"relative_path": p, "size": len(d),
                       "sha256": hashlib.sha256(d).hexdigest()} for p, d in files.items()],
            "special_upload": "sem_edx_spectra", "compatibility_enabled": False,
            "project_id": world["project"].id,
            "sem_edx_associations": {"site1/spot 2.txt": "site1/overview.tif"},
            "sem_edx_settings": {"create_tables": True, "create_figures_attachments": True,
                                 "create_figures_images": True}}
    job = alice.post_json("/omeroweb_upload/start/", body).json()
    assert [f["import_skip"] for f in job["files"]] == [False, True, True, False, True]
    for index, data in enumerate(files.values()):
        for offset in range(0, len(data), 65536):
            assert alice.chunk(job["id"], index, offset,
                               data[offset:offset + 65536]).status_code == 200
    assert alice.post_json(f"/omeroweb_upload/import/{job['id']}/").status_code == 202
    final = alice.get(f"/omeroweb_upload/status/{job['id']}/").json()
    states = {f["relative_path"]: f for f in final["files"]}
    assert states["site1/site1.txt"]["state"] == "imported"
    assert states["site1/broken.txt"]["state"] == "failed"
    assert "broken.txt: no #ENDOFDATA marker" in states["site1/broken.txt"]["error"]
    # The .txt files are never imported; the plot of the good one is, as an image.
    assert sorted(r["name"] for r in standin_omero.requests_seen) == [
        "overview.tif", "site1.tif", "site1_spectrum.png", "spot 2_spectrum.png"]
    conn = omero.connect("alice")
    image = conn.getObject("Image", states["site1/site1.tif"]["image_ids"][0])
    attached = {a.getFile().getName(): a for a in image.listAnnotations(ns=NAMESPACE)}
    assert set(attached) == {"site1.txt", "site1.png"}
    assert all(a.getDetails().getOwner().getOmeName() == "alice" for a in attached.values())
    dataset = next(d for d in conn.getObject("Project", world["project"].id).listChildren()
                   if d.getName() == "site1")
    tables = [a for a in dataset.listAnnotations(ns=NAMESPACE)]
    assert sorted(t.getFile().getName() for t in tables) == ["site1.h5", "spot 2.h5"]
    tables = [t for t in tables if t.getFile().getName() == "site1.h5"]
    overview = conn.getObject("Image", states["site1/overview.tif"]["image_ids"][0])
    assert [a.getFile().getName() for a in overview.listAnnotations(ns=NAMESPACE)] == [
        "spot 2.txt", "spot 2.png"]
    plots = [i.getName() for i in dataset.listChildren()]
    assert sorted(plots) == ["overview.tif", "site1.tif", "site1_spectrum.png",
                             "spot 2_spectrum.png"]
    data = omero.tables[tables[0].getFile().getId()]
    assert [h.name for h in data.headers] == ["Image", "Energy_keV", "Counts"]
    assert data.columns[0] == [image.getId()] * 1024
    assert data.columns[1][100] == pytest.approx(1.0)


@pytest.mark.parametrize("associations, message", [
    ({"a.txt": "missing.tif"}, "names a file the job does not list"),
    ({"../a.txt": "a.tif"}, "'..'"),
    (["a.txt"], "must map spectrum paths"),
])
def test_bad_associations_are_refused(upload_dir, world, session_for, associations, message):
    body = {"files": [{"relative_path": "a.txt", "size": 1}, {"relative_path": "a.tif",
                                                              "size": 1}],
            "special_upload": "sem_edx_spectra", "sem_edx_associations": associations}
    response = session_for("alice").post_json("/omeroweb_upload/start/", body)
    assert response.status_code == 400 and message in response.json()["error"]["message"]


def test_special_methods_can_be_turned_off(upload_dir, world, session_for, monkeypatch):
    from omeroweb_upload.config import upload_settings

    monkeypatch.setenv("OMERO_UPLOAD_DISABLE_SPECIAL_METHODS", "true")
    upload_settings.cache_clear()
    body = {"files": [{"relative_path": "a.txt", "size": 1}], "special_upload": "sem_edx_spectra"}
    response = session_for("alice").post_json("/omeroweb_upload/start/", body)
    assert response.status_code == 403 and "turned off" in response.json()["error"]["message"]
    page = session_for("alice").get("/omeroweb_upload/")
    assert b'"specialMethods": false' in page.content
