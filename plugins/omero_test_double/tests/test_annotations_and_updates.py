"""Annotations, links and the update service: real omero.model objects in, permission checks,
batched writes, one transaction per call."""

from __future__ import annotations

import omero
import omero.gateway
import omero.model
import pytest
from omero.rtypes import rstring

from omero_test_double.pytest_plugin import OmeroWorld

NS = "openmicroscopy.org/omero/client/mapAnnotation"


def _map(pairs: list[tuple[str, str]], ns: str = NS) -> omero.model.MapAnnotationI:
    annotation = omero.model.MapAnnotationI()
    annotation.setNs(rstring(ns))
    annotation.setMapValue([omero.model.NamedValue(k, v) for k, v in pairs])
    return annotation


def test_real_gateway_annotation_wrappers_work_on_a_fake_connection(
        omero_world: OmeroWorld) -> None:
    w = omero_world
    conn = w.omero.connect("bob")
    image = conn.getObject("Image", w.image.id)
    annotation = omero.gateway.MapAnnotationWrapper(conn)
    annotation.setValue([("genotype", "wt"), ("stain", "dapi")])
    annotation.setNs(NS)
    image.linkAnnotation(annotation)

    fresh = w.omero.connect("alice").getObject("Image", w.image.id)
    (found,) = list(fresh.listAnnotations(ns=NS))
    assert found.getValue() == [("genotype", "wt"), ("stain", "dapi")]
    assert found.getOwner().getOmeName() == "bob"
    assert found.link.getDetails().getOwner().getOmeName() == "bob"
    assert fresh.getAnnotation(ns="other.ns") is None
    assert list(fresh.listAnnotations(ns="other.ns")) == []


def test_fake_wrappers_edit_and_save(omero_world: OmeroWorld) -> None:
    w = omero_world
    w.omero.add_map_annotation([("a", "1")], owner=w.alice, ns=NS, parent=w.image)
    conn = w.omero.connect("alice")
    annotation = conn.getObject("Image", w.image.id).getAnnotation(ns=NS)
    annotation.setValue([("a", "2"), ("b", "3")])
    annotation.save()
    assert conn.getObject("MapAnnotation", annotation.getId()).getValue() == [
        ("a", "2"), ("b", "3")]
    bob_view = w.omero.connect("bob").getObject("MapAnnotation", annotation.getId())
    assert not bob_view.canEdit()
    bob_view.setValue([("a", "hacked")])
    with pytest.raises(omero.SecurityViolation):
        bob_view.save()
    assert w.omero.records[annotation.getId()].data["values"] == [("a", "2"), ("b", "3")]


def test_save_and_return_array_writes_a_batch_in_one_call(omero_world: OmeroWorld) -> None:
    w = omero_world
    images = [w.omero.add_image(f"img{i}.tif", owner=w.alice, group=w.lab) for i in range(5)]
    conn = w.omero.connect("alice")
    w.omero.calls.reset()
    links = []
    for image in images:
        link = omero.model.ImageAnnotationLinkI()
        link.setParent(omero.model.ImageI(image.id, False))
        link.setChild(_map([("name", image.name)]))
        links.append(link)
    saved = conn.getUpdateService().saveAndReturnArray(links, conn.SERVICE_OPTS)
    assert w.omero.calls.total == 1
    assert w.omero.calls["IUpdate.saveAndReturnArray"] == 1
    assert all(s.getId() is not None for s in saved)
    for image in images:
        (link,) = w.omero.links_of(parent=image, kind_suffix="AnnotationLink")
        assert link.child.data["values"] == [("name", image.name)]
        assert link.owner is w.alice and link.group is w.lab


def test_a_failing_batch_changes_nothing(omero_world: OmeroWorld) -> None:
    w = omero_world
    carol_image = w.omero.add_image("carol.tif", owner=w.carol, group=w.other)
    conn = w.omero.connect("alice")
    before = (dict(w.omero.records), dict(w.omero.links))
    good = omero.model.ImageAnnotationLinkI()
    good.setParent(omero.model.ImageI(w.image.id, False))
    good.setChild(_map([("k", "v")]))
    bad = omero.model.ImageAnnotationLinkI()
    bad.setParent(omero.model.ImageI(carol_image.id, False))  # alice cannot see it
    bad.setChild(_map([("k", "v")]))
    with pytest.raises(omero.SecurityViolation):
        conn.getUpdateService().saveAndReturnArray([good, bad])
    assert (dict(w.omero.records), dict(w.omero.links)) == before


def test_new_objects_go_to_the_context_group(omero_world: OmeroWorld) -> None:
    w = omero_world
    conn = w.omero.connect("bob")
    project = omero.model.ProjectI()
    project.setName(rstring("new"))
    dataset = omero.model.DatasetI()
    dataset.setName(rstring("nested"))
    project.linkDataset(dataset)
    conn.SERVICE_OPTS.setOmeroGroup(w.other.id)
    saved = conn.getUpdateService().saveAndReturnObject(project, conn.SERVICE_OPTS)
    record = w.omero.records[saved.getId().val]
    assert (record.group, record.owner) == (w.other, w.bob)
    (link,) = w.omero.links_of(parent=record)
    assert link.kind == "ProjectDatasetLink" and link.child.name == "nested"
    assert saved.getDetails().getPermissions().canEdit()
    conn.SERVICE_OPTS.setOmeroGroup(-1)
    with pytest.raises(omero.SecurityViolation, match="-1"):
        conn.getUpdateService().saveObject(omero.model.ProjectI())
    carol = w.omero.connect("carol")
    carol.SERVICE_OPTS.setOmeroGroup(w.lab.id)
    with pytest.raises(omero.SecurityViolation):
        carol.getUpdateService().saveObject(_map([("x", "y")]))
    nameless = omero.model.DatasetI()
    with pytest.raises(omero.ValidationException):
        w.omero.connect("bob").getUpdateService().saveObject(nameless)


def test_link_rules(omero_world: OmeroWorld) -> None:
    w = omero_world
    carol_tag = w.omero.add_tag("elsewhere", owner=w.carol, group=w.other)
    bob_dataset = w.omero.add_dataset("bob's", owner=w.bob, group=w.lab)
    update = w.omero.connect("bob").getUpdateService()

    cross_group = omero.model.ImageAnnotationLinkI()
    cross_group.setParent(omero.model.ImageI(w.image.id, False))
    cross_group.setChild(omero.model.TagAnnotationI(carol_tag.id, False))
    with pytest.raises(omero.SecurityViolation):
        update.saveObject(cross_group)

    mix = omero.model.DatasetImageLinkI()  # alice's image into bob's dataset: read-annotate
    mix.setParent(omero.model.DatasetI(bob_dataset.id, False))
    mix.setChild(omero.model.ImageI(w.image.id, False))
    with pytest.raises(omero.SecurityViolation, match="link"):
        update.saveObject(mix)

    wrong = omero.model.ProjectDatasetLinkI()
    wrong.setParent(omero.model.ProjectI(w.project.id, False))
    wrong.setChild(omero.model.ImageI(w.image.id, False))
    with pytest.raises(omero.ValidationException):
        update.saveObject(wrong)

    tag = w.omero.add_tag("mine", owner=w.bob, group=w.lab)
    twice = []
    for _ in range(2):
        link = omero.model.ImageAnnotationLinkI()
        link.setParent(omero.model.ImageI(w.image.id, False))
        link.setChild(omero.model.TagAnnotationI(tag.id, False))
        twice.append(link)
    update.saveObject(twice[0])
    with pytest.raises(omero.ValidationException):
        update.saveObject(twice[1])


def test_file_annotations_and_raw_file_store(omero_world: OmeroWorld) -> None:
    w = omero_world
    content = bytes(range(256)) * 40
    file = w.omero.add_original_file("results.csv", owner=w.alice, group=w.lab,
                                     content=content, mimetype="text/csv")
    w.omero.add_file_annotation(file, owner=w.alice, ns="results", parent=w.image)
    conn = w.omero.connect("bob")
    annotation = conn.getObject("Image", w.image.id).getAnnotation("results")
    assert annotation.getFileName() == "results.csv"
    assert annotation.getFileSize() == len(content)
    assert annotation.getFile().getMimetype() == "text/csv"
    assert b"".join(annotation.getFileInChunks(buf=1000)) == content
    assert annotation.canDownload()

    store = conn.createRawFileStore()
    store.setFileId(file.id, conn.SERVICE_OPTS)
    with pytest.raises(omero.SecurityViolation):
        store.write(b"x", 0, 1)  # bob may not edit alice's file in read-annotate

    upload = omero.model.OriginalFileI()
    upload.setName(rstring("notes.txt"))
    upload.setPath(rstring("/uploads/"))
    upload.setMimetype(rstring("text/plain"))
    saved = conn.getUpdateService().saveAndReturnObject(upload)
    store = conn.createRawFileStore()
    store.setFileId(saved.getId().val)
    store.write(b"hello world", 0, 11)
    store.write(b"!", 11, 1)
    assert store.save().getSize().val == 12
    store.close()
    assert w.omero.records[saved.getId().val].data["content"] == b"hello world!"


def test_unlink_and_remove_annotations(omero_world: OmeroWorld) -> None:
    w = omero_world
    tag = w.omero.add_tag("keep", owner=w.alice, ns="tags", parent=w.image)
    kv = w.omero.add_map_annotation([("k", "v")], owner=w.alice, ns="kv", parent=w.image)
    conn = w.omero.connect("alice")
    image = conn.getObject("Image", w.image.id)
    image.unlinkAnnotations("tags")
    assert tag.id in w.omero.records and not w.omero.links_of(child=tag)
    image.removeAnnotations("kv")
    assert kv.id not in w.omero.records
    assert list(image.listAnnotations()) == []
