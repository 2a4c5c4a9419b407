"""The bridge's checks that need no OpenHCS: preset names, parameters, the staged plate, the
metadata file it writes. The runs themselves (real server) are the role scenario's."""

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("openhcs_bridge", ROOT / "roles/openhcs/files/openhcs_bridge.py")
bridge = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bridge)

DEFAULTS = yaml.safe_load((ROOT / "roles/openhcs/defaults/main.yml").read_text())
MANIFEST = {k: v for k, v in DEFAULTS["openhcs_presets"][0].items() if k != "source"}


def test_defaults_fill_what_the_user_left_out():
    params = bridge.validate_params(MANIFEST, {"min_cell_area": 30})
    assert params == {"min_cell_area": 30, "max_cell_area": 400, "sigma": 1.0, "normalize": True, "method": "otsu"}
    assert isinstance(params["sigma"], float)


@pytest.mark.parametrize("given, message", [
    ({"min_cell_area": 4}, "between 5 and 10000"),
    ({"min_cell_area": 2.5}, "whole number"),
    ({"min_cell_area": True}, "whole number"),
    ({"sigma": "1"}, "a number"),
    ({"sigma": float("nan")}, "a number"),
    ({"normalize": 1}, "true or false"),
    ({"method": "yen"}, "one of otsu, li"),
    ({"__import__": 1}, "has no parameter '__import__'"),
    ([1, 2], "JSON object"),
])
def test_bad_parameters_are_refused_with_a_sentence(given, message):
    with pytest.raises(bridge.BadRequest, match=message):
        bridge.validate_params(MANIFEST, given)


def test_the_injected_line_is_a_literal_of_the_checked_values():
    params = bridge.validate_params(MANIFEST, {"method": "li"})
    source = bridge.pipeline_source("x = PARAMS['method']\n", params)
    namespace = {}
    exec(compile(source, "<preset>", "exec"), namespace)  # noqa: S102 - the bridge's own output
    assert namespace["x"] == "li" and namespace["PARAMS"] == params


@pytest.mark.parametrize("name", ["../etc/passwd", "Cell", "", "a/b", "x" * 65])
def test_preset_names_outside_the_pattern_are_unknown(tmp_path, name):
    with pytest.raises(bridge.BadRequest, match="no preset named"):
        bridge.load_preset(tmp_path, name)


def stage(tmp_path, wells=("A01", "B12"), sites=2, channels=("DAPI", "GFP"), skip=None):
    plate = tmp_path / "job" / "plate"
    (plate / "TimePoint_1").mkdir(parents=True)
    for w in wells:
        for s in range(1, sites + 1):
            for c in range(1, len(channels) + 1):
                name = f"{w}_s{s}_w{c}.tif"
                if name != skip:
                    (plate / "TimePoint_1" / name).write_bytes(b"")
    (plate / "plate.json").write_text(json.dumps({"wells": list(wells), "sites": sites, "channels": list(channels)}))
    return plate


def test_a_staged_plate_is_read_and_gets_its_metadata_file(tmp_path):
    plate = stage(tmp_path)
    described = bridge.read_plate(plate)
    assert described["wells"] == ["A01", "B12"] and described["pixel_size_um"] == 1.0
    bridge.write_htd(plate, described)
    htd = (plate / "plate.HTD").read_text()
    assert '"XWells", 12' in htd and '"YWells", 8' in htd
    assert '"WellsSelection2", ' + ", ".join(["FALSE"] * 11 + ["TRUE"]) in htd
    assert '"XSites", 2' in htd and '"NWavelengths", 2' in htd and '"WaveName2", "GFP"' in htd
    assert '"PixelSizeUM", 1.0' in htd


def test_a_384_well_plate_gets_a_384_well_layout(tmp_path):
    plate = stage(tmp_path, wells=("P24",), sites=1, channels=("DAPI",))
    bridge.write_htd(plate, bridge.read_plate(plate))
    assert '"XWells", 24' in (plate / "plate.HTD").read_text()


@pytest.mark.parametrize("change, message", [
    ({"skip": "B12_s2_w1.tif"}, "misses 1 image file"),
    ({"wells": ("A1",)}, "not like A01"),
    ({"sites": 0}, "at least 1"),
    ({"channels": ()}, "no channels"),
])
def test_an_incomplete_plate_is_refused(tmp_path, change, message):
    plate = stage(tmp_path, **change)
    with pytest.raises(bridge.BadRequest, match=message):
        bridge.read_plate(plate)


def test_a_plate_with_images_it_does_not_list_is_refused(tmp_path):
    plate = stage(tmp_path)
    (plate / "TimePoint_1" / "C03_s1_w1.tif").write_bytes(b"")
    with pytest.raises(bridge.BadRequest, match=r"1 image file\(s\) plate\.json does not list, e\.g\. TimePoint_1/C03"):
        bridge.read_plate(plate)


def test_a_plate_without_description_is_refused(tmp_path):
    with pytest.raises(bridge.BadRequest, match=r"has no plate\.json"):
        bridge.read_plate(tmp_path)


def test_gpu_only_where_the_host_says_so(tmp_path):
    assert bridge.host_has_gpu(tmp_path / "missing.json") is False
    (tmp_path / "host.json").write_text('{"gpu": true}')
    assert bridge.host_has_gpu(tmp_path / "host.json") is True
    (tmp_path / "host.json").write_text('{"gpu": "yes"}')
    assert bridge.host_has_gpu(tmp_path / "host.json") is False
