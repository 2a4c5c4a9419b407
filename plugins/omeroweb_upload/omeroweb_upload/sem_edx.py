"""SEM-EDX spectra in EMSA/MSA text: parse, plot, and attach to OMERO for the user."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

NAMESPACE = "sem_edx.spectra"
MAX_BYTES = 20 * 1024 * 1024


class SpectrumError(ValueError):
    """A file that is not a readable EMSA/MSA spectrum; the message says where and why."""


@dataclass(frozen=True)
class PeakLabel:
    z: int
    energy_kev: float
    symbol: str


@dataclass
class Spectrum:
    title: str
    metadata: dict[str, str]
    labels: list[PeakLabel]
    energy: list[float] = field(default_factory=list)
    counts: list[float] = field(default_factory=list)


def _number(text: str, where: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise SpectrumError(f"{where}: {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise SpectrumError(f"{where}: {text.strip()!r} is not a finite number")
    return value


def parse_emsa(raw: bytes) -> Spectrum:
    if len(raw) > MAX_BYTES:
        raise SpectrumError(f"the file is larger than {MAX_BYTES // 1048576} MB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # Oxford INCA writes Latin-1 (µ, °)
    if "\x00" in text:
        raise SpectrumError("the file is binary, not EMSA/MSA text")
    metadata: dict[str, str] = {}
    labels: list[PeakLabel] = []
    energy: list[float] = []
    counts: list[float] = []
    in_data = ended = False
    for number, line in enumerate(text.splitlines(), 1):
        where = f"line {number}"
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            key, _, value = stripped.lstrip("#").partition(":")
            key, value = key.strip().upper(), value.strip()
            if key == "SPECTRUM":
                in_data = True
            elif key == "ENDOFDATA":
                if not in_data:
                    raise SpectrumError(f"{where}: #ENDOFDATA before #SPECTRUM")
                ended = True
                break
            elif key == "OXINSTLABEL":
                parts = [p.strip() for p in value.split(",")]
                if len(parts) != 3 or not parts[2]:
                    raise SpectrumError(f"{where}: ##OXINSTLABEL must be 'Z, keV, symbol'")
                z = _number(parts[0], where)
                labels.append(PeakLabel(int(z), _number(parts[1], where), parts[2]))
            else:
                name, n = key, 2
                while name in metadata:  # duplicate keys are kept, suffixed
                    name, n = f"{key}_{n}", n + 1
                metadata[name] = value
            continue
        if not in_data:
            raise SpectrumError(f"{where}: data before the #SPECTRUM marker")
        values = [v for v in stripped.replace(";", ",").replace("\t", ",").split(",")
                  if v.strip()]
        if len(values) == 2:
            energy.append(_number(values[0], where))
            counts.append(_number(values[1], where))
        elif len(values) == 1:
            counts.append(_number(values[0], where))
        else:
            raise SpectrumError(f"{where}: expected 'energy, counts' or one value")
    if not in_data:
        raise SpectrumError("no #SPECTRUM marker: not an EMSA/MSA spectrum")
    if not ended:
        raise SpectrumError("no #ENDOFDATA marker: the file is cut off")
    if not counts:
        raise SpectrumError("the spectrum has no data points")
    if energy and len(energy) != len(counts):
        raise SpectrumError("some data lines have an energy and others do not")
    if not energy:
        offset = _number(metadata.get("OFFSET", "0"), "#OFFSET")
        step = _number(metadata.get("XPERCHAN", ""), "#XPERCHAN") if "XPERCHAN" in metadata \
            else None
        if step is None:
            raise SpectrumError("single-column data needs #XPERCHAN")
        energy = [offset + i * step for i in range(len(counts))]
    return Spectrum(metadata.get("TITLE", ""), metadata, labels, energy, counts)


def merge_labels(labels: list[PeakLabel], within_kev: float = 0.5) -> list[PeakLabel]:
    """One label per element and neighbourhood (K-alpha and K-beta of one element are one label)."""
    kept: list[PeakLabel] = []
    for label in sorted(labels, key=lambda lab: lab.energy_kev):
        if any(k.symbol == label.symbol and abs(k.energy_kev - label.energy_kev) <= within_kev
               for k in kept):
            continue
        kept.append(label)
    return kept


@dataclass
class Plot:
    png: bytes
    axes_box: tuple[float, float, float, float]  # x0, y0, x1, y1 in figure pixels
    label_boxes: list[tuple[float, float, float, float]]


def _overlaps(a: tuple, b: tuple, pad: float = 2.0) -> bool:
    return not (a[2] + pad <= b[0] or b[2] + pad <= a[0] or a[3] + pad <= b[1]
                or b[3] + pad <= a[1])


def plot_spectrum(spectrum: Spectrum) -> Plot:
    """8.5 x 5 in at 150 dpi; labels placed greedily: raised until they overlap nothing and
    stay inside the axes (the original's genetic search needed 16,000 evaluations)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.transforms import IdentityTransform

    fig = Figure(figsize=(8.5, 5), dpi=150, facecolor="#0b1a3a")
    ax = fig.add_subplot(111, facecolor="#0b1a3a")
    ax.fill_between(spectrum.energy, spectrum.counts, color="#f5d90a", alpha=0.9, linewidth=0)
    ax.plot(spectrum.energy, spectrum.counts, color="#fff27a", linewidth=0.6)
    top = max(max(spectrum.counts), 1.0)
    ax.set_xlim(min(spectrum.energy), max(spectrum.energy))
    ax.set_ylim(0, top * 1.45)
    ax.set_xlabel("Energy (keV)", color="white")
    ax.set_ylabel("cps/eV" if "CPS" in spectrum.metadata.get("YUNITS", "").upper()
                  else "Counts", color="white")
    ax.set_title(spectrum.title or "SEM-EDX spectrum", color="white")
    ax.tick_params(colors="white")
    for spine in ax.spines.values():
        spine.set_color("white")
    fig.tight_layout()
    renderer = FigureCanvasAgg(fig).get_renderer()
    axes_box = ax.get_window_extent(renderer)
    ab = (axes_box.x0, axes_box.y0, axes_box.x1, axes_box.y1)
    placed: list[tuple[float, float, float, float]] = []
    xlo, xhi = ax.get_xlim()
    for label in merge_labels(spectrum.labels):
        if not xlo <= label.energy_kev <= xhi:
            continue
        peak = _height_at(spectrum, label.energy_kev)
        px, py = ax.transData.transform((label.energy_kev, peak))
        text = ax.text(0, 0, label.symbol, color="#0b1a3a", fontsize=8, ha="center",
                       va="bottom", transform=IdentityTransform(), zorder=5,
                       bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "#f5d90a"})
        box = None
        for dx in (0, 25, -25, 50, -50, 75, -75):
            y = py + 8
            while y < ab[3]:
                x = min(max(px + dx, ab[0] + 20), ab[2] - 20)
                text.set_position((x, y))
                bb = text.get_window_extent(renderer)
                cand = (bb.x0, bb.y0, bb.x1, bb.y1)
                inside = cand[0] >= ab[0] and cand[2] <= ab[2] and cand[3] <= ab[3] \
                    and cand[1] >= ab[1]
                if inside and not any(_overlaps(cand, p) for p in placed):
                    box = cand
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
    return Plot(buffer.getvalue(), ab, placed)


def _height_at(spectrum: Spectrum, energy: float) -> float:
    best = min(range(len(spectrum.energy)), key=lambda i: abs(spectrum.energy[i] - energy))
    window = spectrum.counts[max(0, best - 3):best + 4]
    return max(window)


# -- OMERO ----------------------------------------------------------------------------------


def attach_spectrum(conn: Any, name: str, raw: bytes, spectrum: Spectrum, image_id: int | None,
                    dataset_id: int, options: dict[str, bool], workdir: Any) -> dict[str, Any]:
    """Attach the text (and the PNG) to the image, or the dataset when no image matches, and
    write an OMERO.table of energy and counts linked to the dataset. Runs as the user."""
    import omero
    import omero.grid
    from omero.gateway import FileAnnotationWrapper
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
                       omero.grid.DoubleColumn("Energy_keV", "", list(spectrum.energy)),
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
