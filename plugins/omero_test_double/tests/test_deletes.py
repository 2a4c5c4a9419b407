"""deleteObjects: what goes with a target, all or nothing, dry runs, refusals."""

from __future__ import annotations

import omero
import omero.cmd
import pytest

from omero_test_double.pytest_plugin import OmeroWorld


def test_deleting_an_image_takes_pixels_links_and_single_use_annotations(
        omero_world: OmeroWorld) -> None:
    w = omero_world
    kv = w.omero.add_map_annotation([("k", "v")], owner=w.alice, parent=w.image)
    tag = w.omero.add_tag("shared", owner=w.alice, parent=w.image)
    file = w.omero.add_original_file("a.txt", owner=w.alice, content=b"x")
    attachment = w.omero.add_file_annotation(file, owner=w.alice, parent=w.image)
    pixels = w.image.data["pixels"]
    handle = w.omero.connect("alice").deleteObjects("Image", [w.image.id], wait=False)
    response = handle.getResponse()
    assert isinstance(response, omero.cmd.Delete2Response)
    assert response.deletedObjects["ome.model.core.Image"] == [w.image.id]
    for gone in (w.image, pixels, kv):
        assert gone.id not in w.omero.records
    for kept in (tag, attachment, file, w.dataset):
        assert kept.id in w.omero.records
    assert not w.omero.links_of(child=tag)


def test_delete_anns_and_children(omero_world: OmeroWorld) -> None:
    w = omero_world
    tag = w.omero.add_tag("t", owner=w.alice, parent=w.image)
    also_elsewhere = w.omero.add_image("kept.tif", owner=w.alice, dataset=w.dataset)
    other_dataset = w.omero.add_dataset("D2", owner=w.alice)
    w.omero.add_link("DatasetImageLink", other_dataset, also_elsewhere)
    conn = w.omero.connect("alice")
    conn.deleteObjects("Project", [w.project.id], deleteAnns=True, deleteChildren=True,
                       wait=True)
    for gone in (w.project, w.dataset, w.image, tag):
        assert gone.id not in w.omero.records
    assert also_elsewhere.id in w.omero.records  # still in D2: not orphaned


def test_without_children_only_the_container_goes(omero_world: OmeroWorld) -> None:
    w = omero_world
    w.omero.connect("alice").deleteObjects("Project", [w.project.id], wait=True)
    assert w.project.id not in w.omero.records
    assert w.dataset.id in w.omero.records and not w.omero.links_of(child=w.dataset)


def test_dry_run_changes_nothing(omero_world: OmeroWorld) -> None:
    w = omero_world
    before = (dict(w.omero.records), dict(w.omero.links))
    handle = w.omero.connect("alice").deleteObjects("Dataset", [w.dataset.id], dryRun=True,
                                                    deleteChildren=True)
    assert w.image.id in handle.getResponse().deletedObjects["ome.model.core.Image"]
    assert (dict(w.omero.records), dict(w.omero.links)) == before


def test_refused_deletes_change_nothing(omero_world: OmeroWorld) -> None:
    w = omero_world
    before = (dict(w.omero.records), dict(w.omero.links))
    bob = w.omero.connect("bob")
    handle = bob.deleteObjects("Image", [w.image.id])
    assert isinstance(handle.getResponse(), omero.cmd.ERR)
    assert omero.cmd.State.FAILURE in handle.getStatus().flags
    with pytest.raises(omero.CmdError):
        bob.deleteObjects("Dataset", [w.dataset.id], deleteChildren=True, wait=True)
    with pytest.raises(omero.CmdError):
        bob.deleteObjects("Image", [123456], wait=True)
    assert (dict(w.omero.records), dict(w.omero.links)) == before


def test_argument_checks_match_the_gateway(omero_world: OmeroWorld) -> None:
    conn = omero_world.omero.connect("alice")
    with pytest.raises(AttributeError):
        conn.deleteObjects("Image", omero_world.image.id)
    with pytest.raises(AttributeError):
        conn.deleteObjects("Image+Dataset", [1])


def test_update_service_delete_object(omero_world: OmeroWorld) -> None:
    w = omero_world
    lonely = w.omero.add_tag("lonely", owner=w.alice)
    update = w.omero.connect("alice").getUpdateService()
    with pytest.raises(omero.ValidationException):
        update.deleteObject(omero.model.ImageI(w.image.id, False))  # still linked
    update.deleteObject(omero.model.TagAnnotationI(lonely.id, False))
    assert lonely.id not in w.omero.records


def test_owners_delete_their_data_even_when_others_annotated_it(
        omero_world: OmeroWorld) -> None:
    w = omero_world
    bobs_note = w.omero.add_map_annotation([("seen", "yes")], owner=w.bob, group=w.lab)
    bobs_link = w.omero.link_annotation(w.image, bobs_note, owner=w.bob)
    w.omero.connect("alice").deleteObjects("Image", [w.image.id], wait=True)
    assert w.image.id not in w.omero.records
    assert bobs_link.id not in w.omero.links
    assert bobs_note.id in w.omero.records  # not alice's to delete: left orphaned
