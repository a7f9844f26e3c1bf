"""Placeholder until the document service lands."""

from __future__ import annotations

from typing import Any


def build_documents(settings: Any, db: Any) -> None:
    return None
