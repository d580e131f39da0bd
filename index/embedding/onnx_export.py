"""Build the ONNX export of a sentence-transformers model folder and its int8 copy, offline, beside the model.

`<model>/onnx/model.onnx` is the transformer (input_ids, attention_mask -> last_hidden_state) exported by
`torch.onnx.export` and fused by ONNX Runtime's transformer optimizer; `<model>/onnx/model_qint8.onnx` is that
graph with the weights of its matrix products dynamically quantised to int8 per output channel by
`onnxruntime.quantization.quantize_dynamic` (activations are quantised at run time; embeddings stay float32).
Tokenizer, prompts, pooling and normalisation stay in the model folder and are shared with the torch path.
`pedkb-onnx.json` records what the export was built from (the model.safetensors digest, the weights fingerprint)
and each file's sha256; a build is reused while that record matches the folder, so a second install is a no-op.
Only the int8 graph (407 MB) is kept by default: the fp32 graph (470 MB) is the step before quantisation, kept
with `keep_fp32` (`pedkb model install --onnx-fp32`) for the onnx-fp32 runtime and the speed benchmark.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import logging
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from index.embedding.provision import read_provenance
from index.embedding.runtime import FP32_GRAPH_RUNTIMES
from index.embedding.weights import weights_fingerprint
from pedkb.errors import ModelError

logger = logging.getLogger(__name__)

ONNX_DIR = "onnx"
FP32_FILE = "model.onnx"
INT8_FILE = "model_qint8.onnx"
MANIFEST_FILE = "pedkb-onnx.json"
EXPORT_VERSION = "3"
INT8_OPS = ("MatMul", "Attention")
OPSET = 17
SOURCE_FILE = "model.safetensors"
RUNTIME_FILES = {"onnx-int8": INT8_FILE, **dict.fromkeys(sorted(FP32_GRAPH_RUNTIMES), FP32_FILE)}  # the graph each runs
DEPS_HINT = "they are pedkb dependencies: reinstall it (`pip install -e .`)"


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 4 MB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def source_sha256(folder: Path) -> str:
    """sha256 of the folder's model.safetensors: from the provisioning record when it has one, else hashed."""
    prov = read_provenance(folder) or {}
    recorded = (prov.get("files") or {}).get(SOURCE_FILE) or {}
    source = folder / SOURCE_FILE
    if not source.is_file():
        raise ModelError(f"{folder} has no {SOURCE_FILE}; the ONNX export needs a safetensors model folder")
    if recorded.get("sha256") and recorded.get("size") == source.stat().st_size:
        return str(recorded["sha256"])
    return file_sha256(source)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The export record of a model folder, or None when there is none or it is unreadable."""
    try:
        return json.loads((folder / ONNX_DIR / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def export_is_current(folder: Path, runtimes: tuple[str, ...] = ("onnx-int8",)) -> bool:
    """True when the folder's export has the graphs of `runtimes`, is of this EXPORT_VERSION and was built from
    its present weights."""
    manifest = read_manifest(folder)
    if not manifest or manifest.get("export_version") != EXPORT_VERSION:
        return False
    files = manifest.get("files") or {}
    for runtime in runtimes:
        name = RUNTIME_FILES[runtime]
        path = folder / ONNX_DIR / name
        if name not in files or not path.is_file() or path.stat().st_size != files[name].get("size"):
            return False
    try:
        return manifest.get("source_sha256") == source_sha256(folder)
    except ModelError:
        return False


def _require_tools() -> None:
    """Fail with the install hint when onnx or onnxruntime is missing."""
    for module in ("onnx", "onnxruntime"):
        try:
            importlib.metadata.version(module)
        except importlib.metadata.PackageNotFoundError:
            raise ModelError(f"the ONNX export needs the {module} package; {DEPS_HINT}") from None


def _export_fp32(model_path: Path, target: Path) -> str:
    """Export the folder's transformer to `target` at float32, fused for ONNX Runtime; returns its fingerprint.

    The model is loaded with eager attention: ONNX Runtime's transformer optimizer recognises that graph and
    fuses it (Attention, SkipLayerNormalization, BiasGelu, EmbedLayerNormalization), which with int8 weights
    ran 2x faster here than the unfused SDPA graph. Same weights: the fingerprint equals the torch path's.
    """
    import torch
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModel, AutoTokenizer

    transformer = AutoModel.from_pretrained(str(model_path), attn_implementation="eager", local_files_only=True)
    transformer.eval()
    fingerprint = weights_fingerprint(transformer)

    class LastHiddenState(torch.nn.Module):
        """The transformer with plain tensor inputs and its last hidden state as the only output."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    tokenizer = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
    sample = tokenizer(["passage: a sample", "query: a longer sample text"], padding=True, return_tensors="pt")
    axes = {0: "batch", 1: "tokens"}
    plain = target.with_name(f"plain-{target.name}")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        # The TorchScript exporter: the dynamo exporter's graph is not fused by the optimizer below.
        torch.onnx.export(LastHiddenState(transformer), (sample["input_ids"], sample["attention_mask"]),
                          str(plain), input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
                          opset_version=OPSET, dynamo=False)
    config = transformer.config
    fused = optimize_model(str(plain), model_type="bert", num_heads=config.num_attention_heads,
                           hidden_size=config.hidden_size, opt_level=1)
    logger.info("ONNX Runtime fusions: %s", {op: n for op, n in fused.get_fused_operator_statistics().items() if n})
    fused.save_model_to_file(str(target))
    plain.unlink()
    return fingerprint


def _quantise_int8(source: Path, target: Path) -> dict[str, Any]:
    """Write the int8 copy of `source` (weights per channel, signed); returns the settings used."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Only the layers' matrix products: quantising the fused embedding lookup too (EmbedLayerNormalization)
    # saved 290 MB but lowered the worst query cosine to torch fp32 from 0.995 to 0.993 and was no faster.
    # The fused operators are in ONNX Runtime's own domain, which shape inference does not type.
    quantize_dynamic(source, target, per_channel=True, weight_type=QuantType.QInt8,
                     op_types_to_quantize=list(INT8_OPS),
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return {"method": "onnxruntime.quantization.quantize_dynamic", "ops": list(INT8_OPS),
            "weights": "int8 per channel", "activations": "uint8, dynamic", "embeddings": "float32",
            "graph": "onnxruntime.transformers.optimizer (bert fusions)"}


def _versions() -> dict[str, str]:
    """Versions of the tools that shape the exported graphs."""
    names = ("torch", "transformers", "onnx", "onnxruntime")
    return {name: importlib.metadata.version(name) for name in names}


def build_onnx(folder: Path, *, force: bool = False, keep_fp32: bool = False) -> Path:
    """Export `folder` to `folder/onnx/` (int8, and fp32 with `keep_fp32`) unless a current export is there;
    returns that folder."""
    folder = Path(folder).expanduser()
    out = folder / ONNX_DIR
    with (folder.parent / f".{folder.name}.onnx.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second builder waits, then finds the export current
        wanted = ("onnx-fp32", "onnx-int8") if keep_fp32 else ("onnx-int8",)
        if not force and export_is_current(folder, wanted):
            logger.info("ONNX export already built at %s", out)
            return out
        _require_tools()
        for stale in folder.glob(".onnx.build-*"):  # leftovers of an interrupted build
            shutil.rmtree(stale, ignore_errors=True)
        started = time.perf_counter()
        source = source_sha256(folder)
        build = Path(tempfile.mkdtemp(prefix=".onnx.build-", dir=folder))
        try:
            fingerprint = _export_fp32(folder, build / FP32_FILE)
            logger.info("exported %s to ONNX in %.1fs", folder.name, time.perf_counter() - started)
            quantisation = _quantise_int8(build / FP32_FILE, build / INT8_FILE)
            if not keep_fp32:
                (build / FP32_FILE).unlink()
            files: dict[str, dict[str, Any]] = {
                RUNTIME_FILES[runtime]: {"size": (build / RUNTIME_FILES[runtime]).stat().st_size,
                                         "sha256": file_sha256(build / RUNTIME_FILES[runtime])}
                for runtime in wanted}
            manifest = {"export_version": EXPORT_VERSION, "source_sha256": source, "base_fingerprint": fingerprint,
                        "opset": OPSET, "quantisation": quantisation, "tools": _versions(), "files": files,
                        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            (build / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            build.chmod(0o755)
            if out.exists():
                shutil.rmtree(out)
            build.rename(out)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        logger.info("built the ONNX export (%s) at %s in %.1fs",
                    ", ".join(f"{name} {meta['size'] / 1e6:.0f} MB" for name, meta in files.items()), out,
                    time.perf_counter() - started)
        return out
