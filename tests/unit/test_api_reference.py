"""docs/api.md covers the app: every OpenAPI operation and every run-event type is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ragline.config import Settings
from ragline.domain.runs import EVENT_TYPES
from ragline.web.app import create_app

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "api.md"


@pytest.fixture(scope="module")
def reference() -> str:
    return REFERENCE.read_text(encoding="utf-8")


def _operations(tmp_path: Path) -> list[tuple[str, str]]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'ragline.db'}",
                        data_dir=tmp_path / "data")
    paths = create_app(settings).openapi()["paths"]
    return [(method.upper(), path) for path, operations in paths.items()
            for method in operations]


def test_every_operation_of_the_schema_is_documented(reference: str, tmp_path: Path) -> None:
    operations = _operations(tmp_path)
    assert len(operations) > 30  # the whole app, compat surfaces and /v1 included
    missing = [f"{method} {path}" for method, path in operations
               if not re.search(rf"{method} {re.escape(path)}(?![\w/{{])", reference)]
    assert not missing, f"not in docs/api.md: {missing}"


def test_every_run_event_type_is_documented(reference: str) -> None:
    events = reference.split("### Events", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", events, flags=re.MULTILINE))
    assert documented == set(EVENT_TYPES)


def test_the_sections_the_code_cites_exist(reference: str) -> None:
    headings = re.findall(r"^## (\d)\. ", reference, flags=re.MULTILINE)
    assert headings == [str(n) for n in range(1, 8)]
