"""schemathesis against ragline's own /openapi.json, on SQLite and PostgreSQL, with API keys on:
no answer is a server error, and every status code and body is one the document declares."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ragline.cli.keys import _create as create_key
from ragline.web.app import create_app
from tests.conftest import BACKENDS, create_pg_database, drop_pg_database
from tests.integration.documents_support import settings_for

EXAMPLES = 5  # per operation and backend: about 40 operations, ~1 min of CPU for both
CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance,
          content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module", params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    data = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    pg = create_pg_database() if request.param == "postgres" else None
    url = pg.url if pg else f"sqlite+aiosqlite:///{data / 'ragline.db'}"
    config = settings_for(url, Path(data), auth="api_key", default_model="scripted",
                          max_upload_bytes=64 * 1024)
    key = asyncio.run(create_key(config, "fuzzer", False))
    try:
        yield create_app(config), key
    finally:
        shutdown_lifespans()
        if pg is not None:
            drop_pg_database(pg)


# The document is the same for every configuration; each backend gets its own app below.
DOCUMENT = create_app(settings_for("sqlite://", Path("unused"))).openapi()
# Each sample CV is rendered to a PDF and ingested (about 0.5 s): up to 2 per example, not 20,
# keeps that one operation from taking a minute of the suite (the server still takes 1-20).
DOCUMENT["components"]["schemas"]["SampleCVsIn"]["properties"]["count"]["maximum"] = 2
schema = schemathesis.openapi.from_dict(DOCUMENT)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_only_documented_answers(case, target) -> None:
    app, key = target
    case.call_and_validate(app=app, base_url="http://testserver", timeout=60,
                           headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)
