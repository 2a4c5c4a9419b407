import pytest

from omeroweb_omp_plugin.services import omero_io


@pytest.fixture
def lab(fake_omero):
    """alice owns P1 > D1 with 3 images in the read-annotate group "lab" (bob is a member);
    carol is in the read-only group "ro" with her own dataset; root exists."""
    o = fake_omero
    lab = o.add_group("lab", "read-annotate")
    ro = o.add_group("ro", "read-only")
    alice = o.add_user("alice", [lab])
    bob = o.add_user("bob", [lab, ro])
    carol = o.add_user("carol", [ro])
    project = o.add_project("P1", owner=alice, group=lab)
    dataset = o.add_dataset("D1", owner=alice, group=lab, project=project)
    images = [o.add_image(n, owner=alice, group=lab, dataset=dataset)
              for n in ("P1_HeLa_glass_pos1.tif", "P1_HeLa_glass_pos2.tif",
                        "P2_T-cell_plastic_pos3.tif")]
    ro_project = o.add_project("Pro", owner=carol, group=ro)
    ro_dataset = o.add_dataset("Dro", owner=carol, group=ro, project=ro_project)
    ro_image = o.add_image("C_x_y.tif", owner=carol, group=ro, dataset=ro_dataset)

    class Lab:
        pass

    world = Lab()
    world.__dict__.update(locals())
    world.omero = o
    return world


def map_values(omero, image):
    """[(ns, pairs)] of the MapAnnotations linked to an image, as alice sees them."""
    conn = omero.connect(image.owner.name)
    return [(a.ns, a.pairs) for a in omero_io.map_annotations_of(conn, [image.id])]


@pytest.fixture(autouse=True)
def clean_plugin_rows(plugin_services):
    """The plugin database lives for the whole session: start each test without OMP rows."""
    from omero_plugin_common import db

    with db.transaction() as tx:
        tx.execute("DELETE FROM omp_variable_sets")
        tx.execute("DELETE FROM omp_user_settings")
        tx.execute("DELETE FROM plugin_user_secrets WHERE plugin = 'omeroweb_omp_plugin'")
    # The rate limit's counters live in the session's Redis too: a test's actions must not
    # count against the next test's (fixed 60 s windows made the page tests timing-dependent).
    from django.core.cache import caches

    from omero_plugin_common.config import common_settings

    caches[common_settings().ratelimit_cache].delete_pattern("ratelimit:omp-*")
