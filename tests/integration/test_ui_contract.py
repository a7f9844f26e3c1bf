"""The web UI against the API: its TypeScript types follow /openapi.json; /api/models exists."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragline.domain import runs
from ragline.services import library
from ragline.web.app import create_app
from tests.integration.documents_support import settings_for

TYPES_TS = Path(__file__).resolve().parents[2] / "web" / "src" / "types.ts"
# The `status` event's stages as API.md §1 lists them (used when the domain has no constant yet).
CONTRACT_STAGES = {"queued", "condensing", "retrieving", "reading", "generating"}
TAGGED = re.compile(
    r"/\*\*[^*]*@(?P<kind>schema|model|values) (?P<name>[\w.]+)[^*]*\*/\s*"
    r"export (?:interface \w+ \{(?P<body>[^}]*)\}|type \w+ = (?P<union>[^\n]+))"
)
FIELD = re.compile(r"^\s*(\w+)(\??):", re.MULTILINE)


def tagged_types() -> list[dict[str, Any]]:
    text = TYPES_TS.read_text()
    return [m.groupdict() for m in TAGGED.finditer(text)]


def stage_values() -> set[str]:
    for name in dir(runs):
        value = getattr(runs, name)
        if "STAGE" in name and isinstance(value, (frozenset, set, tuple)):
            return set(value)
    return CONTRACT_STAGES


SERVER_VALUES = {
    "run_status": lambda: {runs.QUEUED, runs.RUNNING} | set(runs.TERMINAL),
    "document_status": lambda: {library.PENDING, library.PROCESSING, library.READY, library.FAILED},
    "message_state": lambda: {"complete", "cancelled", "failed"},  # services/runs.py writes these
    "run_stage": stage_values,
}


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return create_app(migrate=False).openapi()


def schema_for(kind: str, name: str, openapi: dict[str, Any]) -> dict[str, Any]:
    if kind == "schema":
        schema: dict[str, Any] = openapi["components"]["schemas"][name]
        return schema
    module, _, cls = name.rpartition(".")
    result: dict[str, Any] = getattr(importlib.import_module(module), cls).model_json_schema()
    return result


def test_ui_types_name_only_fields_the_server_sends(openapi: dict[str, Any]) -> None:
    checked = 0
    for tagged in tagged_types():
        if tagged["kind"] == "values":
            continue
        schema = schema_for(tagged["kind"], tagged["name"], openapi)
        properties, required = schema["properties"], set(schema.get("required", []))
        for field, optional in FIELD.findall(tagged["body"]):
            where = f"{tagged['name']}.{field}"
            assert field in properties, f"types.ts declares {where}, which the server never sends"
            if not optional:
                assert field in required or "default" in properties[field], (
                    f"types.ts requires {where}, which the server may leave out"
                )
            checked += 1
    assert checked >= 30


def test_ui_string_unions_match_the_server_vocabulary() -> None:
    unions = {t["name"]: t["union"] for t in tagged_types() if t["kind"] == "values"}
    assert set(unions) == set(SERVER_VALUES)
    for name, union in unions.items():
        ui_values = set(re.findall(r"'([^']+)'", union))
        assert ui_values == SERVER_VALUES[name](), f"{name}: the UI lists {sorted(ui_values)}"


def test_models_route_lists_the_registry_default_first(tmp_path: Path) -> None:
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}", tmp_path / "data",
                            default_model="scripted")
    with TestClient(create_app(settings)) as client:
        items = client.get("/api/models").json()["items"]
    assert items[0] == {**items[0], "name": "scripted", "default": True}
    assert [m for m in items if m["default"]] == [items[0]]
    assert {"scripted", "qwen2.5-coder-1.5b-instruct"} <= {m["name"] for m in items}
