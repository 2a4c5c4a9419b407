"""SEM-EDX spectra in EMSA/MSA text: parse, plot, and attach to OMERO for the user."""

from __future__ import annotations

import bisect
import io
from dataclasses import dataclass
from typing import Any

from .emsa import MAX_BYTES, PeakLabel, Spectrum, SpectrumError, parse_emsa

__all__ = ["MAX_BYTES", "METADATA_NAMESPACE", "NAMESPACE", "PeakLabel", "Plot", "Spectrum",
           "SpectrumError", "attach_spectrum", "merge_labels", "metadata_pairs", "parse_emsa",
           "plot_spectrum"]

NAMESPACE = "sem_edx.spectra"
METADATA_NAMESPACE = "sem_edx.spectra.metadata"  # key-value pairs, on the same target
MAX_LABELS = 40  # more would not fit on the plot, and each costs placement time
MAX_TITLE_CHARS = 100
MAX_DRAWN_POINTS = 2000


def merge_labels(labels: list[PeakLabel], within_kev: float = 0.5) -> list[PeakLabel]:
    """One label per element and neighbourhood (K-alpha and K-beta of one element are one label)."""
    kept: list[PeakLabel] = []
    last: dict[str, float] = {}  # sorted by energy: the last kept one is the nearest below
    for label in sorted(labels, key=lambda lab: lab.energy_kev):
        if label.symbol in last and label.energy_kev - last[label.symbol] <= within_kev:
            continue
        last[label.symbol] = label.energy_kev
        kept.append(label)
    return kept


@dataclass
class Plot:
    png: bytes
    axes_box: tuple[float, float, float, float]  # x0, y0, x1, y1 in figure pixels
    label_boxes: list[tuple[float, float, float, float]]
    x_label: str
    x_range_kev: tuple[float, float]  # the axes' left and right ends
    warning_box: tuple[float, float, float, float] | None = None


def _overlaps(a: tuple, b: tuple, pad: float = 2.0) -> bool:
    return not (a[2] + pad <= b[0] or b[2] + pad <= a[0] or a[3] + pad <= b[1]
                or b[3] + pad <= a[1])


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def plot_spectrum(spectrum: Spectrum) -> Plot:
    """8.5 x 5 in at 150 dpi, always over keV (eV files are converted), with the reader's
    warnings written on it. Labels placed greedily: raised until they overlap nothing and stay
    inside the axes (the original's genetic search needed 16,000 evaluations)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.transforms import IdentityTransform

    energy = spectrum.energy_kev
    fig = Figure(figsize=(8.5, 5), dpi=150, facecolor="#0b1a3a")
    ax = fig.add_subplot(111, facecolor="#0b1a3a")
    drawn_energy, drawn_counts = _envelope(energy, spectrum.counts)
    ax.fill_between(drawn_energy, drawn_counts, color="#f5d90a", alpha=0.9, linewidth=0)
    ax.plot(drawn_energy, drawn_counts, color="#fff27a", linewidth=0.6)
    top = max(max(spectrum.counts), 1.0)
    lo, hi = energy[0], energy[-1]
    if hi <= lo:  # one channel: a narrow window around it
        lo, hi = lo - 0.01, hi + 0.01
    ax.set_xlim(lo, hi)
    ax.set_ylim(0, top * 1.45)
    x_label = "Energy (keV)"
    ax.set_xlabel(x_label, color="white")
    ax.set_ylabel("cps/eV" if "CPS" in spectrum.metadata.y_units.upper() else "Counts",
                  color="white")
    ax.set_title(_short(spectrum.title, MAX_TITLE_CHARS) or "SEM-EDX spectrum", color="white")
    ax.tick_params(colors="white")
    for spine in ax.spines.values():
        spine.set_color("white")
    fig.tight_layout()
    renderer = FigureCanvasAgg(fig).get_renderer()
    axes_box = ax.get_window_extent(renderer)
    ab = (axes_box.x0, axes_box.y0, axes_box.x1, axes_box.y1)
    placed: list[tuple[float, float, float, float]] = []
    warning_box = None
    if spectrum.warnings:
        note = ax.text(0.01, 0.98, "\n".join(_short("\u26a0 " + w, 110)
                                             for w in spectrum.warnings[:3]),
                       transform=ax.transAxes, va="top", ha="left", fontsize=7,
                       color="#0b1a3a", zorder=6,
                       bbox={"boxstyle": "round,pad=0.3", "fc": "#ffb347", "ec": "#ffb347"})
        bb = note.get_window_extent(renderer)
        warning_box = (bb.x0, bb.y0, bb.x1, bb.y1)
        placed.append(warning_box)  # peak labels keep clear of it
    labels = [lab for lab in merge_labels(spectrum.labels) if lo <= lab.energy_kev <= hi]
    for label in labels[:MAX_LABELS]:
        peak = _height_at(energy, spectrum.counts, label.energy_kev)
        px, py = ax.transData.transform((label.energy_kev, peak))
        text = ax.text(0, 0, label.symbol, color="#0b1a3a", fontsize=8, ha="center",
                       va="bottom", transform=IdentityTransform(), zorder=5,
                       bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "#f5d90a"})
        # Measured once: a candidate place is the same box moved (no layout per candidate).
        bb = text.get_window_extent(renderer)
        box = None
        for dx in (0, 25, -25, 50, -50, 75, -75):
            x = min(max(px + dx, ab[0] + 20), ab[2] - 20)
            y = py + 8
            while y < ab[3]:
                cand = (bb.x0 + x, bb.y0 + y, bb.x1 + x, bb.y1 + y)
                inside = cand[0] >= ab[0] and cand[2] <= ab[2] and cand[3] <= ab[3] \
                    and cand[1] >= ab[1]
                if inside and not any(_overlaps(cand, p) for p in placed):
                    box = cand
                    text.set_position((x, y))
                    break
                y += 6
            if box:
                break
        if box is None:
            text.remove()  # no free place: better no label than an unreadable one
            continue
        placed.append(box)
        ax.annotate("", xy=(px, py), xycoords="figure pixels",
                    xytext=((box[0] + box[2]) / 2, box[1]), textcoords="figure pixels",
                    arrowprops={"arrowstyle": "-", "color": "white", "lw": 0.6})
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", facecolor=fig.get_facecolor())
    boxes = placed[1:] if warning_box else placed
    return Plot(buffer.getvalue(), ab, boxes, x_label, (lo, hi), warning_box)


def _envelope(energy: list[float], counts: list[float], bins: int = MAX_DRAWN_POINTS
              ) -> tuple[list[float], list[float]]:
    """At most `bins` points, each the highest count of a run of neighbouring channels: what a
    filled spectrum shows at the plot's width (about 2 runs a pixel). Agg took 45 s to draw
    65,536 noisy channels as they are."""
    import numpy as np

    if len(counts) <= bins:
        return energy, counts
    starts = np.linspace(0, len(counts), bins, endpoint=False).astype(int)
    highest = np.maximum.reduceat(np.asarray(counts, dtype=float), starts)
    ends = np.append(starts[1:], len(counts)) - 1
    e = np.asarray(energy, dtype=float)
    return list((e[starts] + e[ends]) / 2), list(highest)


def _height_at(energy: list[float], counts: list[float], at: float) -> float:
    """The highest count within 3 channels of the channel nearest `at` (energies ascend)."""
    i = bisect.bisect_left(energy, at)
    if i == len(energy) or (i > 0 and at - energy[i - 1] < energy[i] - at):
        i -= 1
    return max(counts[max(0, i - 3):i + 4])


# -- OMERO ----------------------------------------------------------------------------------


def metadata_pairs(spectrum: Spectrum) -> list[tuple[str, str]]:
    """The typed metadata as OMERO key-value pairs (the raw keywords are in the attached
    text); what the file does not give is left out."""
    meta = spectrum.metadata
    energy = spectrum.energy_kev
    pairs = [("Title", spectrum.title), ("Signal type", meta.signal_type),
             ("Energy unit in the file", meta.x_units), ("Channels", str(len(energy))),
             ("Energy range (keV)", f"{energy[0]:g} to {energy[-1]:g}")]
    if meta.data_type == "Y":
        kev = 0.001 if meta.x_units == "eV" else 1.0
        pairs.append(("Channel width (keV)", f"{meta.x_per_channel * kev:g}"))
    for key, value in (("Beam energy (kV)", meta.beam_kv), ("Live time (s)", meta.live_time_s),
                       ("Real time (s)", meta.real_time_s),
                       ("Elevation angle (deg)", meta.elevation_deg),
                       ("Azimuth angle (deg)", meta.azimuth_deg)):
        if value is not None:
            pairs.append((key, f"{value:g}"))
    if meta.date is not None:
        pairs.append(("Date", meta.date.isoformat()))
    if meta.time is not None:
        pairs.append(("Time", meta.time.isoformat(timespec="minutes")))
    pairs += [("Warning", warning) for warning in spectrum.warnings]
    return [(key, value) for key, value in pairs if value]


def attach_spectrum(conn: Any, name: str, raw: bytes, spectrum: Spectrum, image_id: int | None,
                    dataset_id: int, options: dict[str, bool], workdir: Any) -> dict[str, Any]:
    """Attach the text, its typed metadata as key-value pairs (and the PNG) to the image, or
    the dataset when no image matches, and write an OMERO.table of energy (keV) and counts
    linked to the dataset. Runs as the user."""
    import omero
    import omero.grid
    from omero.gateway import FileAnnotationWrapper, MapAnnotationWrapper
    from omero.rtypes import rstring

    target = conn.getObject("Image", image_id) if image_id else None
    target = target or conn.getObject("Dataset", dataset_id)
    dataset = conn.getObject("Dataset", dataset_id)
    result: dict[str, Any] = {"target": f"{target.OMERO_CLASS}:{target.getId()}"}
    text_path = workdir / name
    text_path.write_bytes(raw)
    ann = conn.createFileAnnfromLocalFile(str(text_path), mimetype="text/plain", ns=NAMESPACE,
                                          desc=spectrum.title or None)
    target.linkAnnotation(ann)
    result["text_annotation"] = ann.getId()
    summary = MapAnnotationWrapper(conn)
    summary.setNs(METADATA_NAMESPACE)
    summary.setValue(metadata_pairs(spectrum))
    summary.save()
    target.linkAnnotation(summary)
    result["metadata_annotation"] = summary.getId()
    if options.get("create_figures_attachments"):
        png_path = workdir / (name.rsplit(".", 1)[0] + ".png")
        png_path.write_bytes(plot_spectrum(spectrum).png)
        png = conn.createFileAnnfromLocalFile(str(png_path), mimetype="image/png", ns=NAMESPACE)
        target.linkAnnotation(png)
        result["png_annotation"] = png.getId()
    if options.get("create_tables"):
        resources = conn.getSharedResources()
        repo = resources.repositories().descriptions[0].getId().getValue()
        table = resources.newTable(repo, name.rsplit(".", 1)[0] + ".h5")
        try:
            n = len(spectrum.counts)
            columns = [omero.grid.LongColumn("Image", "", [image_id or 0] * n),
                       omero.grid.DoubleColumn("Energy_keV", "", list(spectrum.energy_kev)),
                       omero.grid.DoubleColumn("Counts", "", list(spectrum.counts))]
            table.initialize([omero.grid.LongColumn("Image", "", []),
                              omero.grid.DoubleColumn("Energy_keV", "", []),
                              omero.grid.DoubleColumn("Counts", "", [])])
            table.addData(columns)
            original = table.getOriginalFile()
        finally:
            table.close()
        file_ann = omero.model.FileAnnotationI()
        file_ann.setFile(omero.model.OriginalFileI(original.getId().getValue(), False))
        file_ann.setNs(rstring(NAMESPACE))
        wrapper = FileAnnotationWrapper(conn, file_ann)
        wrapper.save()
        dataset.linkAnnotation(wrapper)
        result["table_file"] = original.getId().getValue()
    return result
