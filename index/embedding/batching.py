"""Length-sorted, token-budgeted batches: texts of similar length embedded together, so little padding is run."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

TOKEN_BUDGET = 8192  # padded tokens per batch (rows x longest row): 32 passages of 256 tokens


def token_batches(lengths: Sequence[int], *, max_rows: int, token_budget: int = TOKEN_BUDGET) -> list[list[int]]:
    """Row indices grouped into batches, longest first, each at most `max_rows` rows and `token_budget` padded tokens.

    A batch's padded size is its row count times its longest row; a single row longer than the budget is a batch
    of its own. Sorting by length keeps short texts from being padded to a long neighbour's length.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = lengths[current[0]] if current else lengths[index]
        if current and (len(current) >= max_rows or longest * (len(current) + 1) > token_budget):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def embed_in_batches(texts: Sequence[str], lengths: Sequence[int], run: Callable[[list[str]], np.ndarray], *,
                     dim: int, max_rows: int, token_budget: int = TOKEN_BUDGET) -> np.ndarray:
    """float32 rows for `texts` in their order, `run` called once per batch of `token_batches`."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for rows in token_batches(lengths, max_rows=max_rows, token_budget=token_budget):
        out[rows] = run([texts[row] for row in rows])
    return out
