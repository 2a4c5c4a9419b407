"""Which hyphens in a filename belong to a scientific term (kept) and which separate values.

One pass over the name: each hyphen is judged from the word on its left and the word on its
right (a word ends at `_`, `.`, a space or another hyphen), with set lookups and string
tests, so the cost is linear in the name's length. The rules (also on the help page):

- fluorescent proteins, self-labelling tags and fluorochromes join their neighbour:
  H2B-GFP, Lifeact-mCherry, GFP-LC3, Halo-Actin, CD71-APC, PE-Cy7, unless that is a number
  or an id of one letter and a number (A01-GFP, GFP-t4 are split);
- prefixes join what follows: anti-GFP, wild-type, co-culture, alpha-tubulin, beta-actin;
- fixed terms: T-cell, Z-stack, max-projection, x-axis, 488nm-laser, 63x-oil, p-value,
  t-test, N-terminus, E-cadherin, F-actin, Rab5-KO, GFP-positive; TNF-alpha after a gene;
- a single letter before a lower-case word: N-acetylcysteine, D-glucose, L-glutamine;
  c-Myc, p-ERK, v-Src;
- gene and protein names: IL-2, PD-L1, Ki-67, Bcl-2, HLA-DR, GM-CSF, NF-kB, TER-119, Sca-1;
- chemical locants: 2-propanol, 1,4-dioxane, and 5-HT, 4-OHT, 6-OHDA, 2-DG, 5-FU ...
Never kept: a hyphen between two numbers (dates such as 2017-05-31, ranges), after a
number that is not a locant (160701-Nup107, 01-HeLa, 31-Ter119+), plate and well ids
(Plate1-A01, A-01), label and number (cell-1, t-6).
"""

from __future__ import annotations

import functools
import re

# Stands in for a kept hyphen while a name is split: a letter (so `\w` and `[^_-]` keep it
# inside a value in regex mode too) that no filename uses. Names containing it are not
# protected.
KEPT = "\ua78f"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_TAGS = _words("""
gfp egfp sfgfp mgfp agfp emgfp pagfp rfp mrfp tagrfp yfp eyfp cfp ecfp bfp ebfp tagbfp
mcherry cherry tdtomato tomato mtomato mscarlet mneongreen neongreen mvenus venus mcitrine
citrine mkate mkate2 morange morange2 mturquoise mturquoise2 dendra dendra2 meos meos2
meos3 mapple mruby mruby2 mruby3 emerald azurite cerulean mcerulean irfp mmaple dronpa
halo halotag snap snaptag clip cliptag luciferase nluc mclover clover
fitc pe apc percp cy3 cy5 cy7 af405 af488 af555 af568 af594 af647 alexa488 alexa568
alexa594 alexa647 bv421 bv510 bv605 bv711 pacblue
""")
_PREFIXES = _words("""
anti non pre post co re sub multi wild semi self cross knock double triple over under mono
di tri bi poly pan cis trans tert sec iso neo ortho meta para alpha beta gamma delta kappa
epsilon lambda sigma omega
""")
_GREEK = _words("alpha beta gamma delta kappa epsilon lambda sigma omega")
_AFTER_WORD = _words("""
ko kd oe wt null flox floxed mutant mutants deficient type treated positive negative like
dependent induced derived specific labeled labelled tagged tag expressing
""")
_STACKS = _words("stack stacks series projection projections plane planes slice slices")
_STACK_LEFT = _words("max min mean sum avg time")
_AXES = _words("axis position shift scan drift")
_CELLS = _words("cell cells lymphocyte lymphocytes")
_CELL_LEFT = _words("t b nk nkt")
_OPTICS = _words("laser line excitation emission")
_LENSES = _words("objective lens oil water glycerol silicone")
_STATS = {"test": _words("t u f z chi"), "value": _words("p q"),
          "values": _words("p q"), "terminus": _words("n c"),
          "terminal": _words("n c"), "termini": _words("n c")}
_SHORT_PROTEINS = _words("cadherin cadherins actin tubulin catenin")
_GENES = _words("""
il pd ki bcl mcl oct sox hif igf tgf ifn tnf nf hla mhc gm cox mmp icam vcam pecam lamp her
ter sca thy ly gr mac tra ssea map nrf hsp vegf ang pdgf fgf bmp cas hdac sirt atg klf pax
nkx runx gata foxp cxcr ccr tlr jak stat erk mek ppar
""")
_COMPOUNDS = _words("""
5-ht 4-oht 6-ohda 2-dg 5-fu 2-nbdg 3-ma 17-aag 5-ala 4-hne 7-aad 8-ohdg 5-mc 5-hmc 2-apb
4-ap 6-tg 5-aza 5-edu 6-mp
""")
_CHEM_SUFFIXES = ("ol", "ane", "ene", "yne", "one", "al", "ide", "ate", "ite", "ine", "ose",
                  "yl", "oic", "ium", "ether", "amide", "acid", "oyl")
_CHEM_PREFIXES = ("methyl", "ethyl", "propyl", "butyl", "hydroxy", "amino", "chloro", "bromo",
                  "fluoro", "iodo", "nitro", "oxo", "deoxy", "dimethyl", "methoxy", "phenyl",
                  "acetyl", "di", "tri", "tetra")
_NOT_CHEMICAL = _words("control controls protocol")
_LOCANT_DIGITS = frozenset("0123456789,")


def _is_locant(word: str) -> bool:
    """1, 2, 1,4, 1,2,3: numbers of at most two digits, comma-separated."""
    return (len(word) <= 8 and set(word) <= _LOCANT_DIGITS and word[0] != ","
            and word[-1] != "," and all(0 < len(n) <= 2 for n in word.split(",")))


def _chemical(word: str, comma: bool) -> bool:
    return (word.isalpha() and word.islower() and len(word) >= 4
            and word not in _NOT_CHEMICAL
            and (comma or word.endswith(_CHEM_SUFFIXES) or word.startswith(_CHEM_PREFIXES)))


_TAG, _PREFIX, _GENE = "tag", "prefix", "gene"
_LEFT = {**{w: _GENE for w in _GENES}, **{w: _PREFIX for w in _PREFIXES},
         **{w: _TAG for w in _TAGS}}


def _nm(lo: str) -> bool:
    return lo.endswith("nm") and lo[:-2].isdigit()  # 488nm-laser


def _magnification(lo: str) -> bool:
    return lo.endswith("x") and lo[:-1].isdigit()  # 63x-oil


def _has_letter(lo: str) -> bool:
    return not lo.isdigit()


def _is_id(word: str) -> bool:
    """A number, or one letter and a number: a well, field, channel or time point (A01,
    f03, c2, t6), which a tag next to it does not join."""
    return word.isdigit() or (word[1:].isdigit() and word[0].isalpha())


# right word (lower case) → test of the left word (lower case)
_RIGHT = {
    **{w: _has_letter for w in _AFTER_WORD},
    **{w: _GENES.__contains__ for w in _GREEK},  # TNF-alpha, IFN-gamma, PPAR-gamma
    **{w: (lambda lo: not _is_id(lo)) for w in _TAGS},
    **{w: (lambda lo: len(lo) == 1 or lo in _STACK_LEFT) for w in _STACKS},
    **{w: (lambda lo: lo in ("x", "y", "z", "t")) for w in _AXES},
    **{w: _CELL_LEFT.__contains__ for w in _CELLS},
    **{w: _nm for w in _OPTICS},
    **{w: _magnification for w in _LENSES},
    **{w: lefts.__contains__ for w, lefts in _STATS.items()},
    **{w: (lambda lo: lo.isalpha() and len(lo) <= 2) for w in _SHORT_PROTEINS},
}


def keeps(left: str, right: str, after_number: bool) -> bool:
    """Whether the hyphen between these two words is part of a term. `after_number`: a
    number and a hyphen come before the left word (a chain such as a date: 2017-05-31-x)."""
    if not left or not right:
        return False
    if left[0].isdigit() and (left.isdigit() or "," in left):  # 488nm, 63x go on below
        if right.isdigit():
            return False  # dates, ranges, numeric ids
        lo, ro = left.lower(), right.lower()
        if lo + "-" + ro in _COMPOUNDS or (lo == "5" and ro.startswith("ht")
                                           and ro[2:].isalnum()):
            return True
        return (not after_number and _is_locant(left)
                and _chemical(right, "," in left))
    lo = left.lower()
    kind = _LEFT.get(lo)
    if right.isdigit():
        return kind is _GENE and len(right) <= 5  # IL-2, Ki-67; not cell-1, t-6
    if kind is _TAG:
        return not _is_id(right)
    if kind is _PREFIX and right[0].isalpha():
        return True
    test = _RIGHT.get(right.lower())
    if test is not None:
        return test(lo)
    if len(left) == 1 and left.isalpha():
        if right.isalpha() and right.islower() and len(right) >= 3:
            return True  # N-acetylcysteine, D-glucose, S-phase
        return left in "cvp" and right[0].isupper()  # c-Myc, v-Src, p-ERK
    return kind is _GENE and len(right) <= 5 and right.isalnum()  # PD-L1, HLA-DR, GM-CSF


DELIMITERS = "-_. "  # where words end
_WORDS = re.compile(r"([-_. ])")  # a single-character class: re splits in linear time


@functools.lru_cache(maxsize=64)
def _word_splitter(delimiters: str) -> re.Pattern:
    """The word splitter when other characters (the user's separators) end words too."""
    return re.compile("([" + re.escape(DELIMITERS + delimiters) + "])")


def protect(text: str, delimiters: str = "") -> str:
    """`text` with each kept hyphen replaced by KEPT (restore with .replace(KEPT, "-")).
    Words end at - _ . space and at each character of `delimiters`."""
    if "-" not in text or KEPT in text:
        return text
    words = _word_splitter(delimiters) if delimiters else _WORDS
    parts = words.split(text)  # word, delimiter, word, delimiter, ..., word
    for i in range(1, len(parts), 2):
        if parts[i] == "-" and keeps(parts[i - 1], parts[i + 1],
                                     i > 2 and parts[i - 2] == "-" and parts[i - 3].isdigit()):
            parts[i] = KEPT
    return "".join(parts)
