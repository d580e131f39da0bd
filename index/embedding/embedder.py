"""Turn text into vectors: the Embedder protocol, the sentence-transformers implementation and its factory.

`load_embedder(settings)` resolves the model (a local folder, the offline-provisioned e5, or a hub name),
picks the precision (bf16 where the CPU has native bf16, else fp32) and caches the loaded model per
(path, precision) so the API and the CLI share one copy in a process. A model's name does not identify its
weights (the offline 4-bit e5 and the hub's fp32 e5 share one), so each load also takes `weights_fingerprint`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable
from urllib.parse import urlsplit

import numpy as np

from pedkb.errors import ModelError
from pedkb.settings import Settings

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

INSTALL_HINT = "run `pedkb model install` to provision the default model offline"
WHOLE_TENSOR_LIMIT = 1 << 22  # elements; a larger tensor (the word-embedding matrix) is fingerprinted by a row sample
SAMPLED_ROW_STRIDE = 16


class LoadedModel(NamedTuple):
    """A loaded SentenceTransformer with the fingerprint of its weights, taken at float32 before any cast."""

    model: SentenceTransformer
    fingerprint: str


_MODELS: dict[tuple[str, str], LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


@runtime_checkable
class Embedder(Protocol):
    """Something that maps passages and queries into one normalised vector space.

    `fingerprint` identifies the weights (a digest of them; the hashing embedder, which has none, uses its name).
    """

    name: str
    fingerprint: str
    dim: int
    precision: str
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


def weights_fingerprint(model: torch.nn.Module) -> str:
    """16 hex digits of sha256 over the parameters as float32 (about 0.1 s for e5-small).

    Every tensor counts whole, except that one over WHOLE_TENSOR_LIMIT elements (the word embeddings) counts
    every SAMPLED_ROW_STRIDE-th row, and the transformers pooler (never used by sentence-transformers, and
    randomly initialised when a checkpoint lacks it) is left out. Tensors are hashed by shape and values, not by
    name, and combined in sorted order, so a library renaming its modules does not change the digest. Take it
    before casting: a bf16 copy has other values.
    """
    import torch

    parts = []
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "pooler" in name.split("."):
                continue
            values = param.detach()
            if values.numel() > WHOLE_TENSOR_LIMIT:
                values = values[::SAMPLED_ROW_STRIDE]
            array = values.float().contiguous().cpu().numpy().astype("<f4", copy=False)
            part = hashlib.sha256(repr(tuple(param.shape)).encode())
            part.update(array.data)
            parts.append(part.digest())
    return hashlib.sha256(b"".join(sorted(parts))).hexdigest()[:16]


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


def _normalised(vectors: torch.Tensor) -> np.ndarray:
    """float32 numpy rows with unit L2 norm (zero rows stay zero)."""
    out = vectors.float().cpu().numpy()
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)


# Prompts of model families whose published sentence-transformers configs predate prompts: loaded by name from
# the hub, intfloat's E5 models come without them and would embed queries and passages unprefixed.
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}
_E5_NAME = re.compile(r"(?:^|[-_])e5(?:[-_]|$)")


def known_prompts(name: str) -> dict[str, str]:
    """The query/passage prompts a model family was trained with, by the model's name ({} when unknown).

    E5 ("intfloat/multilingual-e5-small", "e5-base-v2", a local folder named so) uses "query: " and "passage: ";
    the instruction-tuned E5 variants take task instructions instead and get nothing here.
    """
    last = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()
    return dict(E5_PROMPTS) if _E5_NAME.search(last) and "instruct" not in last else {}


class SentenceTransformerEmbedder:
    """An Embedder over a loaded SentenceTransformer, using its "query"/"passage" prompts when it has them, else
    the prompts its family is known to need (`known_prompts`)."""

    def __init__(self, model: SentenceTransformer, *, name: str, fingerprint: str, precision: str,
                 batch_size: int = 32) -> None:
        self.model = model
        self.name = name
        self.fingerprint = fingerprint
        self.precision = precision
        self.batch_size = batch_size
        dim_of = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = dim_of()
        if not dim:
            raise ModelError(f"embedding model {name!r} does not report its vector dimension")
        self.dim = int(dim)
        self.max_seq_length = int(model.max_seq_length or 512)
        own = {role: text for role, text in (getattr(model, "prompts", None) or {}).items() if text}
        known = {role: text for role, text in known_prompts(name).items() if role not in own}
        if known:
            logger.info("embedding model %s has no %s prompt(s) in its configuration; using %s, as its family "
                        "was trained", name, "/".join(sorted(known)), known)
        # The texts themselves, by role: sentence-transformers 6 adds an empty "document" prompt that
        # encode_document would prefer over "passage", and the loaded model is shared, so it is not changed.
        prompts = {**own, **known}
        self._passage_prompt = prompts.get("passage")
        self._query_prompt = prompts.get("query")
        tokenizer = model.tokenizer
        self._backend_tokenizer = getattr(tokenizer, "backend_tokenizer", None)
        self._tokenizer = tokenizer

    def _encode(self, texts: Sequence[str], prompt: str | None) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(list(texts), prompt=prompt, batch_size=self.batch_size,
                                    convert_to_tensor=True, show_progress_bar=False)
        return _normalised(vectors)  # bf16 outputs are cast back to float32 and re-normalised

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passage vectors ("passage: " prompt), float32, L2-normalised."""
        return self._encode(texts, self._passage_prompt)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors ("query: " prompt), float32, L2-normalised."""
        return self._encode(texts, self._query_prompt)

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
    """The embedder the settings ask for: `hashing:<dim>` for tests, else a sentence-transformers model."""
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
    precision = choose_precision(settings.precision)
    loaded = load_sentence_transformer(path, precision)
    embedder = SentenceTransformerEmbedder(loaded.model, name=name, fingerprint=loaded.fingerprint,
                                           precision=precision, batch_size=settings.batch_size)
    logger.info("embedder %s: %d dims, weights %s, precision %s (requested %s), batch %d, from %s", name,
                embedder.dim, embedder.fingerprint, precision, settings.precision, settings.batch_size, path)
    return embedder
