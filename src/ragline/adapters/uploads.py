"""Uploaded bytes on local disk under `<data_dir>/uploads/<document_id>`.

The path comes only from the server-made document id (a UUID), never from the client's file
name, so names like `../../etc/passwd` cannot escape the data directory.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


class UploadStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, document_id: str) -> Path:
        try:
            canonical = str(uuid.UUID(document_id))
        except ValueError as exc:
            raise ValueError(f"not a document id: {document_id!r}") from exc
        return self.root / canonical

    def write(self, document_id: str, data: bytes) -> Path:
        """Blocking; atomic (temporary file, then rename)."""
        path = self.path_for(document_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
        return path

    def read(self, document_id: str) -> bytes:
        return self.path_for(document_id).read_bytes()

    def delete(self, document_id: str) -> None:
        self.path_for(document_id).unlink(missing_ok=True)
