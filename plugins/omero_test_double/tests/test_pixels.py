"""Pixels: planes and tiles through PixelsWrapper and the RawPixelsStore, big-endian like OMERO."""

from __future__ import annotations

import numpy as np
import omero
import pytest

from omero_test_double import FakeOmero
from omero_test_double.pytest_plugin import OmeroWorld


def test_planes_and_tiles_come_from_the_given_array() -> None:
    omero_ = FakeOmero()
    lab = omero_.add_group("lab", permissions="private")
    alice = omero_.add_user("alice", groups=[lab])
    data = np.random.default_rng(7).integers(0, 60000, size=(2, 3, 4, 20, 30), dtype=np.uint16)
    image = omero_.add_image("stack.tif", owner=alice, size=(30, 20, 4, 3, 2),
                             pixel_type="uint16", planes=data)
    pixels = omero_.connect("alice").getObject("Image", image.id).getPrimaryPixels()
    np.testing.assert_array_equal(pixels.getPlane(theZ=3, theC=2, theT=1), data[1, 2, 3])
    np.testing.assert_array_equal(pixels.getTile(1, 0, 0, tile=(5, 6, 10, 4)),
                                  data[0, 0, 1, 6:10, 5:15])
    planes = list(pixels.getPlanes([(0, 0, 0), (1, 1, 1)]))
    np.testing.assert_array_equal(planes[1], data[1, 1, 1])
    assert pixels.getPlane().dtype == np.uint16


def test_raw_pixels_store_returns_big_endian_bytes(omero_world: OmeroWorld) -> None:
    w = omero_world
    conn = w.omero.connect("bob")
    image = conn.getObject("Image", w.image.id)
    store = conn.createRawPixelsStore()
    store.setPixelsId(image.getPixelsId(), True, conn.SERVICE_OPTS)
    raw = store.getPlane(2, 1, 1)
    assert len(raw) == 40 * 30 * 2 == store.getPlaneSize()
    plane = np.frombuffer(raw, dtype=">u2").reshape(30, 40)
    np.testing.assert_array_equal(plane, image.getPrimaryPixels().getPlane(2, 1, 1))
    assert store.getTileSize() == [40, 30]
    with pytest.raises(omero.ApiUsageException):
        store.getTile(0, 0, 0, 35, 0, 10, 10)
    with pytest.raises(omero.ApiUsageException):
        store.getPlane(3, 0, 0)
    store.close()
    with pytest.raises(omero.ApiUsageException):
        store.getPlane(0, 0, 0)


def test_planes_differ_between_z_c_t(omero_world: OmeroWorld) -> None:
    pixels = omero_world.omero.connect("alice").getObject(
        "Image", omero_world.image.id).getPrimaryPixels()
    planes = [pixels.getPlane(z, c, t) for z in range(3) for c in range(2) for t in range(2)]
    assert len({plane.tobytes() for plane in planes}) == len(planes)


def test_pixels_of_unreadable_images_are_refused(omero_world: OmeroWorld) -> None:
    w = omero_world
    carol = w.omero.connect("carol")
    carol.SERVICE_OPTS.setOmeroGroup(-1)
    store = carol.createRawPixelsStore()
    with pytest.raises(omero.SecurityViolation):
        store.setPixelsId(w.image.data["pixels"].id, True, carol.SERVICE_OPTS)


@pytest.mark.parametrize("pixel_type", ["int8", "uint8", "int16", "uint16", "int32", "uint32",
                                        "float", "double"])
def test_every_pixel_type(pixel_type: str) -> None:
    omero_ = FakeOmero()
    image = omero_.add_image("t.tif", owner=omero_.root, size=(8, 6, 1, 1, 1),
                             pixel_type=pixel_type)
    conn = omero_.connect("root")
    plane = conn.getObject("Image", image.id).getPrimaryPixels().getPlane()
    assert plane.shape == (6, 8)
    assert conn.getObject("Image", image.id).getPixelsType() == pixel_type


def test_bad_image_definitions_are_refused() -> None:
    omero_ = FakeOmero()
    with pytest.raises(ValueError, match="pixel_type"):
        omero_.add_image("x", owner=omero_.root, pixel_type="bit")
    with pytest.raises(ValueError, match="shape"):
        omero_.add_image("x", owner=omero_.root, size=(4, 4, 1, 1, 1),
                         planes=np.zeros((1, 1, 1, 4, 5)))
