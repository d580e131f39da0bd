"""Cross-lingual sentence retrieval on SIB-200 (FLORES-200 sentences) between Kazakh, Kyrgyz and Russian.

Each source sentence must find its own translation among all ~1,004 sentences (train + dev + test) of the target
language. Prints Recall@1 (and MRR) per direction for the configured embedding model under three prompt setups:
`query:` on the source and `passage:` on the targets (how pedkb searches), and the same prompt on both sides.

    .venv/bin/python bench/sib200_bench.py [--data ../shared/data/sib200] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.embedding.embedder import Embedder, load_embedder  # noqa: E402
from pedkb.settings import Settings  # noqa: E402

log = logging.getLogger("sib200_bench")

FOLDERS = {"kk": "kaz_Cyrl", "ky": "kir_Cyrl", "ru": "rus_Cyrl"}
SPLITS = ("train", "dev", "test")
SETUPS = {  # name -> (prompt of the source side, prompt of the target side)
    "query→passage": ("query", "passage"),
    "query→query": ("query", "query"),
    "passage→passage": ("passage", "passage"),
}


def default_data() -> Path:
    """The shared SIB-200 folder beside this checkout."""
    repo = Path(__file__).resolve().parents[1]
    for candidate in (repo.parent / "shared" / "data" / "sib200", repo.parents[1] / "shared" / "data" / "sib200"):
        if candidate.is_dir():
            return candidate
    return repo.parent / "shared" / "data" / "sib200"


def load_sentences(folder: Path) -> dict[str, str]:
    """index_id -> sentence over the train, dev and test splits of one language folder."""
    sentences: dict[str, str] = {}
    for split in SPLITS:
        with (folder / f"{split}.tsv").open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                sentences[row["index_id"]] = row["text"].strip()
    return sentences


def aligned(data: Path, limit: int | None) -> tuple[list[str], dict[str, list[str]]]:
    """Sentence ids present in every language, and each language's sentences in that order."""
    per_lang = {lang: load_sentences(data / folder) for lang, folder in FOLDERS.items()}
    ids = sorted(set.intersection(*(set(s) for s in per_lang.values())), key=int)
    if limit:
        ids = ids[:limit]
    return ids, {lang: [sentences[i] for i in ids] for lang, sentences in per_lang.items()}


def embed(embedder: Embedder, texts: list[str], prompt: str) -> np.ndarray:
    """Unit vectors of texts under the "query" or "passage" prompt."""
    return embedder.embed_queries(texts) if prompt == "query" else embedder.embed_passages(texts)


def retrieval_scores(source: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """Recall@1 and MRR of finding row i of `target` for row i of `source` by cosine similarity."""
    sims = source @ target.T
    own = np.diag(sims)
    ranks = 1 + (sims > own[:, None]).sum(axis=1)
    return float((ranks == 1).mean()), float((1.0 / ranks).mean())


def main(argv: list[str] | None = None) -> int:
    """Embed the aligned sentences and print Recall@1 per direction and prompt setup."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--limit", type=int, default=None, help="use only the first N aligned sentences")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    ids, texts = aligned(args.data, args.limit)
    settings = Settings()
    started = time.perf_counter()
    embedder = load_embedder(settings)
    load_seconds = time.perf_counter() - started
    vectors: dict[tuple[str, str], np.ndarray] = {}
    embed_seconds: dict[str, float] = {}
    for prompt in ("query", "passage"):
        began = time.perf_counter()
        for lang in FOLDERS:
            vectors[(lang, prompt)] = embed(embedder, texts[lang], prompt)
        embed_seconds[prompt] = time.perf_counter() - began

    directions = [(s, t) for s in FOLDERS for t in FOLDERS if s != t]
    print(f"SIB-200 cross-lingual retrieval: {len(ids)} aligned sentences per language, model {settings.model} "
          f"({embedder.precision}), {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"model load {load_seconds:.1f} s; embedding {3 * len(ids)} sentences: "
          + ", ".join(f"{p} {s:.1f} s" for p, s in embed_seconds.items()))
    header = "| setup | " + " | ".join(f"{s}→{t}" for s, t in directions) + " | mean |"
    for metric_index, metric in enumerate(("Recall@1", "MRR")):
        print(f"\n{metric}\n{header}\n|---|" + "---:|" * (len(directions) + 1))
        for name, (source_prompt, target_prompt) in SETUPS.items():
            began = time.perf_counter()
            values = [retrieval_scores(vectors[(s, source_prompt)], vectors[(t, target_prompt)])[metric_index]
                      for s, t in directions]
            cells = " | ".join(f"{v:.3f}" for v in values)
            log.info("%s scored in %.2f s", name, time.perf_counter() - began)
            print(f"| {name} | {cells} | {sum(values) / len(values):.3f} |")
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
