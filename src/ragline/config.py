"""Settings: one validated object read from RAGLINE_* environment variables and `.env`."""

from __future__ import annotations

import ipaddress
import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret"}


def _default_model_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ragline" / "models"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAGLINE_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str | None = None
    redis_url: str | None = None
    model_dir: Path = Field(default_factory=_default_model_dir)
    models_file: Path | None = None
    default_model: str = "qwen2.5-coder-1.5b-instruct"

    host: str = "127.0.0.1"
    port: int = 8000
    auth: Literal["none", "api_key", "jwt"] = "none"
    jwt_secret: str = ""
    log_level: str = "INFO"
    log_json: bool = True
    otlp_endpoint: str | None = None  # OTLP/HTTP collector, e.g. http://127.0.0.1:4318

    # Runs and streaming
    max_message_bytes: int = 32 * 1024
    sse_ping_seconds: float = 15.0
    scripted_token_delay_ms: float = 0.0
    event_flush_max_batch: int = 2000
    # Where runs execute: in the process that admitted them, or by `ragline worker` processes
    # taking them off a Redis queue. Executors renew a lease on each run; when it runs out
    # (the process died) any process fails the run as `interrupted`.
    run_execution: Literal["inline", "worker"] = "inline"
    run_queue: str = "ragline:runs"
    run_concurrency: int = Field(default=8, ge=1)  # runs one worker executes at once
    run_lease_seconds: float = Field(default=10.0, gt=0)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)  # SIGTERM: runs may finish
    # With Redis, `ragline serve` also consumes the queues (ingestion, and runs with
    # run_execution=worker), so one process works alone; turn off when workers do it.
    embedded_worker: bool = True

    # Local engine
    # Engine threads for decoding and for prompt reading (unset: one per core). Measured on an
    # idle 2-core machine (bench/bench_answer_speed.py --sweep): 2 threads read prompts at 43-49
    # tokens/s against 21 for 1 thread, and decode at 14-16 against 8; the old "1 beats 2"
    # figure was taken under heavy load.
    llama_threads: int | None = Field(default=None, ge=1)
    llama_batch_threads: int | None = Field(default=None, ge=1)
    # Prompt tokens per engine step. Other slots' decoding and a cancel wait for the whole step;
    # idle, 128 reads prompts as fast as 256 or 512 (49 tokens/s) and 64 is 12% slower.
    llama_n_batch: int = Field(default=128, ge=16)
    llama_parallel: int = 2
    llama_ctx_per_slot: int = 4096
    llama_queue_limit: int = 64
    load_model_at_startup: bool = True  # in the background; /readyz says when it is loaded

    # Documents
    max_upload_bytes: int = 50 * 1024 * 1024
    chunk_tokens: int = 220
    chunk_overlap: int = 40
    # "local": all-MiniLM-L6-v2, int8 on ONNX Runtime; "local-torch": the same model in float32
    # on sentence-transformers (one index serves both); "openai": an OpenAI-compatible API.
    embedder: str = "local"
    embedding_base_url: str | None = None
    embedding_model: str = "text-embedding-3-small"
    embedding_api_key_env: str = "OPENAI_API_KEY"

    # Retrieval and prompts
    retrieval_top_k: int = 5
    retrieval_min_score: float = 0.30  # cosine; all-MiniLM: real questions ≥ 0.42, unrelated ≤ 0.20
    # ... or a passage holding this IDF-weighted share of the query's terms (hybrid search's
    # term_match; 1: every selective term, as a skills table naming the technology asked about)
    retrieval_min_term_match: float = Field(default=1.0, ge=0, le=1)
    prompts_dir: Path | None = None
    # Passages get the tokens the engine reads within this many seconds at its measured prompt
    # rate (bounded by passage_tokens_min/max), so the first token comes within a set wait.
    # Facts of the eval set found in the passages, by budget (each passage trimmed to 220):
    # 400: 90%, 700: 96%, 1,000 untrimmed: 98%; the knee is at ~700 (bench/RESULTS.md).
    answer_target_wait_seconds: float = Field(default=20.0, gt=0)
    passage_tokens_min: int = Field(default=400, ge=50)
    passage_tokens_max: int = Field(default=800, ge=50)
    answer_max_tokens: int = 512

    # Rate limiting: requests per minute per principal (0 = off)
    rate_limit_per_minute: int = 0

    # Ingestion queue and the hybrid index (appended by the documents service)
    ingest_queue: str = "ragline:ingest"
    ingest_concurrency: int = Field(default=2, ge=1)
    ingest_stale_seconds: float = Field(default=60.0, gt=0)  # no heartbeat this long: retried
    ingest_max_attempts: int = Field(default=3, ge=1)
    embedding_batch_size: int = Field(default=32, ge=1)
    embedding_dim: int | None = None  # only needed for unknown OpenAI-compatible models
    embedder_warmup: bool = True  # load the model and vector matrices in the background at start
    search_candidates: int = Field(default=50, ge=1)  # per-ranker pool fused by RRF
    search_max_top_k: int = Field(default=50, ge=1)
    # RRF k and the vector ranking's weight (keyword: 1), measured by bench/bench_paraphrase.py:
    # paraphrased questions Recall@5 0.75 -> 0.90 with literal ones unchanged (0.986).
    rrf_k: int = Field(default=20, ge=1)
    search_vector_weight: float = Field(default=2.0, gt=0)
    # Bonus for passages holding the query's exact terms (IDF-weighted share, cubed), in units
    # of the best fused score; 0 = plain RRF. bench/RESULTS.md "Sample CVs": technology, language
    # and study-city searches; bench/bench_paraphrase.py unchanged.
    search_term_boost: float = Field(default=2.0, ge=0)
    # Folder sync through the API: a collection may be bound only to a folder under this one
    # (unset: server-side sync is off; `ragline sync` reads folders on its own machine).
    sync_root: Path | None = None
    claims_enabled: bool = True  # check each answer sentence against its passages (`claims`)
    # ... and ask the local default model about the borderline ones, on a free engine slot
    claims_verifier: bool = True

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.auth == "none" and not _is_loopback(self.host):
            raise ValueError(
                f"auth is off but host {self.host!r} is not a loopback address; "
                "set RAGLINE_AUTH=api_key or jwt to serve beyond this machine"
            )
        if self.auth == "jwt" and self.jwt_secret.strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("RAGLINE_AUTH=jwt needs a real RAGLINE_JWT_SECRET")
        if self.run_execution == "worker" and not self.redis_url:
            raise ValueError("RAGLINE_RUN_EXECUTION=worker needs RAGLINE_REDIS_URL (the queue)")
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError("chunk_overlap must be smaller than chunk_tokens")
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'ragline.db').resolve()}"

    @property
    def engine_threads(self) -> int:
        return self.llama_threads or max(1, os.cpu_count() or 1)

    @property
    def is_postgres(self) -> bool:
        return self.resolved_database_url.startswith("postgresql")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
