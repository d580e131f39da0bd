"""Turn text into vectors: the Embedder protocol, the sentence-transformers implementation and its factory.

`load_embedder(settings)` resolves the model (a local folder, the offline-provisioned e5, or a hub name), picks
the runtime (`index.embedding.runtime`: torch fp32/bf16 here, or the ONNX export run by
`index.embedding.onnx_runtime`) and caches the loaded model per (path, precision) so the API and the CLI share one
copy in a process. A model's name does not identify its weights (the offline 4-bit e5 and the hub's fp32 e5 share
one), so each load also takes `weights_fingerprint` (`index.embedding.weights`). Texts are embedded in
length-sorted, token-budgeted batches (`index.embedding.batching`); query vectors go through an LRU.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable
from urllib.parse import urlsplit

import numpy as np

from index.embedding.batching import embed_in_batches
from index.embedding.prompts import role_prompts
from index.embedding.query_cache import QUERY_CACHE_SIZE, QueryVectorCache
from index.embedding.runtime import choose_runtime, cpu_flags
from index.embedding.weights import weights_fingerprint
from pedkb.errors import ModelError
from pedkb.settings import Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

INSTALL_HINT = "run `pedkb model install` to provision the default model offline"


class LoadedModel(NamedTuple):
    """A loaded SentenceTransformer with the fingerprint of its weights, taken at float32 before any cast."""

    model: SentenceTransformer
    fingerprint: str


_MODELS: dict[tuple[str, str], LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


@runtime_checkable
class Embedder(Protocol):
    """Something that maps passages and queries into one normalised vector space.

    `fingerprint` identifies the weights (a digest of them; the hashing embedder, which has none, uses its name);
    `runtime` names the engine and number format that make the vectors ("torch-fp32", "onnx-int8", "hashing").
    """

    name: str
    fingerprint: str
    dim: int
    precision: str
    runtime: str
    max_seq_length: int

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """float32 rows, L2-normalised, one per passage."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """float32 rows, L2-normalised, one per query."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` by the model's own tokenizer, without special tokens or prompts."""
        ...


@runtime_checkable
class WarmsQueryLengths(Protocol):
    """An embedder whose engine prepares kernels per input shape: the warm-up runs it at every query length."""

    def warm_query_lengths(self) -> int:
        """Run the model once at each query length it warms; returns how many."""
        ...


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when the CPU advertises amx_bf16 or avx512_bf16 (fast bfloat16 matrix maths)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    lines = [line for line in text.splitlines() if line.startswith("flags")]
    flags = set(lines[0].partition(":")[2].split()) if lines else set()
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def choose_precision(requested: str) -> str:
    """Resolve "auto" to "bf16" on CPUs with native bf16, else "fp32"; "fp32"/"bf16" pass through."""
    if requested == "auto":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    if requested not in ("fp32", "bf16"):
        raise ModelError(f"precision: unknown value {requested!r} (expected auto, fp32 or bf16)")
    return requested


def configure_torch_threads() -> int:
    """Use every CPU this process may run on, unless OMP_NUM_THREADS says otherwise; returns the count."""
    import torch

    if not os.environ.get("OMP_NUM_THREADS"):
        available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        if torch.get_num_threads() != available:
            torch.set_num_threads(available)
    return torch.get_num_threads()


def _normalised_rows(out: np.ndarray) -> np.ndarray:
    """float32 rows with unit L2 norm (zero rows stay zero)."""
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)



class SentenceTransformerEmbedder:
    """An Embedder over a loaded SentenceTransformer, using its "query"/"passage" prompts when it has them, else
    the prompts its family is known to need (`known_prompts`)."""

    def __init__(self, model: SentenceTransformer, *, name: str, fingerprint: str, precision: str,
                 batch_size: int = 32, query_cache_size: int = QUERY_CACHE_SIZE) -> None:
        self.model = model
        self.name = name
        self.fingerprint = fingerprint
        self.precision = precision
        self.batch_size = batch_size
        self.query_cache = QueryVectorCache(query_cache_size)
        dim_of = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = dim_of()
        if not dim:
            raise ModelError(f"embedding model {name!r} does not report its vector dimension")
        self.dim = int(dim)
        self.max_seq_length = int(model.max_seq_length or 512)
        self.runtime = f"torch-{precision}"
        self._threads = configure_torch_threads()
        own = {role: text for role, text in (getattr(model, "prompts", None) or {}).items() if text}
        # The texts themselves, by role: sentence-transformers 6 adds an empty "document" prompt that
        # encode_document would prefer over "passage", and the loaded model is shared, so it is not changed.
        prompts = role_prompts(own, name)
        self._passage_prompt = prompts.get("passage")
        self._query_prompt = prompts.get("query")
        tokenizer = model.tokenizer
        self._backend_tokenizer = getattr(tokenizer, "backend_tokenizer", None)
        self._tokenizer = tokenizer

    def _encode(self, texts: Sequence[str], prompt: str | None) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        extra = self.count_tokens(prompt) + 2 if prompt else 2  # the prompt and the special tokens
        lengths = [min(self.count_tokens(text) + extra, self.max_seq_length) for text in texts]
        vectors = embed_in_batches(list(texts), lengths, lambda batch: self._run(batch, prompt), dim=self.dim,
                                   max_rows=self.batch_size)
        return _normalised_rows(vectors)  # bf16 outputs are cast back to float32 and re-normalised

    def _run(self, batch: list[str], prompt: str | None) -> np.ndarray:
        """One batch through the model's own preprocessing and forward pass: what `encode` does per batch, without
        its per-call bookkeeping (a device lookup over every parameter and a train(False) walk over every module,
        about 4 ms of Python per call, half the cost of a short query)."""
        import torch

        # Every call sets its thread's OpenMP thread count (torch keeps it per thread and hands the last value set
        # to threads started later): one text alone on one thread, since a query of 10-30 tokens spends more on
        # waking and joining a second thread than it gains (in the server's import order 11.4 ms on one thread
        # against 19.4 ms on two, same vector bit for bit; docs/benchmarks.md); batches on all of them.
        torch.set_num_threads(1 if len(batch) == 1 else self._threads)
        try:
            with torch.inference_mode():
                features = self.model.preprocess(batch, prompt=prompt)
                vectors = self.model(features)["sentence_embedding"]
        finally:
            torch.set_num_threads(self._threads)
        return vectors.float().numpy()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passage vectors ("passage: " prompt), float32, L2-normalised."""
        return self._encode(texts, self._passage_prompt)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors ("query: " prompt), float32, L2-normalised."""
        return self.query_cache.embed(texts, lambda batch: self._encode(batch, self._query_prompt), self.dim)

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` without special tokens or prompt, by the model's tokenizer (no length limit)."""
        if self._backend_tokenizer is not None:
            return len(self._backend_tokenizer.encode(text, add_special_tokens=False).ids)
        return len(self._tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


def _looks_like_path(name: str) -> bool:
    """A local path rather than a hub id ("org/name"): absolute, ./ ../ ~ relative, or several slashes."""
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name


def _hub_unreachable() -> str | None:
    """Why the model hub cannot be reached (fast check, so a missing model fails in seconds), or None."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set"
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None  # a proxy may reach what a direct connection cannot; let the download try
    host = urlsplit(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=3).close()
    except OSError as exc:
        return f"{host} is unreachable ({exc})"
    return None


def _open_model(path: str) -> SentenceTransformer:
    """A local folder, else a hub model from the local HF cache, else from the hub when it is reachable."""
    from sentence_transformers import SentenceTransformer

    if Path(path).is_dir():
        return SentenceTransformer(path, device="cpu", local_files_only=True)
    try:
        return SentenceTransformer(path, device="cpu", local_files_only=True)
    except Exception:  # not in the Hugging Face cache: try the hub
        reason = _hub_unreachable()
        if reason:
            raise ModelError(f"embedding model {path!r} is not available offline and {reason}; "
                             f"{INSTALL_HINT}") from None
    logger.info("downloading embedding model %s from the hub", path)
    return SentenceTransformer(path, device="cpu")


def load_sentence_transformer(path: str, precision: str) -> LoadedModel:
    """The model at `path` in `precision` and its weights fingerprint, loaded once per (path, precision)."""
    key = (path, precision)
    with _MODELS_LOCK:
        if key in _MODELS:
            return _MODELS[key]
        import torch

        threads = configure_torch_threads()
        try:
            model = _open_model(path)
        except ModelError:
            raise
        except Exception as exc:  # OSError, HTTP and parse errors all mean the same to a user
            raise ModelError(f"cannot load embedding model {path!r}: {exc}; {INSTALL_HINT}") from exc
        fingerprint = weights_fingerprint(model)  # before the cast, so fp32 and bf16 loads agree
        model = model.to(torch.bfloat16 if precision == "bf16" else torch.float32)
        model.eval()
        logger.info("loaded embedding model %s (weights %s, precision %s, %d torch threads)", path, fingerprint,
                    precision, threads)
        _MODELS[key] = LoadedModel(model, fingerprint)
        return _MODELS[key]


def load_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for: `hashing:<dim>` for tests, else the model in the chosen runtime."""
    from index.embedding.onnx_runtime import OnnxEmbedder, onnx_available, openvino_available
    from index.embedding.provision import resolve_model_path

    name = settings.model
    if name.startswith("hashing:"):
        from index.embedding.hashing import HashingEmbedder

        dims = name.partition(":")[2]
        if not dims.isdigit() or int(dims) < 1:
            raise ModelError(f"model: {name!r} is not hashing:<dimension>")
        return HashingEmbedder(int(dims))
    path = resolve_model_path(name, settings.model_cache)
    if _looks_like_path(path) and not Path(path).expanduser().is_dir():
        raise ModelError(f"embedding model folder {path} does not exist; {INSTALL_HINT}, "
                         "or set PEDKB_MODEL to an existing model folder")
    folder = Path(path).expanduser()
    runtime = choose_runtime(settings.runtime, settings.precision, flags=cpu_flags(),
                             onnx_available=folder.is_dir() and onnx_available(folder),
                             openvino_available=folder.is_dir() and openvino_available(folder))
    embedder: SentenceTransformerEmbedder | OnnxEmbedder
    if not runtime.startswith("torch-"):  # onnx-* and openvino-*: the export
        if not folder.is_dir():
            raise ModelError(f"runtime {runtime} needs a local model folder with an ONNX export; {INSTALL_HINT}")
        embedder = OnnxEmbedder(folder, name=name, runtime=runtime, batch_size=settings.batch_size,
                                query_cache_size=settings.query_cache_size)
    else:
        precision = runtime.partition("-")[2]
        loaded = load_sentence_transformer(path, precision)
        embedder = SentenceTransformerEmbedder(loaded.model, name=name, fingerprint=loaded.fingerprint,
                                               precision=precision, batch_size=settings.batch_size,
                                               query_cache_size=settings.query_cache_size)
    logger.info("embedder %s: %d dims, weights %s, runtime %s (requested runtime %s, precision %s), batch %d, "
                "from %s", name, embedder.dim, embedder.fingerprint, runtime, settings.runtime, settings.precision,
                settings.batch_size, path)
    return embedder
