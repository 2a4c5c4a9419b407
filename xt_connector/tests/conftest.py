"""The XT extension is tested against both plugins it talks to: it borrows the Imaris connector's
export folder and lab image, and the upload plugin's upload folder and stand-in `omero` importer,
from those plugins' own test fixtures (one home for each)."""

import importlib.util
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def _fixtures_of(plugin: str):
    spec = importlib.util.spec_from_file_location(
        f"{plugin}_test_fixtures", PLUGINS / plugin / "tests" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_imaris = _fixtures_of("omeroweb_imaris_connector")
_upload = _fixtures_of("omeroweb_upload")
export_dir, lab = _imaris.export_dir, _imaris.lab
upload_dir, standin_omero = _upload.upload_dir, _upload.standin_omero
