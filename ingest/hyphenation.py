"""Line-end hyphens: tell a syllable split (ин-/новациялык) from a real compound (оқу-/әдістемелік).

The decision weighs evidence from the document itself (does the joined word or the hyphenated compound occur
elsewhere, are both halves words of their own) against a few rules of Kazakh, Kyrgyz and Russian spelling.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, field

_LETTERS = r"[^\W\d_]"
_TOKEN = re.compile(rf"{_LETTERS}+(?:-{_LETTERS}+)*")
# A word broken at a line end: the fragment, the hyphen, the line break (and blank lines), the next fragment.
_BROKEN = re.compile(rf"{_LETTERS}+-[ \t]*\n\s*{_LETTERS}+")

# First parts of Kazakh/Kyrgyz/Russian compounds written with a hyphen
# (оқу-әдістемелік, іс-тәжірибе, иш-аракет, ата-ана, мастер-класс). Lower case.
COMPOUND_HEADS = frozenset(
    """оқу іс иш ата ана өз өзін өзүн бір бири бір-бір ой аң жүрүм жүріс ғылыми илимий сын күн түн ақ ала
    ақыл-ой қарым мекен өмір ұйым шебер жоба мастер бизнес интернет веб онлайн он-лайн офлайн вице экс
    медиа пресс кейс блиц арт видео аудио топ web e""".split()
)
# Endings of Russian compound-adjective first parts: учебно-, научно-, социально-, поисково-, практико-.
_RU_ADJ_HEAD = re.compile(r"(?:[нскв]о|[жчшщ]е)$")
# Endings of Kazakh/Kyrgyz adjectives that head compounds: ұйымдастырушылық-, нормативтік-, ғылыми-.
_TURKIC_ADJ_HEAD = re.compile(r"(?:[лдт][ыіу][қкг]|[лдт][үө]к|[лдт][ыі]|луу|лүү|дуу|дүү|туу|түү|ми|мий)$")
# Fragments that only ever start the second half of a split word (suffixes), never a word of their own.
_SUFFIX_START = re.compile(
    r"^(?:ност|ств|ци[яи]|ни[еяюй]|тель|ськ|ческ|ск[аиоу]|лық|лік|лык|лик|лүк|дық|дік|дык|дүк|тық|тік|тык"
    r"|тар|тер|лар|лер|дар|дер|ның|нің|нын|нин|нун|нүн|ган|ген|ған|ген|қан|кен|ый|ий|ой|ая|яя|ое|ее|ых|их|ым|им"
    r"|ого|его|ому|ему|ую|юю|ь|ъ|ы|ң)"
)
# Whole short endings that are never words of their own: "турган-/дай", "аналог-/дун".
_SHORT_ENDINGS = frozenset(
    """дай дей тай тей дың дің тың тің ның нің дын дин тын тин нын нин дун дүн тун түн нун нүн
    дан ден тан тен нан нен дар дер тар тер лар лер дор дөр тор төр лор лөр ган ген кан кен қан ған
    гон гөн кон көн луу лүү дуу дүү туу түү сыз сіз суз сүз ого его ому ему ыми ими ной ный ная ное
    ных ным ния ние ций ция ции""".split()
)
# Russian particles and prefixes that keep their hyphen: "чего-/либо", "кое-/где".
_RU_PARTICLES = frozenset({"либо", "нибудь", "то", "ка", "таки"})


@dataclass
class Vocabulary:
    """Word and hyphenated-compound counts of one document, for hyphenation decisions."""

    words: Counter[str] = field(default_factory=Counter)
    compounds: Counter[str] = field(default_factory=Counter)
    _sorted_words: list[str] = field(default_factory=list)
    _sorted_compounds: list[str] = field(default_factory=list)

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        """Count the words and hyphenated compounds of `text`, leaving out fragments broken at line ends."""
        vocab = cls()
        clean = _BROKEN.sub(" ", text)
        for token in _TOKEN.findall(clean):
            token = token.lower()
            if "-" in token:
                parts = token.split("-")
                for left, right in zip(parts, parts[1:], strict=False):
                    vocab.compounds[f"{left}-{right}"] += 1
                for part in parts:
                    vocab.words[part] += 0  # known as a part, but not as a free-standing word
            else:
                vocab.words[token] += 1
        vocab._sorted_words = sorted(w for w, n in vocab.words.items() if n)
        vocab._sorted_compounds = sorted(vocab.compounds)
        return vocab

    def has_word(self, word: str) -> bool:
        """Whether `word` occurs on its own (not only inside a compound)."""
        return self.words.get(word.lower(), 0) > 0

    def has_word_prefix(self, prefix: str) -> bool:
        """Whether some free-standing word starts with `prefix`."""
        return _has_prefix(self._sorted_words, prefix.lower())

    def has_compound_prefix(self, prefix: str) -> bool:
        """Whether some hyphenated compound starts with `prefix` (which contains the hyphen)."""
        return _has_prefix(self._sorted_compounds, prefix.lower())


def _has_prefix(items: list[str], prefix: str) -> bool:
    i = bisect.bisect_left(items, prefix)
    return i < len(items) and items[i].startswith(prefix)


def keep_hyphen(left: str, right: str, vocab: Vocabulary) -> bool:
    """Whether `left`-/`right`, broken at a line end, is a compound (keep the hyphen) rather than a split."""
    head = left.rsplit("-", 1)[-1]
    if not head or not right:
        return True
    if not head.isalpha() or not right.isalpha():
        return True  # numbers, codes: "2011-/2020", "COVID-/19"
    low_head, low_right = head.lower(), right.lower()
    if low_right in _RU_PARTICLES or low_head == "кое":
        return True
    joined, hyphenated = low_head + low_right, f"{low_head}-{low_right}"

    # 1. The document itself: the exact joined word or the exact compound elsewhere.
    n_joined = vocab.words.get(joined, 0)
    n_hyph = vocab.compounds.get(hyphenated, 0)
    if n_joined != n_hyph:
        return n_hyph > n_joined

    # 2. Weigh the weaker evidence.
    hyphen = join = 0.0
    stem = min(len(low_right), 4)
    if vocab.has_word_prefix(joined[: len(low_head) + stem]) and len(low_right) >= 3:
        join += 2
    if vocab.has_compound_prefix(hyphenated[: len(low_head) + 1 + stem]):
        hyphen += 2
    if right[0].isupper() and not head.isupper():
        hyphen += 3  # "Кан-/Калик", "Орта-/Азия"
    if low_head in COMPOUND_HEADS:
        hyphen += 2
    if len(low_head) >= 5 and len(low_right) >= 4 and _RU_ADJ_HEAD.search(low_head):
        hyphen += 2  # учебно-/воспитательного
    if len(low_head) >= 5 and len(low_right) >= 4 and _TURKIC_ADJ_HEAD.search(low_head):
        hyphen += 1.5
    if vocab.has_word(low_head) and len(low_head) >= 3:
        hyphen += 1
    if len(low_right) >= 3 and vocab.has_word_prefix(low_right[:4]):
        hyphen += 1
    if len(low_right) <= 2 or low_right in _SHORT_ENDINGS:
        join += 3  # a bare ending: "образовательно-/го", "Педагогика-/да"
    if _SUFFIX_START.match(low_right):
        join += 2
    if len(low_head) <= 2 and low_head not in COMPOUND_HEADS:
        join += 1.5  # "пе-/дагог", "ин-/новация"
    join += 1  # most line-end hyphens in extracted text are syllable splits
    return hyphen > join
