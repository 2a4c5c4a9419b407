import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omeroweb_omp_plugin.services import parsing, safe_regex
from omeroweb_omp_plugin.services.parsing import ParseError, ParserSettings

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
               min_size=1, max_size=12)


def test_rembi_defaults_and_limits():
    assert parsing.DEFAULT_VARIABLES == (
        "Project number", "Sample type", "Substrate", "Position", "Image acquisition",
        "Specific experimental conditions")
    assert parsing.MAX_VARIABLES == 10 and parsing.MAX_VARIABLE_SETS == 10
    assert parsing.SEPARATORS == ("_", "-", ".", " ", "__")
    assert len(parsing.HYPHEN_PROTECTION) == 11


@pytest.mark.parametrize(("name", "base"), [
    ("a_b_c.tif", "a_b_c"),
    ("dir/sub/a_b.ome.tiff", "a_b"),
    ("C:\\data\\x-y.czi", "x-y"),
    ("experiment.lif [Series 3_A1]", "Series 3_A1"),
    ("no_extension", "no_extension"),
    ("v1.2_sample", "v1.2_sample"),
])
def test_filename_base(name, base):
    assert parsing.filename_base(name) == base


@pytest.mark.parametrize("term", [
    "2-propanol", "1,4-dioxane", "N-acetylcysteine", "Z-stack", "z-projection", "488nm-laser",
    "T-cell", "B-cells", "p-value", "alpha-tubulin", "anti-GFP", "wild-type", "Rab5-KO",
    "H2B-GFP", "Lifeact-mCherry", "x-axis",
])
def test_hyphen_protection_keeps_scientific_terms(term):
    settings = ParserSettings(separators=("_", "-"))
    values = parsing.split_values(f"P1-{term}_glass-pos2", settings)
    assert values == ["P1", term, "glass", "pos2"]


def test_hyphen_protection_can_be_switched_off():
    settings = ParserSettings(separators=("_", "-"), protect_hyphens=False)
    assert parsing.split_values("P1_T-cell", settings) == ["P1", "T", "cell"]


def test_double_underscore_separator_wins_over_single():
    settings = ParserSettings(separators=("__",))
    assert parsing.split_values("a_1__b_2", settings) == ["a_1", "b_2"]


def test_keys_are_variable_names_then_varn_deduplicated():
    assert parsing.key_names(["A", "", "A"], 5) == ["A", "Var2", "A_2", "Var4", "Var5"]


def test_pairs_use_rembi_names_and_stop_at_ten():
    settings = ParserSettings()
    pairs = parsing.pairs_for("_".join(f"v{i}" for i in range(14)) + ".tif", settings)
    assert len(pairs) == 10
    assert pairs[0] == ("Project number", "v0") and pairs[6] == ("Var7", "v6")


def test_regex_mode_with_groups_and_split():
    split = ParserSettings(mode="regex", regex=r"[_.]")
    groups = ParserSettings(mode="regex", regex=r"^(P\d+)_(\w+?)_pos(\d+)")
    assert parsing.split_values("P1_HeLa.pos3", split) == ["P1", "HeLa", "pos3"]
    assert parsing.split_values("P1_HeLa_pos3", groups) == ["P1", "HeLa", "3"]
    assert parsing.split_values("nomatch", groups) == []


@pytest.mark.parametrize("bad", [
    {"mode": "magic"}, {"separators": []}, {"separators": ["/"]}, {"separators": "_"},
    {"mode": "regex", "regex": "("}, {"mode": "regex", "regex": ""},
    {"mode": "regex", "regex": "a" * 301}, {"mode": "regex", "regex": "(a)" * 21},
    {"mode": "regex", "regex": "(a{1000}){1000}"}, {"mode": "regex", "regex": "a{2,1001}"},
    {"mode": "regex", "regex": "((a{10}){10}){11}"},
    {"variables": ["x"] * 11}, {"variables": [1]}, {"variables": ["x" * 129]},
    {"protect_hyphens": "yes"}, {"regex": 5},
])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ParseError):
        ParserSettings.from_dict(bad)


def test_settings_round_trip():
    data = {"mode": "regex", "separators": ["_", "-"], "regex": "[_-]", "protect_hyphens": False,
            "variables": ["a", "b"]}
    assert ParserSettings.from_dict(data).as_dict() == data


def test_catastrophic_regex_is_stopped_by_the_time_limit():
    # (a|aa)+$ backtracks exponentially on "aaaa…b"; Python's re would run for ages.
    pattern = safe_regex.compile_pattern(r"(a|aa)+$", budget=0.2)
    started = time.monotonic()
    with pytest.raises(safe_regex.RegexError, match="too long"):
        pattern.split_or_groups("a" * 60 + "b")
    # Generous: the machine may be busy; without the limit this would run for ages.
    assert time.monotonic() - started < 5.0


def test_nested_quantifier_redos_cannot_hang():
    # The classic (a+)+$ on "aaaa…b": an answer or a time-limit error, within the budget.
    settings = ParserSettings(mode="regex", regex=r"(a+)+$")
    started = time.monotonic()
    try:
        rows = parsing.preview(["a" * 5000 + "b.tif"], settings, deadline_seconds=0.5)
        assert rows[0]["values"] in ([], ["a" * 5000 + "b"])
    except safe_regex.RegexError as exc:
        assert "too long" in str(exc)
    assert time.monotonic() - started < 5.0


def test_one_budget_for_a_whole_batch():
    pattern = safe_regex.compile_pattern(r"(a|aa)+$", budget=0.3)
    started = time.monotonic()
    with pytest.raises(safe_regex.RegexError):
        for _ in range(100):
            pattern.split_or_groups("a" * 40 + "b")
    assert time.monotonic() - started < 5.0  # 100 x 0.3 s without a shared budget


@pytest.mark.parametrize("mode", ["separators", "regex"])
def test_preview_of_10000_filenames_is_fast(mode):
    names = [f"P{i % 90}_HeLa-T-cell_glass_pos{i}_z{i % 5}.ome.tif" for i in range(10_000)]
    settings = ParserSettings.from_dict(
        {"mode": mode, "separators": ["_", "-"], "regex": r"[_]+"})
    started, cpu_started = time.perf_counter(), time.process_time()
    rows = parsing.preview(names, settings, deadline_seconds=10)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"\npreview of 10,000 filenames ({mode}): {elapsed * 1000:.0f} ms wall, "
          f"{cpu * 1000:.0f} ms CPU")
    expected = (["P7", "HeLa", "T-cell", "glass"] if mode == "separators"
                else ["P7", "HeLa-T-cell", "glass", "pos7"])
    assert len(rows) == 10_000 and rows[7]["values"][:4] == expected
    assert cpu < 1.0  # CPU time: the wall clock depends on how busy the machine is


@given(st.lists(WORD, min_size=1, max_size=10), st.sampled_from(["_", ".", " ", "__"]))
def test_joined_values_split_back(values, sep):
    settings = ParserSettings(separators=(sep,))
    assert parsing.split_values(sep.join(values), settings) == values


@given(st.text(max_size=200), st.lists(st.sampled_from(parsing.SEPARATORS), min_size=1),
       st.booleans(), st.lists(st.text(max_size=5), max_size=10))
def test_any_filename_gives_at_most_ten_unique_keys(name, seps, protect, variables):
    settings = ParserSettings(separators=tuple(seps), protect_hyphens=protect,
                              variables=tuple(variables))
    pairs = parsing.pairs_for(name, settings)
    keys = [k for k, _ in pairs]
    assert len(pairs) <= 10 and len(set(keys)) == len(keys)
    assert all(v for _, v in pairs)


@given(st.lists(st.text(max_size=40), max_size=30))
def test_heuristic_suggestion_is_always_a_valid_regex(names):
    pattern = parsing.separators_regex(parsing.suggest_separators(names))
    safe_regex.validate(pattern)
