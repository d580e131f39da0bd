"""The weights fingerprint: a short digest that tells one set of model weights from another under one name."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

WHOLE_TENSOR_LIMIT = 1 << 22  # elements; a larger tensor (the word-embedding matrix) is fingerprinted by a row sample
SAMPLED_ROW_STRIDE = 16


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
