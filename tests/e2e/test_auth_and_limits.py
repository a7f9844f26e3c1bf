"""Auth (API keys), owner isolation and rate limiting against a real server. Black-box only:
the rest (JWT subjects) is tested in-process in tests/integration/test_surfaces.py."""

from __future__ import annotations

import subprocess
import sys
import uuid

import httpx

from tests.support.isolation import REDIS_URL


def create_key(server, user: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "ragline", "keys", "create", "--user", user],
        env=server.env, capture_output=True, text=True, check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def test_api_keys_authenticate_and_isolate_owners(make_server, database_url) -> None:
    server = make_server(database_url, RAGLINE_AUTH="api_key")
    alice, bob = create_key(server, "alice"), create_key(server, "bob")
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        anonymous = client.get("/api/threads")
        assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"
        assert client.get("/api/threads", headers={"X-API-Key": "wrong"}).status_code == 401

        as_alice = {"Authorization": f"Bearer {alice}"}
        thread = client.post("/api/threads", json={"title": "mine"}, headers=as_alice).json()
        run = client.post(f"/api/threads/{thread['thread_id']}/messages",
                          json={"content": "hi"}, headers=as_alice).json()

        as_bob = {"X-API-Key": bob}
        assert client.get(f"/api/threads/{thread['thread_id']}", headers=as_bob).status_code == 404
        assert client.get(f"/api/runs/{run['run_id']}", headers=as_bob).status_code == 404
        assert client.get("/api/threads", headers=as_bob).json()["items"] == []
        events = client.get(f"/api/runs/{run['run_id']}/events",
                            params={"access_token": alice})
        assert events.status_code == 200 and "event: done" in events.text


def test_rate_limit_answers_429_with_retry_after(make_server, database_url) -> None:
    server = make_server(database_url, RAGLINE_RATE_LIMIT_PER_MINUTE="5",
                         RAGLINE_REDIS_URL=REDIS_URL)
    key = {"X-API-Key": uuid.uuid4().hex}  # auth is off: the header only names the budget
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        codes = [client.get("/api/threads", headers=key).status_code for _ in range(7)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
        limited = client.get("/api/threads", headers=key)
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limited"
        assert client.get("/healthz").status_code == 200
