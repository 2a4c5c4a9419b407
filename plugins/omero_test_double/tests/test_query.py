"""The IQuery subset: supported HQL shapes answer like OMERO, others say they are missing."""

from __future__ import annotations

import omero
import omero.sys
import pytest
from omero.rtypes import rlist, rlong, rstring, unwrap

from omero_test_double.pytest_plugin import OmeroWorld


@pytest.fixture
def annotated(omero_world: OmeroWorld) -> OmeroWorld:
    w = omero_world
    for i in range(3):
        image = w.omero.add_image(f"img{i}.tif", owner=w.alice, group=w.lab, dataset=w.dataset)
        w.omero.add_map_annotation([("index", str(i))], owner=w.alice, ns="ns.a", parent=image)
    w.omero.add_map_annotation([("other", "x")], owner=w.bob, ns="ns.b", parent=w.image)
    return w


def test_images_of_a_dataset_by_link_join(annotated: OmeroWorld) -> None:
    w = annotated
    qs = w.omero.connect("bob").getQueryService()
    params = omero.sys.ParametersI()
    params.addId(w.dataset.id)
    images = qs.findAllByQuery(
        "select i from Image i join i.datasetLinks dil where dil.parent.id = :id "
        "order by i.name desc", params)
    assert [unwrap(i.getName()) for i in images] == [
        "img2.tif", "img1.tif", "img0.tif", "a_b_c.tif"]
    assert images[0].getPrimaryPixels().getSizeX().val == 64


def test_annotation_links_with_fetch_and_ns(annotated: OmeroWorld) -> None:
    w = annotated
    qs = w.omero.connect("alice").getQueryService()
    params = omero.sys.ParametersI()
    params.add("ns", rstring("ns.a"))
    links = qs.findAllByQuery(
        "select l from ImageAnnotationLink l join fetch l.child a "
        "where a.ns = :ns and l.details.owner.id = :owner",
        _with(params, owner=rlong(w.alice.id)), {"omero.group": str(w.lab.id)})
    assert len(links) == 3
    assert all(link.getChild().isLoaded() and not link.getParent().isLoaded()
               for link in links)
    assert sorted(link.getChild().getMapValue()[0].value for link in links) == ["0", "1", "2"]


def test_projection_and_count(annotated: OmeroWorld) -> None:
    w = annotated
    qs = w.omero.connect("alice").getQueryService()
    params = omero.sys.ParametersI()
    params.add("ids", rlist([rlong(w.image.id)]))
    rows = qs.projection(
        "select a.id, a.ns, a.details.owner.omeName from ImageAnnotationLink l "
        "join l.child a where l.parent.id in (:ids)", params)
    assert [[unwrap(v) for v in row][1:] for row in rows] == [["ns.b", "bob"]]
    (count,) = qs.projection("select count(i) from Image i where i.name like 'img%'", None)
    assert unwrap(count[0]) == 3
    paged = omero.sys.ParametersI()
    paged.page(1, 2)
    rows = qs.projection("select i.id from Image i order by i.id", paged)
    assert len(rows) == 2


def test_find_by_query_get_and_find(annotated: OmeroWorld) -> None:
    w = annotated
    qs = w.omero.connect("bob").getQueryService()
    params = omero.sys.ParametersI()
    params.add("name", rstring("img1.tif"))
    image = qs.findByQuery("select i from Image as i where i.name = :name", params)
    assert unwrap(image.getName()) == "img1.tif"
    assert qs.findByQuery("from Image i where i.name = 'nothing'", None) is None
    with pytest.raises(omero.ApiUsageException):
        qs.findByQuery("select i from Image i where i.name like 'img%'", None)
    assert unwrap(qs.get("Image", w.image.id).getName()) == "a_b_c.tif"
    assert qs.find("Project", w.image.id) is None
    with pytest.raises(omero.ValidationException):
        qs.get("Dataset", 999999)


def test_queries_respect_permissions_and_group_context(annotated: OmeroWorld) -> None:
    w = annotated
    w.omero.add_project("carol's", owner=w.carol, group=w.other)
    carol = w.omero.connect("carol").getQueryService()
    assert carol.findAllByQuery("select i from Image i", None) == []
    assert len(carol.findAllByQuery("select p from Project p", None)) == 1
    bob = w.omero.connect("bob").getQueryService()
    assert len(bob.findAllByQuery("select p from Project p", None, {"omero.group": "-1"})) == 2


@pytest.mark.parametrize("query", [
    "select i from Image i where i.name = :n or i.id = :id",
    "select i from Image i where i.id in (select l.child.id from DatasetImageLink l)",
    "select i from Instrument i",
    "select i from Image i where i.acquisitionDate > :d",
    "update Image set name = 'x'",
])
def test_unsupported_queries_name_themselves(annotated: OmeroWorld, query: str) -> None:
    qs = annotated.omero.connect("alice").getQueryService()
    with pytest.raises(NotImplementedError) as raised:
        qs.findAllByQuery(query, omero.sys.ParametersI())
    assert " ".join(query.split()) in str(raised.value)


def test_a_missing_parameter_is_an_api_usage_error(annotated: OmeroWorld) -> None:
    qs = annotated.omero.connect("alice").getQueryService()
    with pytest.raises(omero.ApiUsageException, match="missing"):
        qs.findAllByQuery("select i from Image i where i.name = :missing", None)


def _with(params: omero.sys.ParametersI, **values: object) -> omero.sys.ParametersI:
    for name, value in values.items():
        params.add(name, value)
    return params


def test_the_real_gateway_wrappers_own_queries_run_on_the_fake(annotated: OmeroWorld) -> None:
    """omero.gateway's wrappers, given a fake connection, issue their real HQL."""
    import omero.gateway

    w = annotated
    conn = w.omero.connect("alice")
    qs = conn.getQueryService()
    dataset = omero.gateway._DatasetWrapper(conn, qs.get("Dataset", w.dataset.id))
    children = list(dataset.listChildren())
    assert [c.getName() for c in children] == ["a_b_c.tif", "img0.tif", "img1.tif", "img2.tif"]
    image = omero.gateway._ImageWrapper(conn, qs.get("Image", w.image.id))
    assert [p.getName() for p in image.listParents()] == ["D1"]
    assert [a.getValue() for a in image.listAnnotations(ns="ns.b")] == [[("other", "x")]]
    assert image.getSizeX() == 40 and image.getPixelSizeZ() == pytest.approx(0.5)
    assert image.getPrimaryPixels().getPlane(1, 1, 1).shape == (30, 40)
    assert image.canEdit()  # alice owns it
    assert qs.findAllByQuery("select w from Well w", None) == []  # the fake holds no wells


def test_select_less_from_queries(annotated: OmeroWorld) -> None:
    qs = annotated.omero.connect("alice").getQueryService()
    links = qs.findAllByQuery(
        f"from DatasetImageLink as c where c.child.id={annotated.image.id}", None)
    assert [link.getParent().getId().val for link in links] == [annotated.dataset.id]
