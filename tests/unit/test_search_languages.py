"""Keyword search per language, without a database: detection, Snowball stems for SQLite's
copy, and how a query is matched in each language of the scope."""

from __future__ import annotations

import importlib

import pytest

from ragline.adapters.index.keyword import (
    _fts5_forms,
    _groups,
    _words,
    content_terms,
    query_terms,
)
from ragline.adapters.index.languages import (
    DEFAULT,
    LANGUAGES,
    detect_language,
    fts_copy,
    fts_term,
    language,
)

GERMAN = ("Um Dateien zu löschen, öffnen Sie den Dateimanager, wählen Sie die Dateien aus und "
          "drücken Sie die Entfernen-Taste. Gelöschte Dateien landen im Papierkorb.")
FRENCH = ("Pour supprimer des fichiers, ouvrez le gestionnaire de fichiers, sélectionnez les "
          "fichiers et appuyez sur la touche Suppr. Les fichiers supprimés vont dans la corbeille.")
SPANISH = ("Para borrar archivos, abra el administrador de archivos, seleccione los archivos y "
           "pulse la tecla Suprimir. Los archivos borrados van a la papelera.")
ENGLISH = ("To delete files, open the file manager, select the files and press the Delete key. "
           "Deleted files go to the trash, where they stay for thirty days.")


@pytest.mark.parametrize(("text", "code"), [
    (GERMAN, "de"), (FRENCH, "fr"), (SPANISH, "es"), (ENGLISH, "en"),
])
def test_a_documents_language_is_detected(text: str, code: str) -> None:
    assert detect_language(text) == code


def test_detection_is_the_same_every_time() -> None:
    mixed = "Die Datei wurde gelöscht. The file was deleted. Le fichier a été supprimé. " * 3
    assert len({detect_language(mixed) for _ in range(5)}) == 1


@pytest.mark.parametrize("text", ["", "Kubernetes", "SELECT * FROM t1 WHERE x = 5;", "12 34 56"])
def test_text_too_short_to_tell_counts_as_english(text: str) -> None:
    assert detect_language(text) == DEFAULT


def test_german_inflections_share_a_stem_in_sqlites_copy() -> None:
    assert fts_copy("de", "Dateien") == fts_copy("de", "Datei") == "zzdedatei"
    assert fts_copy("de", "löschen") == fts_copy("de", "lösche") == "zzdelosch"
    assert fts_copy("fr", "fichiers supprimés") == "zzfrfichi zzfrsupprim"
    assert fts_copy("es", "archivos") == fts_copy("es", "archivo")


def test_english_and_unknown_languages_are_indexed_as_they_are() -> None:
    assert fts_copy("en", "Deleted files") is None  # FTS5's porter stems it, as before
    assert fts_copy("it", "file cancellati") is None
    assert language("it").ts_config == "simple"
    assert language(None).code == DEFAULT


def test_a_dotted_name_is_a_phrase_of_its_stemmed_parts() -> None:
    assert fts_term("de", "vue.js") == "zzdevu zzdejs"
    assert fts_term("en", "vue.js") == "vue.js"


def test_an_english_scope_matches_exactly_as_before() -> None:
    """Terms and the FTS5 match string are what they were before languages."""
    assert query_terms("What is the capital of France?!") == ["capital", "france"]
    assert query_terms("what is it") == ["what", "is", "it"]
    words = _words("Who has worked with Vue.js?")
    groups = _groups(["en"], sqlite=True)
    assert _fts5_forms((g, g.terms(words)) for g in groups) == (
        '"worked" OR "vue.js" OR "vue" OR "js"')


def test_each_language_drops_its_own_stop_words() -> None:
    words = _words("Wie lösche ich Dateien?")
    groups = {g.key: g for g in _groups(["de", "en"], sqlite=True)}
    assert groups["de"].terms(words) == ["lösche", "dateien"]
    assert groups[""].terms(words) == ["wie", "lösche", "ich", "dateien"]
    assert content_terms("Wie lösche ich Dateien?", ["de"]) == ["lösche", "dateien"]
    assert content_terms("Wie lösche ich Dateien?", ["de", "en"]) == [
        "wie", "lösche", "ich", "dateien"]  # "wie", "ich" are English content words


def test_a_query_of_stop_words_keeps_them_for_that_language_only() -> None:
    words = _words("what is it")
    groups = {g.key: g for g in _groups(["de", "en"], sqlite=True)}
    assert groups[""].terms(words) == ["what", "is", "it"]
    assert groups["de"].terms(words) == ["what", "is", "it"]  # no German stop words


def test_postgres_groups_languages_by_configuration() -> None:
    groups = {g.key: g.codes for g in _groups(["de", "en", "it", "nl"], sqlite=False)}
    assert groups == {"german": ("de",), "english": ("en",), "simple": ("it", "nl")}
    assert [g.key for g in _groups([], sqlite=False)] == ["english"]


def test_the_migration_maps_languages_as_the_index_does() -> None:
    migration = importlib.import_module("ragline.migrations.versions.0013_languages")
    assert migration.CONFIGS == {code: entry.ts_config for code, entry in LANGUAGES.items()}
