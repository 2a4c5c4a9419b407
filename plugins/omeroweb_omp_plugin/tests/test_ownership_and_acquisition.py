from hypothesis import given
from hypothesis import strategies as st

from omeroweb_omp_plugin.services import acquisition, ownership

SECRET = "s" * 40
PAIRS = [("Project number", "P1"), ("Sample type", "HeLa")]


def test_mark_is_prefixed_hmac_and_verifies():
    marked = ownership.with_mark(PAIRS, SECRET)
    assert marked[-1][0] == "omp_hash" and marked[-1][1].startswith("omphash_v1:")
    assert len(marked[-1][1]) == len("omphash_v1:") + 64
    assert ownership.is_plugin_owned(marked, SECRET)


def test_foreign_or_tampered_annotations_are_not_plugin_owned():
    marked = ownership.with_mark(PAIRS, SECRET)
    assert not ownership.is_plugin_owned(PAIRS, SECRET)                       # no mark
    assert not ownership.is_plugin_owned(marked, "t" * 40)                    # other site
    assert not ownership.is_plugin_owned([("Project number", "P2"), *marked[1:]], SECRET)
    assert not ownership.is_plugin_owned([*PAIRS, ("omp_hash", "omphash_v1:" + "0" * 64)],
                                         SECRET)                              # hand-typed
    assert not ownership.is_plugin_owned([*marked, marked[-1]], SECRET)       # two marks


def test_mark_is_order_sensitive_and_deterministic():
    assert ownership.mark(PAIRS, SECRET) == ownership.mark(PAIRS, SECRET)
    assert ownership.mark(PAIRS, SECRET) != ownership.mark(PAIRS[::-1], SECRET)


@given(st.lists(st.tuples(st.text(max_size=20), st.text(max_size=20)), max_size=12))
def test_any_pairs_round_trip(pairs):
    pairs = [(k, v) for k, v in pairs if k != "omp_hash"]
    assert ownership.is_plugin_owned(ownership.with_mark(pairs, SECRET), SECRET)


def test_acquisition_pairs_and_bf_keys():
    raw = {"acquisition_date": "2024-05-01T10:00:00", "objective_id": "7",
           "correction_collar": 0.17, "size": [40, 30, 3, 2, 2], "pixel_type": "uint16",
           "pixel_size_x": 0.1, "channels": [{"label": "DAPI", "emission": 461,
                                              "excitation": 358}, {"label": "GFP"}],
           "detectors": [{"binning": "2x2", "gain": 1.5}],
           "original": {"Zoom": "1.0", "Laser": "488"}}
    pairs, overflow = acquisition.to_pairs(raw)
    assert overflow == ""
    d = dict(pairs)
    assert d["Acquisition date"] == "2024-05-01T10:00:00"
    assert d["Objective"] == "7" and d["Correction collar"] == "0.17"
    assert d["Channel 1 emission wavelength"] == "461" and d["Channel 2 label"] == "GFP"
    assert d["Detector 1 binning"] == "2x2" and d["BF_Laser"] == "488"
    assert d["Dimensions XYZCT"] == "40 x 30 x 3 x 2 x 2"


def test_values_over_250_characters_move_to_the_text_file():
    long = "x" * 251
    pairs, overflow = acquisition.to_pairs({"original": {"Description": long, "Short": "ok"}})
    d = dict(pairs)
    assert d["BF_Description"] == acquisition.PLACEHOLDER and d["BF_Short"] == "ok"
    assert d["full_metadata_file"] == "acquisition_metadata.txt"
    assert overflow == f"BF_Description: {long}\n"
    assert acquisition.to_pairs({"original": {"A": "y" * 250}})[1] == ""
