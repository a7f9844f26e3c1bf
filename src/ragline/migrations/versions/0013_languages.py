"""Keyword search per language: documents and chunks carry their language (ISO 639-1).

PostgreSQL computes `chunks.tsv` in the language's text-search configuration. SQLite's FTS5
indexes `chunks.fts_text`/`fts_heading` where set (a stemmed copy, index/languages.py) and the
text itself where not, through a view, so that `rebuild` reads what was indexed. Existing
documents and chunks become English, which is how they were indexed.

Revision ID: 0013_languages
Revises: 0012_thread_links
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_languages"
down_revision = "0012_thread_links"
branch_labels = None
depends_on = None

# The same as index/languages.py LANGUAGES (a unit test holds them together); anything else
# is matched unstemmed.
CONFIGS = {"en": "english", "de": "german", "fr": "french", "es": "spanish"}
_CONFIG = "CASE language {} ELSE 'simple'::regconfig END".format(
    " ".join(f"WHEN '{code}' THEN '{name}'::regconfig" for code, name in CONFIGS.items()))
_TSV = "coalesce(heading, '') || ' ' || text"

SQLITE_FTS = [
    "CREATE VIEW chunks_fts_content AS SELECT id, coalesce(fts_text, text) AS text, "
    "coalesce(fts_heading, heading) AS heading FROM chunks",
    "CREATE VIRTUAL TABLE chunks_fts USING fts5(text, heading, content='chunks_fts_content', "
    "content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER chunks_fts_ai AFTER INSERT ON chunks BEGIN "
    "INSERT INTO chunks_fts(rowid, text, heading) VALUES "
    "(new.id, coalesce(new.fts_text, new.text), coalesce(new.fts_heading, new.heading)); END",
    "CREATE TRIGGER chunks_fts_ad AFTER DELETE ON chunks BEGIN "
    "INSERT INTO chunks_fts(chunks_fts, rowid, text, heading) VALUES ('delete', old.id, "
    "coalesce(old.fts_text, old.text), coalesce(old.fts_heading, old.heading)); END",
    "CREATE TRIGGER chunks_fts_au AFTER UPDATE OF text, heading, fts_text, fts_heading "
    "ON chunks BEGIN "
    "INSERT INTO chunks_fts(chunks_fts, rowid, text, heading) VALUES ('delete', old.id, "
    "coalesce(old.fts_text, old.text), coalesce(old.fts_heading, old.heading)); "
    "INSERT INTO chunks_fts(rowid, text, heading) VALUES "
    "(new.id, coalesce(new.fts_text, new.text), coalesce(new.fts_heading, new.heading)); END",
    "INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')",
]
SQLITE_FTS_BEFORE = [  # migration 0001's
    "CREATE VIRTUAL TABLE chunks_fts USING fts5(text, heading, content='chunks', "
    "content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER chunks_fts_ai AFTER INSERT ON chunks BEGIN "
    "INSERT INTO chunks_fts(rowid, text, heading) VALUES (new.id, new.text, new.heading); END",
    "CREATE TRIGGER chunks_fts_ad AFTER DELETE ON chunks BEGIN "
    "INSERT INTO chunks_fts(chunks_fts, rowid, text, heading) "
    "VALUES ('delete', old.id, old.text, old.heading); END",
    "CREATE TRIGGER chunks_fts_au AFTER UPDATE OF text, heading ON chunks BEGIN "
    "INSERT INTO chunks_fts(chunks_fts, rowid, text, heading) "
    "VALUES ('delete', old.id, old.text, old.heading); "
    "INSERT INTO chunks_fts(rowid, text, heading) VALUES (new.id, new.text, new.heading); END",
    "INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')",
]
_DROP_SQLITE_FTS = [
    "DROP TRIGGER IF EXISTS chunks_fts_ai",
    "DROP TRIGGER IF EXISTS chunks_fts_ad",
    "DROP TRIGGER IF EXISTS chunks_fts_au",
    "DROP TABLE IF EXISTS chunks_fts",
    "DROP VIEW IF EXISTS chunks_fts_content",
]


def _tsv(config: str) -> list[str]:
    return [
        "ALTER TABLE chunks DROP COLUMN IF EXISTS tsv",  # its GIN index goes with it
        f"ALTER TABLE chunks ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
        f"(to_tsvector({config}, {_TSV})) STORED",
        "CREATE INDEX ix_chunks_tsv ON chunks USING gin (tsv)",
    ]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("documents", sa.Column("language", sa.String(8), nullable=True))
    op.add_column("chunks", sa.Column("language", sa.String(8), nullable=False,
                                      server_default="en"))
    op.add_column("chunks", sa.Column("fts_text", sa.Text(), nullable=True))
    op.add_column("chunks", sa.Column("fts_heading", sa.Text(), nullable=True))
    op.execute("UPDATE documents SET language = 'en'")
    for statement in (_DROP_SQLITE_FTS + SQLITE_FTS) if sqlite else _tsv(_CONFIG):
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in (_DROP_SQLITE_FTS + SQLITE_FTS_BEFORE) if sqlite else _tsv("'english'"):
        op.execute(statement)
    op.drop_column("chunks", "fts_heading")
    op.drop_column("chunks", "fts_text")
    op.drop_column("chunks", "language")
    op.drop_column("documents", "language")
