"""Embedding speed on the pedagogy seed texts: fp32 against the auto precision, on this machine.

Splits /work/shared/seeds/*.txt into ~256-token passages (by the model's tokenizer), embeds them at fp32
and at the precision "auto" picks, and prints tokens/s, chunks/s, cosine to fp32, the precision and the CPU.

    .venv/bin/python bench/embed_speed.py [--tokens 256] [--limit N] [--batch-size 32] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import re
import time
from pathlib import Path

import numpy as np

from index.embedding.embedder import SentenceTransformerEmbedder, cpu_has_native_bf16, load_embedder
from pedkb.settings import Settings

logger = logging.getLogger("embed_speed")
SEEDS = Path("/work/shared/seeds")


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's guess)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def seed_passages(embedder: SentenceTransformerEmbedder, tokens: int) -> list[str]:
    """Every seed file cut into consecutive passages of `tokens` tokens, on token boundaries."""
    backend = embedder.model.tokenizer.backend_tokenizer
    passages: list[str] = []
    for path in sorted(SEEDS.glob("*.txt")):
        text = re.sub(r"\s+", " ", path.read_text(encoding="utf-8")).strip()
        offsets = backend.encode(text, add_special_tokens=False).offsets
        for start in range(0, len(offsets), tokens):
            piece = offsets[start : start + tokens]
            passages.append(text[piece[0][0] : piece[-1][1]].strip())
    return [p for p in passages if p]


def measure(embedder: SentenceTransformerEmbedder, passages: list[str], n_tokens: int,
            repeat: int) -> tuple[np.ndarray, dict[str, object]]:
    """Embed all passages `repeat` times after a warm-up; speeds are of the median run (best in brackets)."""
    embedder.embed_passages(passages[: embedder.batch_size])
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        vectors = embedder.embed_passages(passages)
        times.append(time.perf_counter() - started)
    median, best = float(np.median(times)), min(times)
    return vectors, {"precision": embedder.precision, "seconds": round(median, 2),
                     "tokens_per_s": round(n_tokens / median), "best_tokens_per_s": round(n_tokens / best),
                     "chunks_per_s": round(len(passages) / median, 1), "runs": [round(t, 2) for t in times]}


def main() -> int:
    """Run both precisions and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=256, help="tokens per passage")
    parser.add_argument("--limit", type=int, default=0, help="use at most this many passages (0: all)")
    parser.add_argument("--batch-size", type=int, default=Settings().batch_size)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per precision (median reported)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    fp32 = load_embedder(Settings(precision="fp32", batch_size=args.batch_size))
    auto = load_embedder(Settings(precision="auto", batch_size=args.batch_size))
    if not (isinstance(fp32, SentenceTransformerEmbedder) and isinstance(auto, SentenceTransformerEmbedder)):
        raise SystemExit(f"{fp32.name} is not a sentence-transformers model; nothing to benchmark")
    passages = seed_passages(fp32, args.tokens)
    if args.limit:
        passages = passages[: args.limit]
    n_tokens = sum(fp32.count_tokens(p) for p in passages)
    import torch

    machine = {"cpu": cpu_model(), "native_bf16": cpu_has_native_bf16(),
               "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "model": fp32.name,
               "passages": len(passages), "tokens": n_tokens, "batch_size": args.batch_size}
    logger.info("embedding %d passages (%d tokens) at fp32 and %s", len(passages), n_tokens, auto.precision)
    ref, fp32_run = measure(fp32, passages, n_tokens, args.repeat)
    vectors, auto_run = measure(auto, passages, n_tokens, args.repeat)
    cosine = np.sum(ref * vectors, axis=1)
    auto_run.update(cos_min=round(float(cosine.min()), 6), cos_mean=round(float(cosine.mean()), 6))
    print(f"CPU: {machine['cpu']} (native bf16: {machine['native_bf16']}), torch {machine['torch']}, "
          f"{machine['torch_threads']} threads, batch {args.batch_size}")
    print(f"{len(passages)} passages of ~{args.tokens} tokens, {n_tokens} tokens in all ({fp32.name})")
    print(f"median of {args.repeat} runs; best run's tokens/s in brackets")
    print(f"{'run':6} {'precision':9} {'seconds':>8} {'tokens/s':>9} {'(best)':>8} {'chunks/s':>9} "
          f"{'cos min':>9} {'cos mean':>9}")
    for label, run in (("fp32", fp32_run), ("auto", auto_run)):
        cmin, cmean = run.get("cos_min", 1.0), run.get("cos_mean", 1.0)
        best = f"({run['best_tokens_per_s']})"
        print(f"{label:6} {run['precision']:9} {run['seconds']:8.2f} {run['tokens_per_s']:9d} {best:>8} "
              f"{run['chunks_per_s']:9.1f} {cmin:9.6f} {cmean:9.6f}")
    if args.json:
        result = {"machine": machine, "fp32": fp32_run, "auto": auto_run}
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
