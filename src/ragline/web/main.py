"""ASGI entry point for multi-worker uvicorn: `ragline.web.main:app`."""

from ragline.web.app import create_app

app = create_app(migrate=False)
