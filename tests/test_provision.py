"""The offline model: provisioning, path resolution, precision choice and the real embedder (marked slow)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.embedding import provision
from index.embedding.e5s1 import Q4_BLOCK, dequantise_q4_0
from index.embedding.embedder import (
    Embedder,
    SentenceTransformerEmbedder,
    choose_precision,
    cpu_has_native_bf16,
    load_embedder,
)
from index.embedding.provision import (
    CONVERTER_VERSION,
    MODEL_DIRNAME,
    PROVENANCE_FILE,
    install_model,
    model_info,
    resolve_model_path,
)
from pedkb.errors import ModelError
from pedkb.settings import DEFAULT_MODEL, Settings, default_model_cache

RUSSIAN = "Население Ватикана составляет около 800 человек."
KAZAKH = "Ватикан қаласы халқының саны — шамамен 800."
UNRELATED = [
    "Футбольный матч закончился со счётом два один.",
    "Мұғалімдер жаңа оқу бағдарламасын талқылады.",
    "Тоолордо кар эрте түштү.",
]


def fake_model_folder(cache: Path, *, complete: bool = True) -> Path:
    """A provisioned-looking folder: a provenance listing one small file (absent unless `complete`)."""
    folder = cache / MODEL_DIRNAME
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "1_Pooling/config.json").write_text(json.dumps({"word_embedding_dimension": 384}))
    if complete:
        (folder / "model.safetensors").write_bytes(b"12345678")
    prov = {"converter_version": CONVERTER_VERSION, "dims": 384, "files": {"model.safetensors": {"size": 8}}}
    (folder / PROVENANCE_FILE).write_text(json.dumps(prov))
    return folder


# --- fast: no model needed -----------------------------------------------------------------------------
def test_resolve_local_folder_is_itself(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    assert resolve_model_path(str(folder), tmp_path / "cache") == str(folder)


def test_resolve_default_name_without_install_is_unchanged(tmp_path: Path) -> None:
    assert resolve_model_path(DEFAULT_MODEL, tmp_path / "empty") == DEFAULT_MODEL
    assert resolve_model_path("BAAI/bge-m3", tmp_path / "empty") == "BAAI/bge-m3"


def test_resolve_default_name_to_provisioned_folder(tmp_path: Path) -> None:
    folder = fake_model_folder(tmp_path)
    assert resolve_model_path(DEFAULT_MODEL, tmp_path) == str(folder)
    assert resolve_model_path("BAAI/bge-m3", tmp_path) == "BAAI/bge-m3"


def test_resolve_ignores_an_incomplete_folder(tmp_path: Path) -> None:
    fake_model_folder(tmp_path, complete=False)
    assert resolve_model_path(DEFAULT_MODEL, tmp_path) == DEFAULT_MODEL
    assert model_info(DEFAULT_MODEL, tmp_path)["installed"] is False


def test_install_reuses_a_complete_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = fake_model_folder(tmp_path)

    def no_build(*_args: object) -> dict[str, object]:
        raise AssertionError("a complete folder must be reused")

    monkeypatch.setattr(provision, "_build", no_build)
    assert install_model(tmp_path) == folder


def test_install_failure_leaves_no_partial_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_build(folder: Path, _work: Path) -> dict[str, object]:
        (folder / "model.safetensors").write_bytes(b"half")
        raise ModelError("source missing")

    monkeypatch.setattr(provision, "_build", broken_build)
    with pytest.raises(ModelError):
        install_model(tmp_path)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_model_info_of_installed_and_hashing(tmp_path: Path) -> None:
    folder = fake_model_folder(tmp_path)
    info = model_info(DEFAULT_MODEL, tmp_path)
    assert info["installed"] and info["dims"] == 384 and info["path"] == str(folder)
    assert info["provenance"] and info["provenance"]["converter_version"] == CONVERTER_VERSION
    assert model_info("hashing:64", tmp_path)["dims"] == 64
    json.dumps(info)  # the CLI prints it as JSON


def test_dequantise_q4_0_matches_e5c_layout() -> None:
    block = np.zeros(1, dtype=Q4_BLOCK)
    block["d"] = 0.5
    block["qs"][0] = np.arange(16, dtype=np.uint8) | (np.uint8(15) << 4)  # low nibble j, high nibble 15
    values = dequantise_q4_0(block)
    assert values.dtype == np.float32 and values.shape == (32,)
    np.testing.assert_array_equal(values[:16], (np.arange(16) - 8) * 0.5)
    np.testing.assert_array_equal(values[16:], np.full(16, (15 - 8) * 0.5))


def test_missing_local_model_folder_says_how_to_install(tmp_path: Path) -> None:
    settings = Settings(model=str(tmp_path / "no-such-model"), model_cache=tmp_path / "cache")
    with pytest.raises(ModelError, match="pedkb model install"):
        load_embedder(settings)


def test_hashing_model_names(tmp_path: Path) -> None:
    embedder = load_embedder(Settings(model="hashing:64", model_cache=tmp_path))
    assert embedder.dim == 64 and isinstance(embedder, Embedder)
    with pytest.raises(ModelError):
        load_embedder(Settings(model="hashing:many", model_cache=tmp_path))


def test_precision_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with_bf16 = tmp_path / "cpuinfo-amx"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 amx_bf16\n")
    without = tmp_path / "cpuinfo-old"
    without.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2\n")
    assert cpu_has_native_bf16(with_bf16) and not cpu_has_native_bf16(without)
    assert not cpu_has_native_bf16(tmp_path / "missing")
    assert choose_precision("fp32") == "fp32" and choose_precision("bf16") == "bf16"
    monkeypatch.setattr("index.embedding.embedder.cpu_has_native_bf16", lambda: False)
    assert choose_precision("auto") == "fp32"
    monkeypatch.setattr("index.embedding.embedder.cpu_has_native_bf16", lambda: True)
    assert choose_precision("auto") == "bf16"


# --- slow: the real provisioned model ------------------------------------------------------------------
@pytest.fixture(scope="session")
def model_cache() -> Path:
    """The default cache with the model installed (reused when already there)."""
    install_model(default_model_cache())
    return default_model_cache()


@pytest.fixture(scope="session")
def fp32_embedder(model_cache: Path) -> SentenceTransformerEmbedder:
    """The provisioned e5 at fp32."""
    embedder = load_embedder(Settings(model=DEFAULT_MODEL, model_cache=model_cache, precision="fp32"))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    return embedder


@pytest.mark.slow
def test_vectors_are_384_dim_and_normalised(fp32_embedder: SentenceTransformerEmbedder) -> None:
    passages = fp32_embedder.embed_passages([RUSSIAN, KAZAKH])
    queries = fp32_embedder.embed_queries([RUSSIAN])
    assert passages.shape == (2, 384) and queries.shape == (1, 384) and passages.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    assert fp32_embedder.dim == 384 and fp32_embedder.max_seq_length == 512
    assert fp32_embedder.embed_passages([]).shape == (0, 384)
    assert float(queries[0] @ passages[0]) < 0.9999  # the "query: " and "passage: " prompts are applied


@pytest.mark.slow
def test_translation_is_closer_than_unrelated_text(fp32_embedder: SentenceTransformerEmbedder) -> None:
    russian = fp32_embedder.embed_queries([RUSSIAN])[0]
    candidates = fp32_embedder.embed_passages([KAZAKH, *UNRELATED])
    scores = candidates @ russian
    assert scores.argmax() == 0, scores


@pytest.mark.slow
def test_count_tokens_matches_the_tokenizer(fp32_embedder: SentenceTransformerEmbedder) -> None:
    tokenizer = fp32_embedder.model.tokenizer
    for text in (RUSSIAN, KAZAKH, *UNRELATED, "", "  много   пробелов  ", "x" * 3000):
        assert fp32_embedder.count_tokens(text) == len(tokenizer(text, add_special_tokens=False)["input_ids"])
    assert fp32_embedder.count_tokens(KAZAKH) == len(tokenizer(KAZAKH)["input_ids"]) - 2  # <s> and </s>


@pytest.mark.slow
def test_bf16_stays_close_to_fp32(model_cache: Path, fp32_embedder: SentenceTransformerEmbedder) -> None:
    bf16 = load_embedder(Settings(model=DEFAULT_MODEL, model_cache=model_cache, precision="bf16"))
    assert bf16.precision == "bf16"
    texts = [RUSSIAN, KAZAKH, *UNRELATED, " ".join([KAZAKH] * 30)]
    low, high = bf16.embed_passages(texts), fp32_embedder.embed_passages(texts)
    assert low.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(low, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(low * high, axis=1))) >= 0.998


@pytest.mark.slow
def test_loaded_model_is_shared_in_process(model_cache: Path,
                                           fp32_embedder: SentenceTransformerEmbedder) -> None:
    again = load_embedder(Settings(model=DEFAULT_MODEL, model_cache=model_cache, precision="fp32"))
    assert isinstance(again, SentenceTransformerEmbedder) and again.model is fp32_embedder.model
