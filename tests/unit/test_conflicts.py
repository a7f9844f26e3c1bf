"""Passages that disagree are named in the prompt; passages that merely differ are not."""

from __future__ import annotations

from ragline.services.conflicts import disagreement_note, disagreements
from ragline.services.prompt_layout import Turn, render_turn

SNAPSHOT = "How long is the nightly snapshot of the billing ledger kept?"
NOTES_2023 = {"document_id": "a", "title": "Billing notes (2023)",
              "text": "The nightly snapshot of the billing ledger is kept for 14 days before it "
                      "is deleted. Restores are requested through the on-call engineer."}
NOTES_2024 = {"document_id": "b", "title": "Billing notes (2024)",
              "text": "The nightly snapshot of the billing ledger is kept for 45 days before it "
                      "is deleted. Snapshots are encrypted at rest."}


def test_two_documents_giving_the_question_different_values_disagree() -> None:
    found = disagreements(SNAPSHOT, [NOTES_2023, NOTES_2024])
    assert [(d.first, d.second, d.first_says, d.second_says) for d in found] == [
        (1, 2, "14 days", "45 days")]


def test_a_port_stated_two_ways_is_a_disagreement_even_in_a_short_sentence() -> None:
    question = "Which port does the storefront's telemetry exporter listen on?"
    setup = {"document_id": "a", "title": "Setting up the telemetry exporter",
             "text": "The telemetry exporter of the storefront listens on port 9464."}
    faq = {"document_id": "b", "title": "Telemetry exporter FAQ",
           "text": f"{question} It listens on port 9187."}
    assert [(d.first_says, d.second_says) for d in disagreements(question, [setup, faq])] == [
        ("port 9464", "port 9187")]


def test_the_same_value_passages_of_one_document_and_off_topic_numbers_are_no_disagreement(
) -> None:
    same = dict(NOTES_2024, text=NOTES_2024["text"].replace("45", "14"))
    assert disagreements(SNAPSHOT, [NOTES_2023, same]) == []
    one_document = dict(NOTES_2024, document_id="a")
    assert disagreements(SNAPSHOT, [NOTES_2023, one_document]) == []
    off_topic = {"document_id": "c", "title": "Mooring fees",
                 "text": "Mooring is charged for 30 days in advance at the harbour office."}
    assert disagreements(SNAPSHOT, [NOTES_2023, off_topic]) == []


def test_the_prompt_names_the_disagreement_after_the_passages() -> None:
    rendered = render_turn(Turn(SNAPSHOT, passages=[NOTES_2023, NOTES_2024]))
    assert "Note: passages [1] and [2] disagree (14 days in [1], 45 days in [2])" in rendered
    assert rendered.endswith(f"\n\nQuestion: {SNAPSHOT}")
    assert "disagree" not in render_turn(Turn(SNAPSHOT, passages=[NOTES_2023]))


def test_the_answer_ends_with_a_note_citing_both_unless_it_already_says_so() -> None:
    sources = [NOTES_2023, NOTES_2024]
    found = disagreements(SNAPSHOT, sources)
    note = disagreement_note(found, sources, "The snapshot is kept for 45 days [2].")
    assert note is not None and note.lead == "\n\n" and note.sources == [1, 2]
    assert note.text == ("Note: the documents disagree here: Billing notes (2023) says 14 days "
                         "[1], and Billing notes (2024) says 45 days [2].")
    said = "The documents disagree: 14 days [1] or 45 days [2]."
    assert disagreement_note(found, sources, said) is None
