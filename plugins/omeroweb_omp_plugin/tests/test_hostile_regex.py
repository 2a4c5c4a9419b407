"""Hostile regexes through the preview route: never a 500, every refusal a sentence, CPU time
per request bounded, and the worker's memory growth bounded."""

import itertools
import json
import random
import time

import pytest
from django.core.cache import caches
from django.test import Client

from omeroweb_omp_plugin.config import omp_settings

PREFIX = "/omeroweb_omp_plugin/"
COUNTS = [2, 10, 300, 1000, 1001, 65535, 4294967295, 10**20]
ATOMS = ["a", ".", r"\w", "[ab]", "(a|aa)", "(a+)", r"\1", "(?=a)", "(?<=a)", "(?!b)", r"\b"]
QUANTIFIERS = ["*", "+", "?", "*?", "++", "{300}", "{1000}", "{300 }", "{ 1000 }", "{2,}",
               "{0,1001}", "{e<=3}"]
TIME_LIMIT = 0.3


def _nested(rng: random.Random, depth: int) -> str:
    if depth == 0:
        return rng.choice(ATOMS)
    inner = "".join(_nested(rng, depth - 1) for _ in range(rng.randint(1, 2)))
    return f"(?:{inner}){rng.choice(QUANTIFIERS)}"


def hostile_patterns() -> list[str]:
    patterns = []
    for a, b in itertools.product(COUNTS, repeat=2):
        patterns += [f"(?:a{{{a}}}){{{b}}}", f"(?x)(?:a{{{a} }}){{{b} }}", f"a{{{a},{b}}}"]
    for a, b, c in itertools.product([10, 300, 1000], repeat=3):
        patterns += [f"(?:(?:a{{{a}}}){{{b}}}){{{c}}}",
                     f"(?x)(?:(?:a{{{a} }}){{{b} }}){{{c} }}",
                     f"(?x)(?: (?: a {{{a}}} ) {{{b}}} ) {{{c}}}",
                     f"(?x)(?:(?:a{{{a}}}#c\n){{{b}}}){{{c}}}"]
    patterns += [
        "(a|aa)+$", "(a+)+$", "(a*)*b", "(.*a){20}", r"^(\w+\s?)*$", "((((a*)*)*)*)*$",
        "(?=(a+)+$)a", "(?<=a{5})b", "(?<!(a|aa)+)b", "(?=a)(?!b)(?<=c)(?<!d)", "(?=(a|aa)+$)",
        r"(a)\1", r"(?P<x>a)(?P=x)", r"(a*)*\1", "(?(1)a|b)", "(a)(?(1)a|b)",
        "(?:a{1,300}){e<=50}", "(?e)(a+){e<=3}", "(?:abc){i<=2,d<=2}", "(?b)(a+){e<=9}",
        "(?R)", "(?1)(a)", "(?&x)(?P<x>a)", r"\L<names>", r"\N{LATIN SMALL LETTER A}{1000}",
        "a{1000}" * 30, "(" * 100 + "a" + ")" * 100, "(" * 300, "[" * 50, "a" * 301, "",
        "(?x)" + " " * 290 + "a", "(?i)[a-z]{1000}", r"\p{L}{1000}", "(?V1)a++",
        "a{,1000000}", "a{1000000,}", "(?:(?:(?:(?:a{4}){4}){4}){4}){4}", "\x00", "(?",
    ]
    rng = random.Random(18)  # a reproducible set of random nestings
    patterns += [("(?x)" if rng.random() < 0.3 else "") + _nested(rng, rng.randint(1, 4))
                 for _ in range(150)]
    return patterns


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(field)


@pytest.fixture
def short_limit(monkeypatch):
    monkeypatch.setenv("OMP_REGEX_TIME_LIMIT_SECONDS", str(TIME_LIMIT))
    omp_settings.cache_clear()
    yield
    omp_settings.cache_clear()


def test_hostile_patterns_are_refused_or_bounded_never_a_500(lab, login_as, short_limit):
    for name in ("a" * 900 + "b.tif", "ab" * 400 + ".tif", "a_" * 300 + ".tif"):
        lab.omero.add_image(name, owner=lab.alice, group=lab.lab, dataset=lab.dataset)
    client = Client()
    login_as(lab.omero.connect("alice"))
    patterns = hostile_patterns()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # resets the peak (VmHWM) to the current size
    start_kib = _status_kib("VmRSS")
    outcomes: dict[int, int] = {}
    slowest = 0.0
    for pattern in patterns:
        caches["default"].clear()  # the rate limit
        started = time.process_time()
        response = client.post(PREFIX + "preview/", content_type="application/json",
                               data=json.dumps({"dataset_ids": [lab.dataset.id],
                                                "parser": {"mode": "regex", "regex": pattern}}))
        slowest = max(slowest, time.process_time() - started)
        outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1
        assert response.status_code in (200, 400), (pattern, response.content[:300])
        if response.status_code == 400:
            message = response.json()["error"]["message"]
            assert message and message[0].islower() and " " in message, (pattern, message)
    growth_mib = (_status_kib("VmHWM") - start_kib) / 1024
    print(f"\n{len(patterns)} hostile patterns: {outcomes}; slowest request "
          f"{slowest:.2f} s CPU; peak memory growth {growth_mib:.1f} MiB")
    assert outcomes.get(400, 0) > len(patterns) // 3 and outcomes.get(200, 0) > 0
    # Request overhead is milliseconds; the limit applies to parsing, plus the compile.
    assert slowest < TIME_LIMIT + 1.5
    assert growth_mib < 64


@pytest.mark.parametrize(("pattern", "words"), [
    ("(?:a{1000}){1000}", "repeat counts"),
    ("(?x)(?: (?: a {30} ) {30} ) {30}", "repeat counts"),
    ("a{1000}" * 20, "too large"),
    (r"(a)\1", "backreferences"),
    ("(a)(?(1)a|b)", "conditional"),
    ("a{99999999999}", "too large"),
    ("a{4294967295}", "too large"),
    ("(a)" * 21, "more than 20 groups"),
    ("(?:a" * 40 + ")*" * 40, "nested too deeply"),
])
def test_refusals_say_why(lab, login_as, pattern, words):
    client = Client()
    login_as(lab.omero.connect("alice"))
    caches["default"].clear()
    response = client.post(PREFIX + "preview/", content_type="application/json",
                           data=json.dumps({"dataset_ids": [lab.dataset.id],
                                            "parser": {"mode": "regex", "regex": pattern}}))
    assert response.status_code == 400
    assert words in response.json()["error"]["message"]
