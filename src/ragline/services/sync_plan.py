"""What a folder sync does: scan the folder (relative path → content hash) and diff it with
the collection's documents (keyed by `source`, identified by `content_hash`).

Pure apart from the scan: `plan_sync` decides, `services/sync.py` carries it out.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ragline.adapters.parse import EXTENSIONS

HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class Known:
    """A document of the collection, as the plan sees it."""

    id: str
    source: str
    content_hash: str
    failed: bool = False


@dataclass
class Plan:
    unchanged: list[str] = field(default_factory=list)  # sources
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (document id, new source)
    changed: list[tuple[str, str]] = field(default_factory=list)  # (document id, source)
    added: list[str] = field(default_factory=list)  # sources
    duplicates: list[str] = field(default_factory=list)  # same bytes as another file
    deleted: list[str] = field(default_factory=list)  # document ids to remove
    missing: list[str] = field(default_factory=list)  # sources kept (no --delete)


def folder_files(root: Path) -> list[tuple[str, Path]]:
    """Blocking: (source, file) for the supported files under `root`, sorted, hidden names
    skipped; symbolic links are followed only to files inside `root`."""
    base = root.resolve()
    found: list[tuple[str, Path]] = []
    for folder, dirs, files in os.walk(base, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith(".") or Path(name).suffix.lower() not in EXTENSIONS:
                continue
            path = Path(folder) / name
            if path.is_symlink() and not path.resolve().is_relative_to(base):
                continue
            if path.is_file():
                found.append((path.relative_to(base).as_posix(), path))
    found.sort()
    return found


def file_hash(path: Path) -> str:
    """Blocking: the sha256 of the file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def hash_files(
    files: Iterable[tuple[str, Path]], seen: Callable[[int], None] | None = None
) -> dict[str, str]:
    """Blocking: source → hash; files that vanish or can't be read meanwhile are left out."""
    hashes: dict[str, str] = {}
    for count, (source, path) in enumerate(files, start=1):
        try:
            hashes[source] = file_hash(path)
        except OSError:
            continue
        if seen is not None:
            seen(count)
    return hashes


def plan_sync(files: dict[str, str], documents: list[Known], *, delete: bool) -> Plan:
    """Diff the folder (source → hash) with the documents.

    Same path and bytes: unchanged. Bytes a document holds under a path that no longer has
    them: a rename (the document moves, nothing is embedded). A path whose bytes are new:
    that document changes (keeping its id), or a new one is added. A document left over goes
    with `delete`, and always when another document took over its path."""
    plan = Plan()
    by_source: dict[str, Known] = {}
    for doc in documents:
        by_source.setdefault(doc.source, doc)
    by_hash = {doc.content_hash: doc for doc in documents}
    claimed: set[str] = set()
    pending: list[tuple[str, str]] = []
    for source, digest in files.items():
        same = by_source.get(source)
        if same is not None and same.content_hash == digest:
            claimed.add(same.id)
            if same.failed:
                plan.changed.append((same.id, source))
            else:
                plan.unchanged.append(source)
        else:
            pending.append((source, digest))
    rest: list[tuple[str, str]] = []
    for source, digest in pending:
        moved = by_hash.get(digest)
        if moved is None:
            rest.append((source, digest))
        elif moved.id in claimed:
            plan.duplicates.append(source)
        else:
            claimed.add(moved.id)
            plan.renamed.append((moved.id, source))
    taken = {source for _id, source in plan.renamed}
    new_hashes: set[str] = set()
    for source, digest in rest:
        if digest in new_hashes:
            plan.duplicates.append(source)
            continue
        new_hashes.add(digest)
        previous = by_source.get(source)
        if previous is not None and previous.id not in claimed:
            claimed.add(previous.id)
            plan.changed.append((previous.id, source))
        else:
            plan.added.append(source)
            taken.add(source)
    for doc in documents:
        if doc.id in claimed:
            continue
        if delete or doc.source in taken:
            plan.deleted.append(doc.id)
        else:
            plan.missing.append(doc.source)
    return plan
