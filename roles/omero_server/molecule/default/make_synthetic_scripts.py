#!/usr/bin/env python3
"""Write SYNTHETIC script and downloader artifacts for the role's tests.

Laid out like the real ones (the real files cannot all be fetched here): an omero-scripts wheel
(omero/<dir>/<Script>.py plus dist-info), OMERO.figure's Figure_To_Pdf.py, an IMS_Export.py and
an OMERO.downloader release zip with an executable launcher. Fixed time stamps: the same bytes,
the same sha256 on every run.

Usage: make_synthetic_scripts.py OUTPUT_DIR      (prints {"wheel": sha256, ...} as JSON)
"""

import hashlib
import json
import sys
import zipfile
from pathlib import Path

FIXED_TIME = (2026, 1, 1, 0, 0, 0)
SCRIPTS_VERSION = "5.10.0"
FIGURE_VERSION = "7.3.1"
DOWNLOADER_VERSION = "0.3.3"
MARK = "# SYNTHETIC TEST ARTIFACT"


def script(name: str, version: str) -> str:
    return (f"{MARK}: {name} from synthetic release {version}\n"
            f'import omero.scripts as scripts\nclient = scripts.client("{name}")\n')


def write_zip(target: Path, files: dict[str, str], executable: tuple[str, ...] = ()) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel, text in sorted(files.items()):
            info = zipfile.ZipInfo(rel, FIXED_TIME)
            info.external_attr = (0o100000 | (0o755 if rel in executable else 0o644)) << 16
            archive.writestr(info, text, zipfile.ZIP_DEFLATED)


def main(argv: list[str]) -> int:
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    dist = f"omero_scripts-{SCRIPTS_VERSION}.dist-info"
    wheel = out / f"omero_scripts-{SCRIPTS_VERSION}-py3-none-any.whl"
    write_zip(wheel, {
        "omero/util_scripts/__init__.py": "",
        "omero/util_scripts/Combine_Images.py": script("Combine_Images.py", SCRIPTS_VERSION),
        "omero/export_scripts/__init__.py": "",
        "omero/export_scripts/Batch_Image_Export.py": script("Batch_Image_Export.py", SCRIPTS_VERSION),
        "omero/figure_scripts/Split_View_Figure.py": script("Split_View_Figure.py", SCRIPTS_VERSION),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: omero-scripts\nVersion: {SCRIPTS_VERSION}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist}/top_level.txt": "omero\n",
    })
    figure = out / f"figure/v{FIGURE_VERSION}/Figure_To_Pdf.py"
    figure.parent.mkdir(parents=True, exist_ok=True)
    figure.write_text(script("Figure_To_Pdf.py", FIGURE_VERSION) + f'VERSION = "{FIGURE_VERSION}"\n')
    # The same file under the name the role gives it in a cache or air-gapped directory.
    (out / f"omero-figure-{FIGURE_VERSION}-Figure_To_Pdf.py").write_bytes(figure.read_bytes())
    imaris = out / "imaris/IMS_Export.py"
    imaris.parent.mkdir(parents=True, exist_ok=True)
    imaris.write_text(script("IMS_Export.py", "1.0.0"))
    (out / "IMS_Export.py").write_bytes(imaris.read_bytes())
    top = f"OMERO.downloader-{DOWNLOADER_VERSION}"
    downloader = out / f"{top}-release.zip"
    launcher = f"{top}/bin/omero-downloader"
    write_zip(downloader, {
        launcher: f"#!/bin/sh\n{MARK}\necho 'OMERO.downloader {DOWNLOADER_VERSION} (synthetic)'\n",
        f"{top}/lib/README.txt": f"{MARK}\n",
    }, executable=(launcher,))
    sums = {key: hashlib.sha256(path.read_bytes()).hexdigest()
            for key, path in {"wheel": wheel, "figure": figure, "imaris": imaris, "downloader": downloader}.items()}
    print(json.dumps(sums))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
