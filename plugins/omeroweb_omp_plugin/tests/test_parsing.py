import random
import re
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omeroweb_omp_plugin.services import hyphens, parsing, safe_regex
from omeroweb_omp_plugin.services.parsing import ParseError, ParserSettings

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
               min_size=1, max_size=12)


def test_rembi_defaults_and_limits():
    assert parsing.DEFAULT_VARIABLES == (
        "Project number", "Sample type", "Substrate", "Position", "Image acquisition",
        "Specific experimental conditions")
    assert parsing.MAX_VARIABLES == 10 and parsing.MAX_VARIABLE_SETS == 10
    assert parsing.SEPARATORS == ("_", "-", ".", " ", "__")


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
    {"mode": "magic"}, {"separators": []}, {"separators": "_"},
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


def test_catastrophic_regex_is_stopped_by_the_cpu_time_limit():
    # (a|aa)+$ backtracks exponentially on "aaaa…b"; without the limit it runs for ages.
    settings = ParserSettings(mode="regex", regex=r"(a|aa)+$")
    started = time.monotonic()
    with pytest.raises(safe_regex.TooSlow, match="CPU time"):
        parsing.parse_names(["a" * 60 + "b"], settings, 0.2)
    # Generous: the machine may be busy; without the limit this would run for ages.
    assert time.monotonic() - started < 5.0


def test_nested_quantifier_redos_cannot_hang():
    # The classic (a+)+$ on "aaaa…b": an answer or a time-limit error, within the budget.
    settings = ParserSettings(mode="regex", regex=r"(a+)+$")
    started = time.monotonic()
    try:
        rows = parsing.preview(["a" * 900 + "b.tif"], settings, deadline_seconds=0.5)
        assert rows[0]["values"] in ([], ["a" * 900 + "b"])
    except safe_regex.RegexError as exc:
        assert "CPU time" in str(exc)
    assert time.monotonic() - started < 5.0


def test_one_budget_for_a_whole_batch():
    settings = ParserSettings(mode="regex", regex=r"(a|aa)+$")
    started = time.monotonic()
    with pytest.raises(safe_regex.TooSlow):
        parsing.parse_names(["a" * 28 + "b"] * 100, settings, 0.3)
    assert time.monotonic() - started < 5.0  # 100 x 0.3 s without a shared budget


def test_the_limit_counts_cpu_time_not_wall_time():
    # A busy host slows the wall clock, not the CPU time a batch needs: sleeping (no CPU)
    # inside the limit is not refused, spinning is.
    with safe_regex.CpuLimit(0.3):
        time.sleep(0.6)
    with pytest.raises(safe_regex.TooSlow), safe_regex.CpuLimit(0.3):
        while True:
            pass


def test_off_the_main_thread_a_regex_runs_in_a_limited_child():
    results = {}

    def work():
        try:
            parsing.parse_names(["a" * 60 + "b"], ParserSettings(mode="regex",
                                                                 regex=r"(a|aa)+$"), 0.3)
        except safe_regex.RegexError as exc:
            results["error"] = str(exc)
        results["ok"] = parsing.parse_names(
            ["P1_H2B-GFP_x.tif"], ParserSettings(mode="regex", regex=r"[_-]"), 2)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(30)
    assert "CPU time" in results["error"]
    assert results["ok"] == [("P1_H2B-GFP_x", ["P1", "H2B-GFP", "x"])]


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


# -- hyphen protection: real-looking names and the split they should get ----------------

SPLITS = [
    ("160701-Nup107-cell-1-t6.tif", ["160701", "Nup107", "cell", "1", "t6"]),
    ("2017-05-31-Ter119+_CD71-APC_BM.ome.tif", ["2017", "05", "31", "Ter119+", "CD71-APC", "BM"]),
    ("20170531_HeLa_H2B-GFP_40x_z3_t12.ome.tif",
     ["20170531", "HeLa", "H2B-GFP", "40x", "z3", "t12"]),
    ("Plate1-A01-f03-GFP-LC3.tif", ["Plate1", "A01", "f03", "GFP-LC3"]),
    ("01-HeLa-Lifeact-mCherry_pos-2.czi", ["01", "HeLa", "Lifeact-mCherry", "pos", "2"]),
    ("1,4-dioxane_2-propanol-10pct_DMSO.tif", ["1,4-dioxane", "2-propanol", "10pct", "DMSO"]),
    ("anti-GFP_wild-type_T-cell_Z-stack.tif", ["anti-GFP", "wild-type", "T-cell", "Z-stack"]),
    ("IL-2_PD-L1-Ki-67_c-Myc.tif", ["IL-2", "PD-L1", "Ki-67", "c-Myc"]),
    ("N-acetylcysteine-5mM_5-HT2A-KO.tif", ["N-acetylcysteine", "5mM", "5-HT2A-KO"]),
    ("488nm-laser_63x-oil_max-projection.tif", ["488nm-laser", "63x-oil", "max-projection"]),
    ("p53-KO-alpha-tubulin-E-cadherin.tif", ["p53-KO", "alpha-tubulin", "E-cadherin"]),
    ("B-03-2-well-7.tif", ["B", "03", "2", "well", "7"]),
    ("exp12-24h-DMSO-ctrl.tif", ["exp12", "24h", "DMSO", "ctrl"]),
    ("2019-11-05-1-propanol.tif", ["2019", "11", "05", "1", "propanol"]),
    ("r02c05f03p01-ch2.tiff", ["r02c05f03p01", "ch2"]),
    ("MFGTMP-140206180002-A01f00d0.TIF", ["MFGTMP", "140206180002", "A01f00d0"]),
    ("experiment.lif [Series 3-H2B-GFP-t4]", ["Series 3", "H2B-GFP", "t4"]),
    ("x-y-z.tif", ["x", "y", "z"]),
]


@pytest.mark.parametrize(("name", "values"), SPLITS)
def test_real_looking_names_split_as_expected(name, values):
    settings = ParserSettings(separators=("_", "-"))
    assert [v for _, v in parsing.pairs_for(name, settings)] == values
    # The suggested regex carries the same protection.
    regex = ParserSettings(mode="regex", regex=parsing.separators_regex(["_", "-"]))
    assert parsing.parse_names([name], regex)[0][1] == values


@pytest.mark.parametrize("builder", [
    lambda n: "1," * n + "x.tif", lambda n: "a-" * n, lambda n: "1-" * n, lambda n: "-" * n,
    lambda n: "Ab1_" * n + "-x", lambda n: "anti-" * n, lambda n: "IL-2_" * n,
    lambda n: "x" * (4 * n) + "-y",
])
def test_hyphen_protection_is_linear(builder):
    # Relative costs only: four times the text may cost at most about four times the time.
    def cost(n):
        text = builder(n)
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            hyphens.protect(text)
            best = min(best, time.process_time() - started)
        return best

    small, large = cost(4_000), cost(16_000)
    assert large < 8 * max(small, 1e-4), (small, large)


def test_names_are_cleaned_before_splitting():
    settings = ParserSettings(separators=("_",))
    assert parsing.split_values("P1\u2060_Hela\u200b_\u00ad3B ", settings) == ["P1", "Hela", "3B"]
    assert parsing.pairs_for("\ufeffA01_ 3B _c1\u00a0.tif", settings) == [
        ("Project number", "A01"), ("Sample type", "3B"), ("Substrate", "c1")]
    assert parsing.filename_base("a\tb\x00c.tif") == "a bc"


def test_length_and_count_limits():
    settings = ParserSettings()
    long_name = "a_" * parsing.MAX_FILENAME_LENGTH
    [row] = parsing.preview([long_name], settings)
    assert row["values"] == [] and "longer than 1,000 characters" in row["error"]
    assert parsing.pairs_for(long_name, settings) == []
    with pytest.raises(ParseError, match="at most 100,000 names"):
        parsing.parse_names(["a"] * (parsing.MAX_BATCH + 1), settings)


SEPARATOR_SETS = [("_",), ("-",), ("_", "-"), ("_", "-", "."), ("__",), ("__", "-"),
                  ("_", " "), ("_", "-", ".", " ", "__")]


def _generated_name(rng):
    words = ["H2B-GFP", "T-cell", "2017-05-31", "Nup107", "IL-2", "cell-1", "A01", "1,4-dioxane",
             "anti-GFP", "x", "3B ", " pos 2", "Z-stack", "01", "wild-type", "p-ERK", "a.b"]
    seps = ["_", "-", ".", " ", "__", "_-", "--"]
    parts = [rng.choice(words) for _ in range(rng.randint(1, 7))]
    return "".join(p + rng.choice(seps) for p in parts[:-1]) + parts[-1] + rng.choice(
        [".tif", ".ome.tif", ""])


@pytest.mark.parametrize("separators", SEPARATOR_SETS)
@pytest.mark.parametrize("protect", [True, False])
def test_separators_mode_and_suggested_regex_agree(separators, protect):
    rng = random.Random(f"{separators}{protect}")  # a reproducible corpus
    names = [_generated_name(rng) for _ in range(2_000)]
    by_separators = ParserSettings(separators=separators, protect_hyphens=protect)
    by_regex = ParserSettings(mode="regex", regex=parsing.separators_regex(separators),
                              protect_hyphens=protect)
    assert parsing.parse_names(names, by_separators) == parsing.parse_names(names, by_regex)


# Free separator characters (the original's box took any characters; each splits, runs of
# them count once).
@pytest.mark.parametrize("sep", ["+", ",", ";", "~", "/", "|", "·", "\u2013", "\uff0f", "🙂",
                                 "x", "7", "]", "[", "\\", "^", "$", "(", "*", "?", "{", "\"",
                                 "'", "#"])
def test_any_visible_character_is_a_separator(sep):
    settings = ParserSettings.from_dict({"separators": [sep], "protect_hyphens": False})
    values = ["P1", "HeLa", "T-cell", "pos3"]
    if sep in "x7":
        values = ["P1", "HeLa", "T-cell", "pos"]  # no x or 7 inside the values
    assert parsing.split_values(sep.join(values), settings) == values


def test_several_typed_characters_and_runs_of_them():
    settings = ParserSettings.from_dict({"separators": ["_", *"+,;"]})
    assert parsing.split_values("P1+,HeLa;;glass_pos3", settings) == ["P1", "HeLa", "glass",
                                                                       "pos3"]
    # The page sends ticks and typed characters together; repeats are dropped.
    assert ParserSettings.from_dict({"separators": ["_", "+", "_", "+"]}).separators == (
        "_", "+")


def test_a_typed_separator_ends_a_word_for_hyphen_protection():
    settings = ParserSettings.from_dict({"separators": ["+", "-"]})
    assert parsing.split_values("P1+HeLa+H2B-GFP+plate-3", settings) == [
        "P1", "HeLa", "H2B-GFP", "plate", "3"]


SEPARATOR_ALPHABET = "_-. +,;~|·ab1[]\\^$"


@settings(max_examples=300, deadline=None)
@given(seps=st.lists(st.text(SEPARATOR_ALPHABET, min_size=1, max_size=3), min_size=1,
                     max_size=parsing.MAX_SEPARATORS, unique=True),
       base=st.text(SEPARATOR_ALPHABET + "cdXY", max_size=60))
def test_separators_split_like_a_longest_first_regex(seps, base):
    """Any set (one character or a few, many of them: the translate path) splits like
    re.split on their escaped alternation, longest first, with empty pieces dropped."""
    settings = ParserSettings(separators=tuple(seps), protect_hyphens=False)
    reference = re.compile("|".join(re.escape(s) for s in sorted(seps, key=len, reverse=True)))
    cleaned = parsing.clean(base)
    expected = [p.strip() for p in reference.split(cleaned) if p.strip()][:parsing.MAX_VARIABLES]
    assert parsing.split_values(base, settings) == expected


@pytest.mark.parametrize("bad, sentence", [
    ([], "Choose at least one separator character"),
    ("_-", "Separators must be a list of characters"),
    ([""], "Each separator must be one or more characters"),
    ([5], "Each separator must be one or more characters"),
    (["_" * 9], "at most 8 characters"),
    ([chr(0x1000 + i) for i in range(65)], "At most 64 separators"),
    (["\t"], "invisible or control character (U+0009)"),
    (["\x00"], "invisible or control character (U+0000)"),
    (["\u200b"], "invisible or control character (U+200B)"),
    (["a\u2060"], "invisible or control character (U+2060)"),
    (["\ud800"], "invisible or control character (U+D800)"),
    (["\ua78f"], "the parser uses it for protected hyphens"),
])
def test_bad_separators_are_refused_with_a_sentence(bad, sentence):
    with pytest.raises(ParseError, match=re.escape(sentence)):
        ParserSettings.from_dict({"separators": bad})
