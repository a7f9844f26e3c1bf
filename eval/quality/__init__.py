"""Quality of grounded conversation, end to end through the HTTP API (docs/api.md §1, §2).

    python eval/quality_eval.py [--server URL] [--limit N] [--model NAME]    (make eval)

Without `--server` a real `ragline serve` starts on a free port with a fresh data dir and SQLite
database under a temporary directory (the local model by default; the model files are the
user's `RAGLINE_MODEL_DIR`). The corpus is uploaded with `POST /api/documents` into one
collection, then every question is asked in a thread bound to that collection (a follow-up in
the thread of the question it follows) and its run's event stream is read to `done`.

Measured:
- retrieval Recall@5 (document level) of `POST /api/search` with the raw question, for single
  questions and the first questions of follow-up pairs;
- answer fact accuracy: the share of answerable answers that contain the expected facts;
- unanswerable questions: the share declined ("the documents do not cover it") and the share
  whose `final.sources` is empty;
- follow-ups: the share whose condensed query retrieves a relevant document, read from the
  follow-up run's `sources` event (the pipeline retrieves with the condensed query);
- latency: time to the `sources` event (condense + retrieval), to the first token, and to `done`.

Only the HTTP contract is used, so it runs against any ragline server. A JSON report with every
answer is written too (its path is printed).

Modules: `questions` (the question set, the corpus), `scoring` (pure scores and the summary;
retrieval through `ragline.services.evaluation`), `client` (the HTTP client), `server` (an own
`ragline serve`), `run` (one evaluation), `report` (tables), `cli` (arguments, `main`).
Paths are the repository's (`eval/` beside this package), never the installed package's.
"""
