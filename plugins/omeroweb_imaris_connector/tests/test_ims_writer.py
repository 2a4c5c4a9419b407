"""The .ims writer against the OMERO test double, checked by plain h5py and by an independent
reader (imaris-ims-file-reader)."""

import threading
import zlib

import h5py
import numpy as np
import pytest

from omeroweb_imaris_connector.ims_writer import (
    ImageSpec,
    UnsupportedImage,
    WriteOptions,
    level_shapes,
    write_ims,
)
from omeroweb_imaris_connector.omero_source import image_spec, tile_reader

SIZE = (300, 270, 11, 2, 3)  # x, y, z, c, t: more than one tile and one chunk each way
SMALL_PYRAMID = WriteOptions(tile=128, chunk_z=4, compression=2, min_level_voxels=4000)


def _text(node, key):
    return node.attrs[key].tobytes().decode("ascii")


@pytest.fixture
def exported(fake_omero, tmp_path):
    lab = fake_omero.add_group("lab", "read-annotate")
    alice = fake_omero.add_user("alice", [lab])
    rng = np.random.default_rng(7)
    x, y, z, c, t = SIZE
    planes = rng.integers(0, 65535, size=(t, c, z, y, x), dtype=np.uint16)
    record = fake_omero.add_image("cells.tif", owner=alice, size=SIZE, pixel_type="uint16",
                                  physical_size=(0.1625, 0.1625, 0.5), planes=planes,
                                  channel_names=["DAPI", "GFP"])
    conn = fake_omero.connect("alice")
    image = conn.getObject("Image", record.id)
    fake_omero.calls.reset()
    path = tmp_path / "cells.ims"
    report = write_ims(path, image_spec(image), tile_reader(image), SMALL_PYRAMID)
    return path, planes, report, fake_omero


def test_layout_and_pixels_round_trip_through_h5py(exported):
    path, planes, report, _ = exported
    x, y, z, c, t = SIZE
    with h5py.File(path, "r") as h5:
        assert _text(h5, "ImarisVersion") == "5.5.0"
        assert _text(h5, "DataSetDirectoryName") == "DataSet"
        assert list(h5.attrs["NumberOfDataSets"]) == [1]
        assert h5.attrs["ImarisDataSet"].dtype == np.dtype("S1")  # the Imaris way
        levels = sorted(h5["DataSet"].keys())
        assert len(levels) == len(report.levels) >= 3
        for tp in range(t):
            for ch in range(c):
                group = h5[f"DataSet/ResolutionLevel 0/TimePoint {tp}/Channel {ch}"]
                assert (_text(group, "ImageSizeX"), _text(group, "ImageSizeY"),
                        _text(group, "ImageSizeZ")) == (str(x), str(y), str(z))
                data = group["Data"]
                assert data.dtype == np.uint16
                np.testing.assert_array_equal(data[...], planes[tp, ch])
                hist = group["Histogram"][...]
                assert hist.dtype == np.uint64 and hist.shape == (256,)
                assert int(hist.sum()) == x * y * z
                assert float(_text(group, "HistogramMin")) == planes[tp, ch].min()
                assert float(_text(group, "HistogramMax")) == planes[tp, ch].max()
        image = h5["DataSetInfo/Image"]
        assert (_text(image, "X"), _text(image, "Y"), _text(image, "Z")) == ("300", "270", "11")
        assert _text(image, "Unit") == "um"
        voxel = [(float(_text(image, f"ExtMax{i}")) - float(_text(image, f"ExtMin{i}"))) / n
                 for i, n in enumerate((x, y, z))]
        assert voxel == pytest.approx([0.1625, 0.1625, 0.5], rel=1e-12)
        assert _text(h5["DataSetInfo/Channel 0"], "Name") == "DAPI"
        assert _text(h5["DataSetInfo/Channel 1"], "Name") == "GFP"
        assert len(_text(h5["DataSetInfo/Channel 1"], "Color").split()) == 3
        assert _text(h5["DataSetInfo/TimeInfo"], "FileTimePoints") == "3"
        assert "TimePoint3" in h5["DataSetInfo/TimeInfo"].attrs
        thumbnail = h5["Thumbnail/Data"]
        assert thumbnail.shape == (256, 1024) and thumbnail.dtype == np.uint8
        assert thumbnail[...].max() > 0


def test_pyramid_levels_are_block_means(exported):
    path, planes, report, _ = exported
    with h5py.File(path, "r") as h5:
        level1 = h5["DataSet/ResolutionLevel 1/TimePoint 2/Channel 1/Data"][...]
        assert level1.shape == report.levels[1]
    source = planes[2, 1].astype(np.int64)
    z = report.levels[1][0]
    fz = 2 if z < source.shape[0] else 1
    # An interior voxel: the mean of its 2x2(x2) neighbours, rounded half up.
    neighbours = source[2 * fz:3 * fz, 4:6, 6:8]
    expected = (int(neighbours.sum()) + neighbours.size // 2) // neighbours.size
    assert level1[2, 2, 3] == expected


def test_independent_reader_sees_the_same_image(exported):
    from imaris_ims_file_reader.ims import ims

    path, planes, _, _ = exported
    reader = ims(str(path), squeeze_output=False)
    try:
        x, y, z, c, t = SIZE
        assert reader.shape == (t, c, z, y, x)
        assert reader.dtype == np.uint16
        assert reader.resolution == (0.5, 0.163, 0.163)  # z, y, x; the reader rounds to 3
        np.testing.assert_array_equal(reader[1, 1, :, :, :][0, 0], planes[1, 1])
        np.testing.assert_array_equal(reader[:, :, 3:7, 100:200, 250:300],
                                      planes[:, :, 3:7, 100:200, 250:300])
        assert reader.ResolutionLevels >= 3
    finally:
        reader.close()


def test_pixels_are_read_tile_by_tile(exported):
    _, _, report, omero = exported
    x, y, z, c, t = SIZE
    tiles = -(-x // 128) * -(-y // 128) * z * c * t
    assert report.tiles_read == tiles
    assert omero.calls["RawPixelsStore.getTile"] == tiles
    assert omero.calls["RawPixelsStore.getPlane"] == 0


def test_uncompressed_and_float_images(fake_omero, tmp_path):
    lab = fake_omero.add_group("lab")
    alice = fake_omero.add_user("alice", [lab])
    planes = np.linspace(-1.5, 9.25, 2 * 1 * 3 * 20 * 30, dtype=np.float32).reshape(2, 1, 3, 20, 30)
    record = fake_omero.add_image("f.tif", owner=alice, size=(30, 20, 3, 1, 2),
                                  pixel_type="float", planes=planes)
    image = fake_omero.connect("alice").getObject("Image", record.id)
    spec = image_spec(image)
    assert spec.voxel_size == (1.0, 1.0, 1.0)  # unknown sizes fall back as in the original
    path = tmp_path / "f.ims"
    write_ims(path, spec, tile_reader(image), WriteOptions(compression=None))
    with h5py.File(path, "r") as h5:
        data = h5["DataSet/ResolutionLevel 0/TimePoint 1/Channel 0/Data"]
        assert data.compression is None and data.dtype == np.float32
        np.testing.assert_array_equal(data[...], planes[1, 0])
        assert _text(h5["DataSetInfo/Channel 0"], "Color") == "1.0 1.0 1.0"


def test_unsupported_pixel_type_is_refused_and_leaves_no_file(tmp_path):
    spec = ImageSpec(4, 4, 1, 1, 1, np.dtype(np.int16))
    with pytest.raises(UnsupportedImage, match="int16"):
        write_ims(tmp_path / "x.ims", spec, lambda requests: [])
    assert not (tmp_path / "x.ims").exists()


def test_failed_write_removes_the_partial_file(tmp_path):
    spec = ImageSpec(4, 4, 1, 1, 1, np.dtype(np.uint8))

    def broken(requests):
        raise RuntimeError("server gone")

    with pytest.raises(RuntimeError):
        write_ims(tmp_path / "x.ims", spec, broken)
    assert not (tmp_path / "x.ims").exists()


def test_pyramid_halves_xy_and_z_while_z_is_finer():
    spec = ImageSpec(1000, 800, 40, 1, 1, np.dtype(np.uint16), voxel_size=(0.5, 0.5, 1.0))
    shapes = level_shapes(spec, WriteOptions(min_level_voxels=10_000))
    assert shapes[:4] == [(40, 800, 1000), (40, 400, 500), (20, 200, 250), (10, 100, 125)]
    z, y, x = shapes[-2]
    assert z * y * x > 10_000 >= shapes[-1][0] * shapes[-1][1] * shapes[-1][2]


def _peak_bytes(tmp_path, planes):
    import tracemalloc

    spec = ImageSpec(1024, 1024, planes, 1, 1, np.dtype(np.uint16))
    tile = np.arange(256 * 256, dtype=np.uint16).reshape(256, 256)

    def read(requests):
        for _z, _c, _t, (_x, _y, w, h) in requests:
            yield tile[:h, :w].copy()

    tracemalloc.start()
    try:
        write_ims(tmp_path / f"m{planes}.ims", spec, read, WriteOptions(compression=None))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_image(tmp_path):
    """numpy's peak is set by the chunk geometry and the settings, not the image: at most
    workers + queue depth level-0 blocks (1 MiB at uint16 with 8 x 256 x 256 chunks) and a
    few coarser chunks are held (both sizes make 3 levels). Which of them are alive at the
    peak depends on the threads' timing (1-2 blocks either way on a busy machine)."""
    small, large = _peak_bytes(tmp_path, 32), _peak_bytes(tmp_path, 64)  # 64 and 128 MiB
    assert large < 1.25 * small, (small, large)
    assert large < 24 * 2**20, f"peak {large / 2**20:.1f} MiB"


def test_progress_counts_blocks_and_can_abort(tmp_path):
    spec = ImageSpec(300, 200, 3, 2, 1, np.dtype(np.uint8))
    zeros = np.zeros((256, 256), dtype=np.uint8)
    reports = []

    def read(requests):
        return (zeros[:h, :w] for _z, _c, _t, (_x, _y, w, h) in requests)

    write_ims(tmp_path / "p.ims", spec, read, progress=lambda d, t: reports.append((d, t)))
    assert reports[-1] == (4, 4)  # 2 x 1 tiles of one 3-plane block, for each of 2 channels
    assert [d for d, _ in reports] == sorted(d for d, _ in reports)

    def cancel(done, total):
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        write_ims(tmp_path / "q.ims", spec, read, progress=cancel)
    assert not (tmp_path / "q.ims").exists()


# -- the parallel path -----------------------------------------------------------------------


def _stored_chunks(path):
    """Every stored chunk of the pixel data: (dataset, offset) -> (filter mask, stored bytes)."""
    chunks = {}
    with h5py.File(path, "r") as h5:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and name.startswith("DataSet/") \
                    and name.endswith("/Data"):
                for index in range(obj.id.get_num_chunks()):
                    offset = obj.id.get_chunk_info(index).chunk_offset
                    chunks[(name, offset)] = obj.id.read_direct_chunk(offset)
        h5.visititems(visit)
    return chunks


@pytest.mark.parametrize("level", [2, 6])
def test_parallel_chunks_decompress_to_the_serial_paths_bytes(fake_omero, tmp_path, level):
    lab = fake_omero.add_group("lab")
    alice = fake_omero.add_user("alice", [lab])
    record = fake_omero.add_image("ramp.tif", owner=alice, size=(300, 270, 11, 2, 2),
                                  pixel_type="uint16", physical_size=(0.2, 0.2, 0.2))
    image = fake_omero.connect("alice").getObject("Image", record.id)
    options = {"tile": 128, "chunk_z": 4, "compression": level, "min_level_voxels": 4000}
    serial, parallel = tmp_path / "serial.ims", tmp_path / "parallel.ims"
    write_ims(serial, image_spec(image), tile_reader(image), WriteOptions(**options, workers=0))
    write_ims(parallel, image_spec(image), tile_reader(image),
              WriteOptions(**options, workers=4, queue_depth=1))
    one, other = _stored_chunks(serial), _stored_chunks(parallel)
    assert one.keys() == other.keys() and len(one) > 100
    assert any("ResolutionLevel 3" in name for name, _ in one)
    for key, (mask, stored) in one.items():
        assert mask == other[key][0] == 0  # the gzip filter applies to every chunk
        assert zlib.decompress(stored) == zlib.decompress(other[key][1]), key
    if level > 3:  # zlib's deflate: the very bytes HDF5's own filter writes
        with h5py.File(serial, "r") as h5, h5py.File(tmp_path / "h5py.h5", "w") as plain:
            for name, offset in list(one)[:20]:
                data = h5[name]
                copy = plain.require_dataset(name, data.shape, data.dtype, chunks=data.chunks,
                                             compression="gzip", compression_opts=level)
                copy[...] = data[...]
                assert copy.id.read_direct_chunk(offset) == one[(name, offset)]


def _ims_threads():
    return [t for t in threading.enumerate() if t.name.startswith(("ims-reader", "ims-worker"))]


def test_a_failing_worker_fails_the_write_and_leaves_no_file(tmp_path, monkeypatch):
    from omeroweb_imaris_connector import ims_writer

    spec = ImageSpec(600, 600, 20, 1, 1, np.dtype(np.uint16))
    tile = np.ones((256, 256), dtype=np.uint16)
    real = ims_writer._downsample
    calls = []

    def failing(block, factor_z, out_shape):
        calls.append(threading.current_thread().name)
        if len(calls) == 5:
            raise MemoryError("no memory for the next level")
        return real(block, factor_z, out_shape)

    monkeypatch.setattr(ims_writer, "_downsample", failing)

    def read(requests):
        return (tile[:h, :w] for _z, _c, _t, (_x, _y, w, h) in requests)

    with pytest.raises(MemoryError, match="no memory for the next level"):
        write_ims(tmp_path / "w.ims", spec, read, WriteOptions(workers=3, queue_depth=2))
    assert calls[4].startswith("ims-worker")  # it failed in a worker thread
    assert not (tmp_path / "w.ims").exists()
    assert _ims_threads() == []  # the reader and the pool are gone


def _memory_image(fake_omero, planes):
    lab = fake_omero.add_group(f"lab{planes}")
    alice = fake_omero.add_user(f"alice{planes}", [lab])
    # No stored planes: the test double computes each requested tile (a ramp), so nothing but
    # the writer holds pixels.
    record = fake_omero.add_image("big.tif", owner=alice, size=(2048, 2048, planes, 1, 1),
                                  pixel_type="uint16", physical_size=(0.1, 0.1, 0.1))
    return fake_omero.connect(f"alice{planes}").getObject("Image", record.id)


def test_memory_is_a_few_chunks_per_worker_on_a_large_streamed_image(fake_omero, tmp_path):
    """tracemalloc counts numpy's buffers and every bytes object, in all threads. 2048 x 2048 x
    64 uint16 (512 MiB) streamed from the test double, gzip, 2 workers, read-ahead 4: at most 6
    level-0 blocks (1 MiB each), their compressed copies, the workers' temporaries and about
    one partly built chunk per coarser level are held (about 15-20 MiB measured), whatever the
    image size: twice the planes (the same 4 levels) hold no more."""
    import tracemalloc

    options = WriteOptions(compression=1, workers=2, queue_depth=4)
    peaks, levels = {}, {}
    for planes in (32, 64):
        image = _memory_image(fake_omero, planes)
        tracemalloc.start()
        try:
            report = write_ims(tmp_path / f"m{planes}.ims", image_spec(image),
                               tile_reader(image), options)
            peaks[planes] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        levels[planes] = len(report.levels)
    assert levels[32] == levels[64] == 4
    block = 8 * 256 * 256 * 2
    assert peaks[64] < 32 * block, f"peak {peaks[64] / 2**20:.1f} MiB of a 512 MiB image"
    assert peaks[64] < 1.3 * peaks[32], peaks


def test_memory_does_not_grow_with_time_points(tmp_path):
    """uint16 statistics are 65536 counts (512 KiB) per level while a (t, c) is written; only
    its range is kept afterwards. 300 time points would hold 150 MiB of counts otherwise."""
    import tracemalloc

    spec = ImageSpec(64, 64, 2, 1, 300, np.dtype(np.uint16))
    tile = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)

    def read(requests):
        return (tile[:h, :w] for _z, _c, _t, (_x, _y, w, h) in requests)

    tracemalloc.start()
    try:
        write_ims(tmp_path / "t.ims", spec, read, WriteOptions(compression=1))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB"


# -- non-finite values -----------------------------------------------------------------------


def test_nan_and_inf_are_left_out_of_statistics_and_counted(fake_omero, tmp_path):
    lab = fake_omero.add_group("lab")
    alice = fake_omero.add_user("alice", [lab])
    rng = np.random.default_rng(5)
    planes = rng.uniform(-2.0, 7.0, size=(1, 2, 9, 150, 140)).astype(np.float32)
    planes[0, 0, 1, 3, 4] = np.nan  # in one chunk of channel 0
    planes[0, 0, 5, 100:110, 2] = np.inf  # and others elsewhere
    planes[0, 0, 8, 149, 139] = -np.inf
    planes[0, 1, :, :, :] = np.nan  # channel 1 has no finite value
    record = fake_omero.add_image("f.tif", owner=alice, size=(140, 150, 9, 2, 1),
                                  pixel_type="float", planes=planes)
    image = fake_omero.connect("alice").getObject("Image", record.id)
    path = tmp_path / "nan.ims"
    report = write_ims(path, image_spec(image), tile_reader(image),
                       WriteOptions(tile=64, chunk_z=4, min_level_voxels=2000))
    assert report.non_finite == {0: 12, 1: planes[0, 1].size}
    finite = planes[0, 0][np.isfinite(planes[0, 0])]
    with h5py.File(path, "r") as h5:
        for level in range(len(report.levels)):
            group = h5[f"DataSet/ResolutionLevel {level}/TimePoint 0/Channel 0"]
            assert float(_text(group, "HistogramMin")) == float(finite.min())
            assert float(_text(group, "HistogramMax")) == float(finite.max())
            data = group["Data"][...]
            assert int(group["Histogram"][...].sum()) == int(np.isfinite(data).sum())
        hist = h5["DataSet/ResolutionLevel 0/TimePoint 0/Channel 0/Histogram"][...]
        expected, _ = np.histogram(finite.astype(np.float64), bins=256,
                                   range=(float(finite.min()), float(finite.max())))
        assert np.abs(hist.astype(np.int64) - expected).sum() <= 4  # bin edges' rounding
        assert _text(h5["DataSetInfo/Channel 0"], "ColorRange") == \
            f"{float(finite.min())!r} {float(finite.max())!r}"
        assert _text(h5["DataSetInfo/Channel 1"], "ColorRange") == "0.0 0.0"
        empty = h5["DataSet/ResolutionLevel 0/TimePoint 0/Channel 1"]
        assert int(empty["Histogram"][...].sum()) == 0
        np.testing.assert_array_equal(h5["DataSet/ResolutionLevel 0/TimePoint 0/Channel 0/Data"],
                                      planes[0, 0])
        thumbnail = h5["Thumbnail/Data"][...]
        assert thumbnail.max() > 0


def test_thumbnail_of_a_single_level_file_is_sampled_in_passing(tmp_path):
    """max_levels=1: the thumbnail comes from level 0 chunk by chunk, not from all of it."""
    import tracemalloc

    spec = ImageSpec(2048, 2048, 16, 1, 1, np.dtype(np.uint16))
    ramp = (np.arange(2048)[None, :] + np.arange(2048)[:, None]).astype(np.uint16)

    def read(requests):
        for _z, _c, _t, (x, y, w, h) in requests:
            yield ramp[y:y + h, x:x + w].copy()

    tracemalloc.start()
    try:
        report = write_ims(tmp_path / "one.ims", spec, read, WriteOptions(max_levels=1))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(report.levels) == 1
    assert peak < 2048 * 2048 * 16 * 2 / 8, f"peak {peak / 2**20:.1f} MiB"  # level 0: 128 MiB
    with h5py.File(tmp_path / "one.ims", "r") as h5:
        rgba = h5["Thumbnail/Data"][...].reshape(256, 256, 4)
    # The ramp's projection, sampled every 8th pixel and scaled to the channel's range.
    norm = np.clip((ramp[::8, ::8].astype(np.float64) - 0.0) / (4094.0 - 0.0), 0, 1)
    np.testing.assert_array_equal(rgba[..., 0], np.clip(norm * 255, 0, 255).astype(np.uint8))
    assert (rgba[..., 3] == 255).all()
