"""Lexical analysis for a BM25 / full-text index over Kazakh, Kyrgyz and Russian text.

`normalise` puts text in one canonical form (NFC, case-folded, Latin ə → ә, ё → е, Latin lookalikes inside
Cyrillic words made Cyrillic, punctuation gone); `analyse(text, lang)` turns it into index terms with one of
three schemes, compared on our queries by `bench/eval_bench.py`:

- "plain": the normalised words;
- "stem": a light stemmer per language: Snowball for Russian; for Kazakh and Kyrgyz, case, possessive and plural
  endings (and the -лық/-лык noun/adjective ending) are stripped iteratively, longest first, where the sound rules
  let the ending follow what is left (н- and с- endings after a vowel, most д-/т- ones after a consonant), while
  at least MIN_STEM letters with a vowel remain, and a final б/г/ғ is devoiced (мектебі → мектеп, педагог →
  педагок);
- "prefix": the first PREFIX_LEN letters of every word, a language-blind stand-in for a stemmer (a word with a
  digit, a number or "тақырып3", is kept whole). It is the default: on corpus/eval it beat plain words and longer
  prefixes and tied with "stem" (corpus/eval/README.md).

Words in other languages (English names, "und") keep their normalised form under "stem". `fold=True` first maps
the Kazakh and Kyrgyz letters to their nearest Russian ones (ә→а, ғ→г, қ→к, ң→н, ө→о, ұ→у, ү→у, і→и, һ→х), so
cognates spelled differently in the two languages meet (мұғалім and мугалим → мугалим). `index_terms` is what the
lexical index stores and searches: folded 4-letter prefixes (docs/retrieval.md has the comparison); `ANALYZER`
names it, so a store built with another analysis is rebuilt.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import snowballstemmer

from ingest.script import fix_mixed_script

SCHEMES: tuple[str, ...] = ("plain", "stem", "prefix")
DEFAULT_SCHEME = "prefix"
ANALYZER = "prefix4-fold/1"  # the analysis of index_terms; a store whose lexical index used another is rebuilt
MIN_STEM = 4
MIN_RUSSIAN_STEM = 3  # Snowball cuts опыт to оп; shorter stems keep the word
PREFIX_LEN = 4
MAX_STRIPS = 4

_FOLD = str.maketrans({"ə": "ә", "ё": "е", "\u00ad": None, "\u0301": None})
_NON_WORD = re.compile(r"[\W_]+")
_VOWELS = set("аәеиоөуұүыіэюя")
_TURKIC_FOLD = str.maketrans({"ә": "а", "ғ": "г", "қ": "к", "ң": "н", "ө": "о", "ұ": "у", "ү": "у", "і": "и",
                              "һ": "х"})


def _variants(*groups: str) -> tuple[str, ...]:
    """All suffixes of space-separated groups, longest first (so stripping is greedy)."""
    items = {suffix for group in groups for suffix in group.split()}
    return tuple(sorted(items, key=lambda s: (-len(s), s)))


# Kazakh: plural; possessive (1sg/2sg/3sg/1pl/2pl and 3sg + accusative -ын/-ін); genitive; dative; accusative;
# locative and its attributive form -дағы; ablative; instrumental; the -лық noun/adjective ending.
KAZAKH_SUFFIXES = _variants(
    "лар лер дар дер тар тер",
    "ым ім ың ің ы і сы сі ымыз іміз мыз міз ыңыз іңіз ңыз ңіз ын ін сын сін",
    "ның нің дың дің тың тің",
    "ға ге қа ке на не",
    "ны ні ды ді ты ті",
    "да де та те нда нде дағы дегі тағы тегі ндағы ндегі",
    "дан ден тан тен нан нен ндан нден",
    "мен бен пен менен бенен пенен",
    "лық лік дық дік тық тік",
)

# Kyrgyz: the same cases with four-way vowel harmony (ы/и/у/ү, а/е/о/ө).
KYRGYZ_SUFFIXES = _variants(
    "лар лер лор лөр дар дер дор дөр тар тер тор төр",
    "ым им ум үм ың иң уң үң ы и у ү сы си су сү ыбыз ибиз убуз үбүз быз биз буз бүз ыңыз иңиз уңуз үңүз",
    "ын ин ун үн сын син сун сүн",
    "нын нин нун нүн дын дин дун дүн тын тин тун түн",
    "га ге го гө ка ке ко кө на не но нө",
    "ны ни ну нү ды ди ду дү ты ти ту тү",
    "да де до дө та те то тө нда нде ндо ндө дагы деги догу дөгү тагы теги тогу төгү ндагы ндеги",
    "дан ден дон дөн тан тен тон төн нан нен нон нөн ндан нден ндон ндөн",
    "лык лик лук лүк дык дик дук дүк тык тик тук түк",
)

_SUFFIXES = {"kk": KAZAKH_SUFFIXES, "ky": KYRGYZ_SUFFIXES}
# Sound rules: endings in н- (genitive -ның, also after м/н/ң; accusative -ны; the cases after a possessive: -нан,
# -нда, -на) and the possessive -сы/-сі follow a vowel; т- endings follow a voiceless consonant (or a б/г/ғ that
# sounds voiceless: педагогтар); д- endings follow a voiced consonant or у/й (ойлауды), and the locative and
# ablative ones a vowel too (қалада, қаладан); a vowel-initial possessive (-ы, -ім) follows a consonant; the dative
# -қа/-ке a voiceless consonant and -ға/-ге anything else. So қызметінің is қызмет-і-нің, not қызме-ті-нің, and
# компоненти is компонент-и.
_VOICELESS = frozenset("пткқсшфхцчщ")
_AFTER_EITHER = frozenset("да де дағы дегі дан ден до дө дагы деги догу дөгү дон дөн".split())
_DEVOICE = {"б": "п", "г": "к", "ғ": "қ"}
_LOCAL = threading.local()  # Snowball stemmers keep state between calls: one per thread


def normalise(text: str) -> str:
    """Canonical text for indexing: NFC, Latin lookalikes fixed, case-folded, ə→ә, ё→е, words split by spaces."""
    text = fix_mixed_script(unicodedata.normalize("NFC", text))
    text = text.casefold().translate(_FOLD)
    return " ".join(_NON_WORD.split(text)).strip()


def words(text: str) -> list[str]:
    """The normalised words of `text`; one-letter words other than digits are dropped."""
    return [w for w in normalise(text).split() if len(w) > 1 or w.isdigit()]


def _devoice(stem: str) -> str:
    """Undo the voicing of a final consonant before a vowel-initial ending (мектебі → мектеп)."""
    return stem[:-1] + _DEVOICE[stem[-1]] if stem[-1] in _DEVOICE else stem


def _fits(suffix: str, rest: str) -> bool:
    """True when `suffix` can follow `rest` by the sound rules of Kazakh and Kyrgyz (see _AFTER_EITHER)."""
    last = rest[-1]
    if suffix in ("ның", "нің"):  # Kazakh genitive: after a vowel or м, н, ң (мұғалімнің)
        return last in _VOWELS or last in "мнң"
    if suffix[0] in "нс":
        return last in _VOWELS
    if suffix[0] in _VOWELS:  # a vowel-initial possessive follows a consonant (or у/й: оқуы)
        return last not in _VOWELS or last in "уй"
    if suffix[0] in "кқ":  # the dative -қа/-ке after a voiceless consonant, -ға/-ге elsewhere
        return last in _VOICELESS or last in _DEVOICE
    if suffix[0] in "гғ":
        return last not in _VOICELESS
    if suffix[0] == "т":
        return last in _VOICELESS or last in _DEVOICE
    if suffix[0] == "д":
        return last not in _VOICELESS and (suffix in _AFTER_EITHER or last not in _VOWELS or last in "уй")
    return True


def _strip_turkic(word: str, suffixes: tuple[str, ...]) -> str:
    """Strip case, possessive and plural endings from a Kazakh or Kyrgyz word, longest first, where they fit."""
    stem = _devoice(word)
    for _ in range(MAX_STRIPS):
        for suffix in suffixes:
            if stem.endswith(suffix):
                rest = stem[: -len(suffix)]
                if len(rest) >= MIN_STEM and any(ch in _VOWELS for ch in rest) and _fits(suffix, rest):
                    stem = _devoice(rest)
                    break
        else:
            break
    return stem


@lru_cache(maxsize=200_000)
def stem(word: str, lang: str) -> str:
    """The stem of one normalised word in `lang` (kk, ky, ru); other languages and numbers are left as they are."""
    if word.isdigit() or not any("\u0400" <= ch <= "\u04ff" for ch in word):
        return word
    if lang == "ru":
        russian = getattr(_LOCAL, "russian", None)
        if russian is None:
            russian = _LOCAL.russian = snowballstemmer.stemmer("russian")
        stemmed = str(russian.stemWord(word))
        return stemmed if len(stemmed) >= MIN_RUSSIAN_STEM else word
    suffixes = _SUFFIXES.get(lang)
    return _strip_turkic(word, suffixes) if suffixes else word


def word_key(word: str, lang: str) -> str:
    """The term one normalised word analyses to in `lang` when words are compared one by one (highlighting):
    its stem in that language with the Kazakh/Kyrgyz letters folded, so мұғалімдердің (kk) meets мугалим (ky)
    and учителей meets учителю (ru), while a Russian парах (пар) never meets a Kazakh парағы (парак)."""
    return fold_turkic(stem(word, lang))


def fold_turkic(word: str) -> str:
    """A normalised word with the Kazakh/Kyrgyz letters replaced by their nearest Russian ones."""
    return word.translate(_TURKIC_FOLD)


def analyse(text: str, lang: str, *, scheme: str = DEFAULT_SCHEME, prefix_len: int = PREFIX_LEN,
            fold: bool = False) -> list[str]:
    """Index terms of `text` in language `lang` under an analysis scheme ("plain", "stem" or "prefix")."""
    tokens = words(text)
    if scheme == "plain":
        terms = tokens
    elif scheme == "stem":
        terms = [stem(token, lang) for token in tokens]
    elif scheme == "prefix":
        terms = [token if any(ch.isdigit() for ch in token) else token[:prefix_len] for token in tokens]
    else:
        raise ValueError(f"unknown analysis scheme {scheme!r} (expected one of {', '.join(SCHEMES)})")
    return [fold_turkic(term) for term in terms] if fold else terms


def index_terms(text: str, lang: str = "") -> list[str]:
    """The terms the lexical index stores for a passage and searches for a query (see ANALYZER)."""
    return analyse(text, lang, scheme="prefix", prefix_len=PREFIX_LEN, fold=True)
