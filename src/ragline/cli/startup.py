"""Startup checks that fail in one clear line (`ragline: ...`, exit status 2)."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.engine import make_url

from ragline.config import Settings
from ragline.domain.errors import RaglineError


class StartupError(Exception):
    """Something in the configuration or environment keeps ragline from starting."""


def one_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(_setting_error(e) for e in exc.errors())
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _setting_error(error: object) -> str:
    assert isinstance(error, dict)
    message = str(error.get("msg", "invalid setting")).removeprefix("Value error, ")
    loc = [str(part) for part in error.get("loc", ()) if part]
    return f"RAGLINE_{'_'.join(loc).upper()}: {message}" if loc else message


def safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<the configured database URL>"


def migrate(settings: Settings) -> None:
    from ragline.adapters.db.migrate import upgrade

    try:
        upgrade(settings.resolved_database_url)
    except Exception as exc:
        raise StartupError(
            f"cannot prepare the database at {safe_url(settings.resolved_database_url)}: "
            f"{one_line(exc)}"
        ) from exc


def check_models(settings: Settings) -> None:
    """The model registry (built-ins and RAGLINE_MODELS_FILE) is valid; nothing is loaded."""
    from ragline.services.models import ModelRegistry

    try:
        ModelRegistry(settings)
    except RaglineError as exc:
        raise StartupError(exc.message) from exc
