"""An Embedder over the model folder's ONNX export, run by ONNX Runtime ("onnx-fp32", "onnx-int8") or OpenVINO
("openvino-bf16").

Only the transformer runs in the engine. The rest is the torch path's: the folder's tokenizer with the same
padding and truncation, the same "query: "/"passage: " prompts (`index.embedding.prompts.role_prompts`), mean pooling
over the attention mask (prompt tokens included, as the folder's pooling config says) and L2 normalisation.
An ONNX Runtime fingerprint is the weights fingerprint of the torch model the export came from, combined with the
runtime label and the sha256 of the .onnx file, so vectors of different runtimes never share one.

openvino-bf16 runs the fp32 graph with OpenVINO's bf16 inference precision, for CPUs with native bf16. Its vectors
agree with torch fp32 at cosine 0.99998 or more (closer than torch-bf16's 0.99996), so it keeps the torch weights
fingerprint: one embedding space with torch-fp32 and torch-bf16, as those two share one (docs/model_identity.md;
`tests/test_onnx_runtime.py` checks the bound on the real model).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from index.embedding.batching import embed_in_batches
from index.embedding.onnx_export import (
    DEPS_HINT,
    ONNX_DIR,
    RUNTIME_FILES,
    export_is_current,
    file_sha256,
    read_manifest,
)
from index.embedding.prompts import role_prompts
from index.embedding.query_cache import QUERY_CACHE_SIZE, QueryVectorCache
from index.embedding.runtime import FP32_GRAPH_RUNTIMES
from pedkb.errors import ModelError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

logger = logging.getLogger(__name__)


class OnnxSession(NamedTuple):
    """A loaded engine: `forward` takes the tokenizer's arrays by input name and returns the last hidden state;
    `fingerprint` is that of the vectors it makes."""

    forward: Callable[[dict[str, np.ndarray]], np.ndarray]
    inputs: frozenset[str]
    fingerprint: str


_SESSIONS: dict[tuple[str, str], OnnxSession] = {}
_SESSIONS_LOCK = threading.Lock()
# Query lengths (in tokens, prompt and special tokens included) the warm-up runs the graph at once each. The engines
# prepare their kernels for each new input shape on first use: with OpenVINO the first query of a length took
# 6.2-9.3 ms against 3.9-6.9 ms for the next one (10-38 tokens, AMD EPYC, docs/benchmarks.md session 16); queries
# typed into a search box are 5-40 tokens long. 1-64 took 0.6 s.
WARM_QUERY_TOKENS = 64


def onnx_fingerprint(base: str, runtime: str, onnx_sha256: str) -> str:
    """16 hex digits of sha256 over the torch weights fingerprint, the runtime label and the .onnx file's sha256."""
    return hashlib.sha256(f"{base}\n{runtime}\n{onnx_sha256}".encode()).hexdigest()[:16]


def onnx_available(folder: Path) -> bool:
    """True when onnxruntime imports and the folder has a current export (what `auto` needs to pick ONNX)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return export_is_current(folder, ("onnx-int8",))


def openvino_available(folder: Path) -> bool:
    """True when openvino imports and the folder's export has a current fp32 graph (what `auto` needs to pick
    openvino-bf16)."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return export_is_current(folder, ("openvino-bf16",))


def _threads() -> int:
    """Intra-op threads: OMP_NUM_THREADS when set, else every CPU this process may run on."""
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def load_session(folder: Path, runtime: str) -> OnnxSession:
    """The engine of `runtime` (ONNX Runtime or OpenVINO) for a model folder, loaded once per (folder, runtime)."""
    if runtime not in RUNTIME_FILES:
        raise ModelError(f"runtime {runtime!r} is not an ONNX runtime ({', '.join(RUNTIME_FILES)})")
    key = (str(folder), runtime)
    with _SESSIONS_LOCK:
        if key in _SESSIONS:
            return _SESSIONS[key]
        if not export_is_current(folder, (runtime,)):
            flag = " --onnx-fp32" if runtime in FP32_GRAPH_RUNTIMES else ""
            raise ModelError(f"{folder} has no current ONNX export for runtime {runtime}; run `pedkb model "
                             f"install{flag}` to build it, or set PEDKB_RUNTIME=torch-fp32")
        manifest = read_manifest(folder) or {}
        path = folder / ONNX_DIR / RUNTIME_FILES[runtime]
        digest = file_sha256(path)
        if digest != manifest["files"][path.name]["sha256"]:
            raise ModelError(f"{path} does not have the sha256 its export record lists; run `pedkb model install "
                             "--force` to rebuild it")
        if runtime.startswith("openvino-"):
            loaded = _openvino_session(path, manifest["base_fingerprint"])
        else:
            fingerprint = onnx_fingerprint(manifest["base_fingerprint"], runtime, digest)
            loaded = _onnxruntime_session(path, runtime, fingerprint)
        logger.info("loaded %s (runtime %s, weights %s, %d threads)", path, runtime, loaded.fingerprint, _threads())
        _SESSIONS[key] = loaded
        return _SESSIONS[key]


def _onnxruntime_session(path: Path, runtime: str, fingerprint: str) -> OnnxSession:
    """The graph in an ONNX Runtime session with every graph optimisation, on every CPU's thread."""
    try:
        import onnxruntime
    except ImportError:
        raise ModelError(f"runtime {runtime} needs the onnxruntime package; {DEPS_HINT}") from None
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = _threads()
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return OnnxSession(lambda feed: session.run(["last_hidden_state"], feed)[0],
                       frozenset(node.name for node in session.get_inputs()), fingerprint)


def _openvino_session(path: Path, base_fingerprint: str) -> OnnxSession:
    """The fp32 graph compiled by OpenVINO for the CPU at bf16 inference precision, keeping the torch fingerprint
    (module docstring). One stream on every CPU's thread, the threads not pinned to cores: in the server pinned
    threads made a new search 6-8 ms slower (they wait for cores the request's own Python thread holds). Every
    call takes a request of its own (a few microseconds), so threads may embed at once."""
    try:
        import openvino
    except ImportError:
        raise ModelError(f"runtime openvino-bf16 needs the openvino package; {DEPS_HINT}") from None
    compiled = openvino.Core().compile_model(str(path), "CPU", {
        "INFERENCE_PRECISION_HINT": "bf16", "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": _threads(),
        "ENABLE_CPU_PINNING": False})
    output = compiled.outputs[0]

    def forward(feed: dict[str, np.ndarray]) -> np.ndarray:
        return np.array(compiled.create_infer_request().infer(feed)[output])

    return OnnxSession(forward, frozenset(node.get_any_name() for node in compiled.inputs), base_fingerprint)


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from the model folder ({} when the file is absent)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc


def _check_mean_pooling(folder: Path) -> None:
    """Refuse a folder whose pooling is not plain mean pooling over every token (the only kind done here)."""
    pooling = _read_json(folder / "1_Pooling" / "config.json")
    modes = {key: value for key, value in pooling.items() if key.startswith("pooling_mode_") and value}
    if set(modes) != {"pooling_mode_mean_tokens"} or not pooling.get("include_prompt", True):
        raise ModelError(f"{folder}: the ONNX runtime does mean pooling only, the model asks for {sorted(modes)}")


class OnnxEmbedder:
    """An Embedder running the ONNX export of a sentence-transformers folder (see the module docstring)."""

    def __init__(self, folder: Path, *, name: str, runtime: str, batch_size: int = 32,
                 query_cache_size: int = QUERY_CACHE_SIZE) -> None:
        from transformers import AutoTokenizer

        _check_mean_pooling(folder)
        loaded = load_session(folder, runtime)
        self._forward = loaded.forward
        self.name = name
        self.fingerprint = loaded.fingerprint
        self.runtime = runtime
        self.precision = runtime.partition("-")[2]
        self.batch_size = batch_size
        self.query_cache = QueryVectorCache(query_cache_size)
        self.dim = int(_read_json(folder / "1_Pooling" / "config.json")["word_embedding_dimension"])
        self._tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        configured = _read_json(folder / "sentence_bert_config.json").get("max_seq_length") or 512
        self.max_seq_length = int(min(configured, self._tokenizer.model_max_length))
        own = _read_json(folder / "config_sentence_transformers.json").get("prompts") or {}
        prompts = role_prompts({role: text for role, text in own.items() if text}, name)
        self._passage_prompt = prompts.get("passage")
        self._query_prompt = prompts.get("query")
        self._inputs = loaded.inputs

    def _run(self, texts: list[str]) -> np.ndarray:
        encoded = self._tokenizer(texts, padding=True, truncation="longest_first", max_length=self.max_seq_length,
                                  return_tensors="np")
        feed = {key: np.asarray(value, dtype=np.int64) for key, value in encoded.items() if key in self._inputs}
        hidden = self._forward(feed)
        mask = np.asarray(encoded["attention_mask"], dtype=np.float32)[:, :, None]
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        return pooled.astype(np.float32, copy=False)

    def _encode(self, texts: Sequence[str], prompt: str | None) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        prompted = [f"{prompt or ''}{text}" for text in texts]
        lengths = [min(self.count_tokens(text) + 2, self.max_seq_length) for text in prompted]
        out = embed_in_batches(prompted, lengths, self._run, dim=self.dim, max_rows=self.batch_size)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passage vectors ("passage: " prompt), float32, L2-normalised."""
        return self._encode(texts, self._passage_prompt)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors ("query: " prompt), float32, L2-normalised."""
        return self.query_cache.embed(texts, lambda batch: self._encode(batch, self._query_prompt), self.dim)

    def warm_query_lengths(self, longest: int = WARM_QUERY_TOKENS) -> int:
        """Run the graph once at each input length from 1 to `longest` tokens (see WARM_QUERY_TOKENS), so that no
        searcher's query is the first of its length; returns how many lengths were run. No vector is kept."""
        longest = min(longest, self.max_seq_length)
        text = f"{self._query_prompt or ''}{' '.join(['мектеп'] * longest)}"
        encoded = self._tokenizer([text], truncation=True, max_length=longest, return_tensors="np")
        full = {key: np.asarray(value, dtype=np.int64) for key, value in encoded.items() if key in self._inputs}
        for length in range(1, longest + 1):
            self._forward({key: value[:, :length] for key, value in full.items()})
        return longest

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` without special tokens or prompt, by the model's tokenizer (no length limit)."""
        if self._tokenizer.is_fast:
            return len(self._tokenizer.backend_tokenizer.encode(text, add_special_tokens=False).ids)
        return len(self._tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])
