"""The ONNX Runtime and OpenVINO runtimes: the `auto` rule by CPU flags (fast), the real export against torch (slow)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from index.embedding.runtime import auto_runtime, choose_runtime, cpu_flags, export_wanted, fp32_graph_wanted
from pedkb.errors import ModelError
from pedkb.settings import DEFAULT_MODEL, Settings

AMX = frozenset({"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "amx_tile"})
ZEN4 = frozenset({"avx2", "avx512f", "avx512_vnni", "avx512_bf16"})
ALDER_LAKE = frozenset({"avx2", "avx_vnni"})
CASCADE_LAKE = frozenset({"avx2", "avx512f", "avx512_vnni"})
COOPER_LAKE_NO_VNNI = frozenset({"avx2", "avx512f", "avx512_bf16"})
HASWELL = frozenset({"avx", "avx2", "fma"})

SENTENCES = [
    "Мұғалім сабақта жобалық оқыту әдісін қолданып, оқушылардың сыни ойлауын дамытады.",
    "Учитель использует проектное обучение, чтобы развивать критическое мышление учеников.",
    "Мугалим сабакта долбоордук окутууну колдонуп, окуучулардын сынчыл ой жүгүртүүсүн өнүктүрөт.",
    "Оқушылар топпен жұмыс істеп, өз нәтижелерін сыныпқа таныстырады.",
    "Ученики работают в парах и оценивают ответы друг друга по критериям.",
    "Окуучулар топтордо иштешип, жыйынтыктарын класска көрсөтүшөт.",
]


@pytest.mark.parametrize(("flags", "onnx", "openvino", "expected"), [
    (AMX, True, True, "torch-bf16"),
    (ZEN4, True, True, "openvino-bf16"),  # this project's AMD EPYC: 3x torch-bf16 per query, same vectors
    (ZEN4, True, False, "torch-bf16"),  # no fp32 graph: int8 is no faster than bf16 there, and fails three tests
    (ALDER_LAKE, True, True, "onnx-int8"),
    (CASCADE_LAKE, True, True, "onnx-int8"),
    (COOPER_LAKE_NO_VNNI, True, True, "openvino-bf16"),
    (COOPER_LAKE_NO_VNNI, True, False, "torch-bf16"),
    (HASWELL, True, True, "torch-fp32"),
    (frozenset(), True, True, "torch-fp32"),
    (ZEN4, False, False, "torch-bf16"),
    (CASCADE_LAKE, False, True, "torch-fp32"),
    (ALDER_LAKE, False, False, "torch-fp32"),
])
def test_auto_picks_by_cpu_flags(flags: frozenset[str], onnx: bool, openvino: bool, expected: str) -> None:
    assert auto_runtime(flags, onnx_available=onnx, openvino_available=openvino) == expected
    assert choose_runtime("auto", "auto", flags=flags, onnx_available=onnx, openvino_available=openvino) == expected


def test_the_export_is_wanted_where_it_would_run() -> None:
    assert export_wanted("auto", "auto", CASCADE_LAKE) and export_wanted("auto", "auto", ALDER_LAKE)
    assert export_wanted("auto", "auto", ZEN4) and not export_wanted("auto", "auto", AMX)
    assert not export_wanted("auto", "auto", HASWELL) and not export_wanted("auto", "fp32", CASCADE_LAKE)
    assert not export_wanted("auto", "bf16", ZEN4)  # an explicit precision keeps its old meaning: torch
    assert export_wanted("onnx-int8", "auto", HASWELL) and export_wanted("onnx-fp32", "auto", ZEN4)


def test_the_fp32_graph_is_kept_for_the_runtimes_that_run_it() -> None:
    assert fp32_graph_wanted("onnx-fp32", "auto", HASWELL) and fp32_graph_wanted("openvino-bf16", "auto", HASWELL)
    assert fp32_graph_wanted("auto", "auto", ZEN4) and not fp32_graph_wanted("auto", "auto", AMX)
    assert not fp32_graph_wanted("onnx-int8", "auto", ZEN4) and not fp32_graph_wanted("auto", "auto", CASCADE_LAKE)
    assert choose_runtime("openvino-bf16", "fp32", flags=HASWELL, onnx_available=False) == "openvino-bf16"
    assert Settings(runtime="openvino-bf16").runtime == "openvino-bf16"


def test_explicit_settings_win_over_auto() -> None:
    assert choose_runtime("onnx-fp32", "bf16", flags=AMX, onnx_available=True) == "onnx-fp32"
    assert choose_runtime("auto", "fp32", flags=ZEN4, onnx_available=True) == "torch-fp32"
    assert choose_runtime("auto", "bf16", flags=HASWELL, onnx_available=True) == "torch-bf16"
    with pytest.raises(ModelError):
        choose_runtime("tensorrt", "auto", flags=ZEN4, onnx_available=True)
    with pytest.raises(ValidationError):
        Settings(runtime="onnx-int4")  # type: ignore[arg-type]


def test_cpu_flags_reads_the_first_flags_line(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu avx2 avx512_vnni\n\n"
                       "processor\t: 1\nflags\t\t: fpu\n", encoding="utf-8")
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_vnni"}
    assert cpu_flags(tmp_path / "missing") == frozenset()


# --- the real model (provisioned by `pedkb model install`) ------------------------------------------------
@pytest.fixture(scope="module")
def model_folder() -> Path:
    """The provisioned default model folder with its ONNX export."""
    from index.embedding.onnx_export import build_onnx
    from index.embedding.provision import install_model

    folder = install_model(Settings().model_cache)
    build_onnx(folder, keep_fp32=True)  # a no-op when `pedkb model install --onnx-fp32` built it already
    return folder


@pytest.fixture(scope="module")
def embedders(model_folder: Path) -> Iterator[dict[str, Any]]:
    """torch-fp32, onnx-fp32 and onnx-int8 embedders of the default model, by runtime label."""
    from index.embedding.embedder import load_embedder

    yield {runtime: load_embedder(Settings(model=DEFAULT_MODEL, runtime=runtime))
           for runtime in ("torch-fp32", "onnx-fp32", "onnx-int8")}


@pytest.mark.slow
def test_int8_vectors_stay_close_to_torch_fp32(embedders: dict[str, Any]) -> None:
    torch_fp32, onnx_fp32, onnx_int8 = (embedders[r] for r in ("torch-fp32", "onnx-fp32", "onnx-int8"))
    for role in ("embed_passages", "embed_queries"):
        ref = getattr(torch_fp32, role)(SENTENCES)
        fp32 = getattr(onnx_fp32, role)(SENTENCES)
        int8 = getattr(onnx_int8, role)(SENTENCES)
        assert int8.dtype == np.float32 and int8.shape == ref.shape
        assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
        assert np.sum(ref * fp32, axis=1).min() > 0.9999, role
        assert np.sum(ref * int8, axis=1).min() >= 0.99, role


@pytest.mark.slow
def test_prompts_are_applied_as_in_torch(embedders: dict[str, Any]) -> None:
    torch_fp32, onnx_fp32 = embedders["torch-fp32"], embedders["onnx-fp32"]
    assert (onnx_fp32._query_prompt, onnx_fp32._passage_prompt) == ("query: ", "passage: ")
    assert (onnx_fp32._query_prompt, onnx_fp32._passage_prompt) == (torch_fp32._query_prompt,
                                                                    torch_fp32._passage_prompt)
    raw = torch_fp32.model.encode(["query: " + SENTENCES[1]], normalize_embeddings=True)
    assert float(np.dot(raw[0], onnx_fp32.embed_queries([SENTENCES[1]])[0])) > 0.9999
    query, passage = onnx_fp32.embed_queries(SENTENCES[:1])[0], onnx_fp32.embed_passages(SENTENCES[:1])[0]
    assert float(np.dot(query, passage)) < 0.999  # the prompt reached the model
    assert onnx_fp32.count_tokens(SENTENCES[0]) == torch_fp32.count_tokens(SENTENCES[0])
    assert onnx_fp32.embed_queries([]).shape == (0, torch_fp32.dim)


@pytest.mark.slow
def test_runtime_labels_and_fingerprints_differ(embedders: dict[str, Any]) -> None:
    labels = {runtime: (e.runtime, e.precision) for runtime, e in embedders.items()}
    assert labels == {"torch-fp32": ("torch-fp32", "fp32"), "onnx-fp32": ("onnx-fp32", "fp32"),
                      "onnx-int8": ("onnx-int8", "int8")}
    prints = {e.fingerprint for e in embedders.values()}
    assert len(prints) == 3 and all(len(p) == 16 for p in prints)


@pytest.mark.slow
def test_auto_follows_this_cpu(model_folder: Path) -> None:
    from index.embedding.embedder import load_embedder

    auto = load_embedder(Settings(model=DEFAULT_MODEL))
    expected = auto_runtime(cpu_flags(), onnx_available=True, openvino_available=True)
    assert auto.runtime == expected  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_repeated_query_comes_from_the_cache(embedders: dict[str, Any]) -> None:
    int8 = embedders["onnx-int8"]
    asked, new = "Жаңа мұғалімге тәлімгер қалай көмектеседі?", "Как наставник помогает молодому учителю?"
    first = int8.embed_queries([asked])
    hits, misses = int8.query_cache.hits, int8.query_cache.misses
    again = int8.embed_queries([asked, new])
    assert (int8.query_cache.hits, int8.query_cache.misses) == (hits + 1, misses + 1)
    assert np.array_equal(first[0], again[0])
    assert float(np.dot(again[1], int8.embed_passages([new])[0])) < 0.999  # passages: not the query cache


@pytest.mark.slow
def test_torch_embeds_as_sentence_transformers_encode_on_every_thread_count(embedders: dict[str, Any]) -> None:
    """The torch embedder runs the model's preprocessing and forward pass itself (encode's per-call bookkeeping
    cost a short query half its time): the vectors are encode's, a single text runs on one thread and the thread
    count is back afterwards."""
    import torch

    torch_fp32 = embedders["torch-fp32"]
    threads = torch.get_num_threads()
    for prompt, role in (("query: ", "embed_queries"), ("passage: ", "embed_passages")):
        ours = np.concatenate([getattr(torch_fp32, role)([s + " ?"]) for s in SENTENCES])  # one text a call
        batch = getattr(torch_fp32, role)([s + " ?" for s in SENTENCES])
        theirs = torch_fp32.model.encode([s + " ?" for s in SENTENCES], prompt=prompt, normalize_embeddings=True,
                                         batch_size=1)
        assert np.sum(ours * theirs, axis=1).min() > 0.99999, role
        assert np.sum(batch * theirs, axis=1).min() > 0.99999, role
        assert torch.get_num_threads() == threads
    seen: list[int] = []
    real = torch_fp32.model.forward

    def spy(features: Any, **kwargs: Any) -> Any:
        seen.append(torch.get_num_threads())
        return real(features, **kwargs)

    torch_fp32.model.forward = spy
    try:
        torch_fp32.embed_queries(["как организовать работу в парах ?!"])
        torch_fp32.embed_passages(SENTENCES[:2])
    finally:
        del torch_fp32.model.forward
    assert seen == [1, threads]


@pytest.fixture(scope="module")
def openvino(model_folder: Path) -> Any:
    """The openvino-bf16 embedder of the default model."""
    from index.embedding.embedder import load_embedder

    return load_embedder(Settings(model=DEFAULT_MODEL, runtime="openvino-bf16"))


@pytest.mark.slow
def test_openvino_bf16_makes_torch_vectors_and_keeps_their_fingerprint(embedders: dict[str, Any],
                                                                      openvino: Any) -> None:
    """openvino-bf16 shares the torch weights fingerprint because its vectors are torch's to cosine 0.9999 (torch
    bf16 itself keeps 0.99996): on queries and passages, one text a call and in batches, from several threads."""
    from concurrent.futures import ThreadPoolExecutor

    torch_fp32 = embedders["torch-fp32"]
    assert (openvino.runtime, openvino.precision) == ("openvino-bf16", "bf16")
    assert openvino.fingerprint == torch_fp32.fingerprint
    texts = SENTENCES + [s.upper() + " Бұл туралы толығырақ келесі тарауда." for s in SENTENCES]
    for role in ("embed_queries", "embed_passages"):
        theirs = getattr(torch_fp32, role)(texts)
        batch = getattr(openvino, role)(texts)
        single = np.concatenate([getattr(openvino, role)([t + " ?"]) for t in texts])
        assert np.sum(batch * theirs, axis=1).min() > 0.9999, role
        assert np.sum(single * getattr(torch_fp32, role)([t + " ?" for t in texts]), axis=1).min() > 0.9999, role
    assert float(np.dot(openvino.embed_queries(SENTENCES[:1])[0], openvino.embed_passages(SENTENCES[:1])[0])) < 0.999
    assert openvino.count_tokens(SENTENCES[0]) == torch_fp32.count_tokens(SENTENCES[0])
    alone = openvino.embed_passages(texts)
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda _: openvino.embed_passages(texts), range(8)))
    assert all(np.allclose(v, alone, atol=1e-5) for v in together)


@pytest.mark.slow
def test_a_torch_built_store_is_searched_and_extended_by_openvino(tmp_path: Path, embedders: dict[str, Any],
                                                                  openvino: Any) -> None:
    """Same fingerprint, so no reindex: the store answers openvino's queries as torch's, and a write by openvino
    is recorded beside torch in the store's runtimes."""
    from index.knowledge_base import KnowledgeBase
    from index.space import RUNTIME_META

    docs = tmp_path / "docs"
    docs.mkdir()
    for i, text in enumerate(SENTENCES):
        (docs / f"{i}.txt").write_text(text * 3, encoding="utf-8")
    settings = Settings(data=tmp_path / "data", model=DEFAULT_MODEL)
    queries = ["как ученики работают в парах", "жобалық оқыту", "окуучулар топтордо"]
    with KnowledgeBase(settings, embedder=embedders["torch-fp32"]) as kb:
        kb.ingest([docs])
        before = [[h.chunk.doc_id for h in kb.search(q, k=6, mode="dense")] for q in queries]
    with KnowledgeBase(settings, embedder=openvino) as kb:
        assert [[h.chunk.doc_id for h in kb.search(q, k=6, mode="dense")] for q in queries] == before
        (docs / "extra.txt").write_text("Мұғалімдер тәжірибе алмасады. " * 5, encoding="utf-8")
        kb.ingest([docs / "extra.txt"])
        assert kb.backend.get_meta(RUNTIME_META) == "openvino-bf16,torch-fp32"


@pytest.mark.slow
def test_warming_runs_the_graph_at_every_query_length_and_keeps_nothing(openvino: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The warm-up's pass over query lengths feeds the engine one input of each length from 1 to 64 tokens and
    leaves the query cache and the vectors as they were."""
    from index.embedding.embedder import WarmsQueryLengths

    assert isinstance(openvino, WarmsQueryLengths)
    openvino.query_cache = type(openvino.query_cache)(openvino.query_cache.size)  # embedded here, not recalled
    before = openvino.embed_queries(SENTENCES[:2])
    cached = len(openvino.query_cache)
    forward = openvino._forward
    shapes: list[tuple[int, ...]] = []

    def recorded(feed: dict[str, np.ndarray]) -> np.ndarray:
        shapes.append(feed["input_ids"].shape)
        assert {value.shape for value in feed.values()} == {feed["input_ids"].shape}
        return forward(feed)

    monkeypatch.setattr(openvino, "_forward", recorded)
    assert openvino.warm_query_lengths() == 64
    assert shapes == [(1, length) for length in range(1, 65)]
    assert len(openvino.query_cache) == cached
    monkeypatch.setattr(openvino, "_forward", forward)
    openvino.query_cache = type(openvino.query_cache)(openvino.query_cache.size)
    np.testing.assert_array_equal(openvino.embed_queries(SENTENCES[:2]), before)
