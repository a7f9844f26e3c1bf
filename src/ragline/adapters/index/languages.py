"""The language of a document, and how keyword search treats each language.

A document's language is detected once at ingestion (langdetect, seeded, profiles shipped in
the package) and stored with the document and each of its chunks as an ISO 639-1 code.
PostgreSQL computes `chunks.tsv` with the matching text-search configuration (migration 0013);
SQLite's FTS5 has only the porter stemmer, so a chunk in a language with a Snowball stemmer here
is indexed through a copy of its words, each stemmed and tagged with the language
(`zzdedatei`): it matches only a query stemmed the same way, and English text keeps porter as
before. A language without its own entry is searched unstemmed in PostgreSQL ('simple') and as
English text in SQLite; an uncertain detection (a short or mixed text) counts as English.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ragline.adapters.index.stopwords import ENGLISH, FRENCH, GERMAN, SPANISH

DEFAULT = "en"
MIN_LETTERS = 40  # below this langdetect guesses ("Kubernetes" is German to it)
MIN_PROBABILITY = 0.8
SAMPLE_CHARS = 8000  # langdetect reads 10,000 at most
TAG = "zz"  # no word starts with it, hex digests included
_TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1
    ts_config: str  # PostgreSQL text-search configuration
    stemmer: str | None  # Snowball algorithm of SQLite's copy; None: the text as is, porter
    stopwords: frozenset[str]


LANGUAGES = {
    "en": Language("en", "english", None, ENGLISH),
    "de": Language("de", "german", "german", GERMAN),
    "fr": Language("fr", "french", "french", FRENCH),
    "es": Language("es", "spanish", "spanish", SPANISH),
}


def language(code: str | None) -> Language:
    """The entry for a code; any other language is searched unstemmed, with English stop
    words (what every document got before languages were told apart)."""
    if code is None:
        return LANGUAGES[DEFAULT]
    return LANGUAGES.get(code) or Language(code, "simple", None, ENGLISH)


def stemmed_in_python(code: str) -> bool:
    """Whether SQLite indexes chunks in this language through `fts_copy`."""
    return language(code).stemmer is not None


_factory: Any = None
_factory_lock = threading.Lock()


def _detectors() -> Any:
    """langdetect's profiles, loaded once into a factory of our own (the module-level one is
    shared with whatever else imports langdetect, seed included)."""
    global _factory
    with _factory_lock:
        if _factory is None:
            from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

            factory = DetectorFactory()
            factory.load_profile(PROFILES_DIRECTORY)
            factory.set_seed(0)  # langdetect samples n-grams at random: same text, same answer
            _factory = factory
        return _factory


def detect_language(text: str) -> str:
    """Blocking (a few milliseconds): the ISO 639-1 code of the text's language, `DEFAULT`
    when the text is too short or the best guess is not clearly ahead."""
    from langdetect.lang_detect_exception import LangDetectException

    sample = text[:SAMPLE_CHARS]
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return DEFAULT
    detector = _detectors().create()
    detector.append(sample)
    try:
        ranked = detector.get_probabilities()
    except LangDetectException:  # no letters it knows
        return DEFAULT
    if not ranked or ranked[0].prob < MIN_PROBABILITY:
        return DEFAULT
    return str(ranked[0].lang).split("-")[0]  # zh-cn, zh-tw: zh


_stemmers = threading.local()  # a Snowball stemmer keeps its word in itself: one per thread


@lru_cache(maxsize=1 << 16)
def stem(algorithm: str, word: str) -> str:
    by_name: dict[str, Any] | None = getattr(_stemmers, "by_name", None)
    if by_name is None:
        by_name = _stemmers.by_name = {}
    stemmer = by_name.get(algorithm)
    if stemmer is None:
        import snowballstemmer

        stemmer = by_name[algorithm] = snowballstemmer.stemmer(algorithm)
    return str(stemmer.stemWord(word))


def words(text: str) -> list[str]:
    """Lower-cased words as FTS5's tokenizer splits them (`_` and `.` separate)."""
    return _TOKEN.findall(text.lower().replace("_", " "))


def fts_copy(code: str, text: str | None) -> str | None:
    """What SQLite's FTS5 indexes for text in this language: None (the text itself, porter)
    unless the language has a stemmer; else each word stemmed and tagged with the language."""
    entry = language(code)
    if entry.stemmer is None or text is None:
        return None
    algorithm = entry.stemmer
    return " ".join(f"{TAG}{entry.code}{stem(algorithm, w)}" for w in words(text))


def fts_term(code: str, term: str) -> str:
    """A query term as `fts_copy` wrote it for chunks in this language (a dotted name's parts
    in a row, as FTS5 matches a quoted phrase)."""
    return fts_copy(code, term) or term
