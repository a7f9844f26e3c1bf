"""The folder-sync diff (services/sync_plan.py): keyed by path, identified by content hash."""

from __future__ import annotations

import os
from pathlib import Path

from ragline.services.sync_plan import Known, file_hash, folder_files, hash_files, plan_sync

DOCS = [Known("d-a", "a.md", "h1"), Known("d-b", "b.txt", "h2"), Known("d-c", "c.txt", "h3")]


def test_unchanged_edited_added_and_gone_files() -> None:
    plan = plan_sync({"a.md": "h1", "b.txt": "h9", "new.md": "h4"}, DOCS, delete=False)
    assert plan.unchanged == ["a.md"]
    assert plan.changed == [("d-b", "b.txt")]
    assert plan.added == ["new.md"]
    assert (plan.deleted, plan.missing) == ([], ["c.txt"])
    assert plan_sync({"a.md": "h1"}, DOCS, delete=True).deleted == ["d-b", "d-c"]


def test_a_renamed_file_moves_its_document_and_nothing_is_added() -> None:
    plan = plan_sync({"a.md": "h1", "sub/b2.txt": "h2", "c.txt": "h3"}, DOCS, delete=True)
    assert plan.renamed == [("d-b", "sub/b2.txt")]
    assert (plan.added, plan.changed, plan.deleted) == ([], [], [])


def test_two_files_that_swapped_contents_swap_their_documents() -> None:
    plan = plan_sync({"a.md": "h2", "b.txt": "h1", "c.txt": "h3"}, DOCS, delete=False)
    assert sorted(plan.renamed) == [("d-a", "b.txt"), ("d-b", "a.md")]
    assert (plan.added, plan.changed, plan.deleted, plan.missing) == ([], [], [], [])


def test_a_file_renamed_over_another_path_displaces_that_document_even_without_delete() -> None:
    plan = plan_sync({"a.md": "h1", "b.txt": "h3"}, DOCS, delete=False)  # mv c.txt b.txt
    assert plan.renamed == [("d-c", "b.txt")]
    assert (plan.deleted, plan.missing) == (["d-b"], [])


def test_copies_of_one_file_are_one_document() -> None:
    plan = plan_sync({"a.md": "h1", "copy.md": "h1", "n1": "h7", "n2": "h7", "b.txt": "h2",
                      "c.txt": "h3"}, DOCS, delete=True)
    assert sorted(plan.duplicates) == ["copy.md", "n2"]
    assert plan.added == ["n1"]


def test_a_failed_document_is_ingested_again() -> None:
    plan = plan_sync({"a.md": "h1"}, [Known("d-a", "a.md", "h1", failed=True)], delete=False)
    assert (plan.changed, plan.unchanged) == ([("d-a", "a.md")], [])


def test_the_scan_keeps_supported_files_and_no_link_out_of_the_folder(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    (root / ".hidden").mkdir()
    outside.mkdir()
    (root / "a.md").write_text("# A")
    (root / "sub" / "b.txt").write_text("b")
    (root / "skip.bin").write_bytes(b"\0")
    (root / ".hidden" / "c.md").write_text("c")
    (outside / "secret.txt").write_text("secret")
    os.symlink(outside / "secret.txt", root / "leak.txt")
    os.symlink(root / "a.md", root / "alias.md")
    files = folder_files(root)
    assert [source for source, _ in files] == ["a.md", "alias.md", "sub/b.txt"]
    hashes = hash_files(files)
    assert hashes["a.md"] == hashes["alias.md"] == file_hash(root / "a.md")
