import numpy as np
import pytest

from omeroweb_imaris_connector.config import imaris_settings

SIZE = (70, 50, 4, 2, 2)  # x, y, z, c, t


@pytest.fixture
def export_dir(tmp_path, monkeypatch):
    """Settings for the tests: exports go to a temporary directory (also in real workers,
    which inherit this environment)."""
    directory = tmp_path / "exports"
    monkeypatch.setenv("OMERO_IMS_EXPORT_DIR", str(directory))
    monkeypatch.setenv("OMERO_IMS_EXPORT_POLL_INTERVAL", "0.1")
    imaris_settings.cache_clear()
    yield directory
    imaris_settings.cache_clear()


@pytest.fixture
def lab(fake_omero):
    """alice's image in the read-annotate group "lab"; bob is a member of it too."""
    group = fake_omero.add_group("lab", "read-annotate")
    alice = fake_omero.add_user("alice", [group])
    fake_omero.add_user("bob", [group])
    planes = np.random.default_rng(3).integers(0, 4000, size=SIZE[::-1], dtype=np.uint16)
    image = fake_omero.add_image("sample 1.czi", owner=alice, size=SIZE, pixel_type="uint16",
                                 physical_size=(0.2, 0.2, 1.0), planes=planes,
                                 channel_names=["DAPI", "Actin"])
    return image, planes


@pytest.fixture
def no_earlier_exports(plugin_services):
    """The plugin database lives for the whole session: tests that list a user's exports start
    without the exports earlier tests made for the same user names."""
    from omero_plugin_common import db

    with db.transaction() as tx:
        tx.execute("DELETE FROM plugin_jobs WHERE kind = 'imaris_export' AND owner IN "
                   "('alice', 'bob')")
