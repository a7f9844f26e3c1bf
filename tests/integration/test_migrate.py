"""`upgrade` recognises a database already at head with one query, on both backends."""

from __future__ import annotations

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
