"""Embedding speed and agreement of the runtimes on the pedagogy seed texts, on this machine, in one run.

Splits the seed files (*.txt) into ~256-token passages by the model's tokenizer, embeds them with each runtime
(`index.embedding.runtime` labels; a label may repeat, to see the machine's drift) and prints the CPU, then per
runtime tokens/s, chunks/s and the min and mean cosine of its passage vectors to torch-fp32's. The seeds default
to ../shared/seeds beside the checkout; onnx-fp32 needs `pedkb model install --onnx-fp32`.

    .venv/bin/python bench/embed_speed.py [--backends torch-fp32,onnx-fp32,onnx-int8] [--limit N]
        [--seeds ../shared/seeds] [--tokens 256] [--batch-size 32] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import time
from pathlib import Path
from typing import Any, cast

import numpy as np

from index.embedding.embedder import Embedder, SentenceTransformerEmbedder, load_embedder
from index.embedding.runtime import RUNTIMES, RuntimeLabel, cpu_flags
from pedkb.settings import Settings

logger = logging.getLogger("embed_speed")
DEFAULT_SEEDS = Path(__file__).resolve().parents[1] / ".." / "shared" / "seeds"
REFERENCE: RuntimeLabel = "torch-fp32"


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's guess)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_summary() -> str:
    """The CPU's name and the flags that decide the runtime: AVX2, AVX-512, VNNI, bf16, AMX."""
    flags = cpu_flags()
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
    present = [flag for flag in wanted if flag in flags]
    return f"{cpu_model()} ({', '.join(present) or 'none of avx2/avx512/amx'}; {os.cpu_count()} CPUs)"


def seed_passages(embedder: SentenceTransformerEmbedder, seeds: Path, tokens: int) -> list[str]:
    """Every seed file cut into consecutive passages of `tokens` tokens, on token boundaries."""
    backend = embedder.model.tokenizer.backend_tokenizer
    passages: list[str] = []
    for path in sorted(seeds.glob("*.txt")):
        text = re.sub(r"\s+", " ", path.read_text(encoding="utf-8")).strip()
        offsets = backend.encode(text, add_special_tokens=False).offsets
        for start in range(0, len(offsets), tokens):
            piece = offsets[start : start + tokens]
            passages.append(text[piece[0][0] : piece[-1][1]].strip())
    return [p for p in passages if p]


def measure(embedder: Embedder, passages: list[str], n_tokens: int, repeat: int,
            batch_size: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Embed all passages `repeat` times after a warm-up; speeds are of the median run."""
    embedder.embed_passages(passages[:batch_size])
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        vectors = embedder.embed_passages(passages)
        times.append(time.perf_counter() - started)
    median = float(np.median(times))
    return vectors, {"seconds": round(median, 2), "tokens_per_s": round(n_tokens / median),
                     "chunks_per_s": round(len(passages) / median, 1), "runs_s": [round(t, 2) for t in times]}


def main() -> int:
    """Run every requested runtime and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backends", default="torch-fp32,onnx-fp32,onnx-int8",
                        help=f"comma-separated runtimes among {', '.join(RUNTIMES)}")
    parser.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS, help="folder of seed *.txt files")
    parser.add_argument("--tokens", type=int, default=256, help="tokens per passage")
    parser.add_argument("--limit", type=int, default=0, help="use at most this many passages (0: all)")
    parser.add_argument("--batch-size", type=int, default=Settings().batch_size)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per runtime (median reported)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = [name for name in backends if name not in RUNTIMES]
    if unknown:
        parser.error(f"unknown backend(s) {', '.join(unknown)}; expected among {', '.join(RUNTIMES)}")

    reference = load_embedder(Settings(runtime=REFERENCE, batch_size=args.batch_size))
    if not isinstance(reference, SentenceTransformerEmbedder):
        raise SystemExit(f"{reference.name} is not a sentence-transformers model; nothing to benchmark")
    passages = seed_passages(reference, args.seeds, args.tokens)
    if args.limit:
        passages = passages[: args.limit]
    if not passages:
        raise SystemExit(f"no seed passages in {args.seeds}")
    n_tokens = sum(reference.count_tokens(p) for p in passages)
    ref_vectors = reference.embed_passages(passages)
    cpu = cpu_summary()
    logger.info("embedding %d passages (%d tokens) with %s", len(passages), n_tokens, ", ".join(backends))
    runs = []
    for backend in backends:
        embedder = load_embedder(Settings(runtime=cast(RuntimeLabel, backend), batch_size=args.batch_size))
        vectors, run = measure(embedder, passages, n_tokens, args.repeat, args.batch_size)
        cosine = np.sum(ref_vectors * vectors, axis=1)
        runs.append({"backend": backend, **run, "cos_min": round(float(cosine.min()), 6),
                     "cos_mean": round(float(cosine.mean()), 6), "fingerprint": embedder.fingerprint})
    base = next((run["tokens_per_s"] for run in runs if run["backend"] == REFERENCE), None)
    print(f"CPU: {cpu}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{len(passages)} passages of ~{args.tokens} tokens, {n_tokens} tokens in all ({reference.name}), "
          f"batch {args.batch_size}, median of {args.repeat} runs")
    print(f"{'backend':11} {'tokens/s':>9} {'x fp32':>7} {'chunks/s':>9} {'cos min':>9} {'cos mean':>9}")
    for run in runs:
        speedup = f"{run['tokens_per_s'] / base:.2f}" if base else "-"
        print(f"{run['backend']:11} {run['tokens_per_s']:9d} {speedup:>7} {run['chunks_per_s']:9.1f} "
              f"{run['cos_min']:9.6f} {run['cos_mean']:9.6f}")
    if args.json:
        result = {"cpu": cpu, "passages": len(passages), "tokens": n_tokens, "batch_size": args.batch_size,
                  "model": reference.name, "runs": runs}
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
