"""`upgrade` recognises a database already at head with one query, on both backends."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy.engine import make_url

from ragline.adapters.db.migrate import current_revisions, head_revisions, upgrade


def test_a_migrated_database_is_at_head_and_a_second_upgrade_keeps_it(database_url: str) -> None:
    url = make_url(database_url)
    assert head_revisions() and len(head_revisions()) == 1
    assert current_revisions(url) is None  # empty database: Alembic decides
    upgrade(database_url)
    assert current_revisions(url) == head_revisions()
    upgrade(database_url)  # at head: returns without Alembic
    assert current_revisions(url) == head_revisions()


def test_processes_starting_together_on_a_fresh_database_migrate_one_at_a_time(
    database_url: str,
) -> None:
    """Three `upgrade`s at once (as two replicas and a worker starting together do): every one
    succeeds, and the database ends at head (before the lock, all but one failed on tables the
    first had created)."""
    code = ("import sys; from ragline.adapters.db.migrate import upgrade; upgrade(sys.argv[1])")
    procs = [subprocess.Popen([sys.executable, "-c", code, database_url],
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(timeout=180), p.stderr.read() if p.stderr else "") for p in procs]
    assert [rc for rc, _ in results] == [0, 0, 0], results
    assert current_revisions(make_url(database_url)) == head_revisions()
