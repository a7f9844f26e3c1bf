"""A question about a name no passage mentions gets no passages (and so a decline)."""

from __future__ import annotations

from ragline.services.question_names import names_unmatched, strong_names

RTREE = [{"title": "The SQLite R*Tree Module", "heading": "Overview",
          "text": "An R-Tree is a special index that is designed for doing range queries. "
                  "Each node of the tree holds up to 51 entries."}]


def test_strong_names_are_inner_capitals_and_runs_of_capitalised_words() -> None:
    assert strong_names("How do I set up streaming replication between two PostgreSQL servers?"
                        ) == ["PostgreSQL"]
    assert strong_names("How many nodes can an Oracle Real Application Clusters database have?"
                        ) == ["Oracle", "Real", "Application", "Clusters"]
    # Acronyms, a question's first word and single capitalised nouns are not names.
    assert strong_names("Which SQL function builds a JSON array for a web API?") == []
    assert strong_names("Wie lange wird der nächtliche Snapshot aufbewahrt?") == []


def test_a_question_naming_what_no_passage_mentions_is_unmatched() -> None:
    assert names_unmatched(
        "How many nodes can an Oracle Real Application Clusters database have?", RTREE)
    assert not names_unmatched("What is SQLite's R*Tree module designed for?", RTREE)
    assert not names_unmatched("How many entries does a node hold?", RTREE)  # no names
    assert not names_unmatched("What does PostgreSQL do?", [])  # nothing to drop
