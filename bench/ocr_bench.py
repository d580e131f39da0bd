"""OCR benchmark: character error rate per language on clean and degraded scans, and pages per second.

Renders full A4 pages of Kazakh, Kyrgyz and Russian text at 300 dpi (tests/data/ocr), puts them in image-only PDFs
(clean, and degraded: 1.5° skew, noise, blur, 200 dpi, JPEG 60) and reads them as the ingest does, with
`ingest.read_and_repair` (text layer check, rendering, OCR with 2 pages in parallel, repair; no cache), in this
process so that its CPU time and its Tesseract children's are counted exactly (the parser sandbox runs the same code
and adds only its JSON answer). Prints a table with the machine it ran on: CER after repair, pages/s as measured
(wall clock, so other load on the machine counts) and as the CPU allows (cores used / CPU seconds a page). Usage:
    .venv/bin/python bench/ocr_bench.py [--pages 6] [--workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from rapidfuzz.distance import Levenshtein

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_bench import cpu_model  # noqa: E402

import ingest.ocr.engine as engine  # noqa: E402
import ingest.ocr.run as run_module  # noqa: E402
from ingest import read_and_repair  # noqa: E402
from ingest.ocr import OcrOptions  # noqa: E402
from ingest.ocr.engine import engine_version  # noqa: E402
from tests.support.scans import degrade, render_page, sample_text, scanned_pdf  # noqa: E402

LANGUAGES = ("kk", "ky", "ru")


def full_page(lang: str, seed: int) -> tuple[object, str]:
    """An A4 page filled with the language's sample paragraphs (rotated so pages differ), and its text."""
    words = sample_text(lang).split()
    shift = (seed * 17) % len(words)
    text = " ".join((words[shift:] + words[:shift]) * 6)
    return render_page(text, dpi=300)


def run(pages: int, workers: int, degraded: bool) -> tuple[dict[str, list[float]], float, float, float]:
    """CER per language, pages per second, mean confidence and mean CPU seconds a page of one OCR run."""
    images, references, langs = [], [], []
    for i in range(pages):
        lang = LANGUAGES[i % len(LANGUAGES)]
        image, text = full_page(lang, i)
        images.append(degrade(image, seed=i) if degraded else image)  # type: ignore[arg-type]
        references.append(text)
        langs.append(lang)
    with tempfile.TemporaryDirectory() as folder:
        pdf = Path(folder) / "scan.pdf"
        pdf.write_bytes(scanned_pdf(images))  # type: ignore[arg-type]
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        document = read_and_repair(pdf, max_bytes=1 << 30, ocr=OcrOptions(workers=workers))
        elapsed, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    errors: dict[str, list[float]] = {lang: [] for lang in LANGUAGES}
    for page in document.pages:
        assert page.number is not None and page.ocr, f"page {page.number} was not recognised: {document.warnings}"
        recognised = " ".join(page.text.split())
        errors[langs[page.number - 1]].append(Levenshtein.normalized_distance(recognised, references[page.number - 1]))
    confidence = sum(page.ocr_confidence or 0.0 for page in document.pages) / pages
    return errors, pages / elapsed, confidence, cpu / pages


def _cpu_seconds() -> float:
    """CPU time of this process (every thread) and of its finished children (the Tesseract runs)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=6, help="pages per run (cycling kk, ky, ru)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scans", choices=("clean", "degraded", "both"), default="both")
    parser.add_argument("--tesseract-config", default=None,
                        help=f"Tesseract flags instead of the recipe's ({engine._CONFIG!r}), to compare settings")
    parser.add_argument("--omp-thread-limit", type=int, default=1,
                        help="OpenMP threads per Tesseract process (the ingest uses 1)")
    args = parser.parse_args()
    if args.tesseract_config is not None:
        engine._CONFIG = args.tesseract_config
    if args.omp_thread_limit != 1:  # the ingest forces 1 while pages run; compare with more
        os.environ["OMP_THREAD_LIMIT"] = str(args.omp_thread_limit)
        run_module._single_threaded_tesseract = contextlib.nullcontext  # type: ignore[assignment]
    print(f"CPU: {cpu_model()} ({os.cpu_count()} cores), load average {os.getloadavg()[0]:.1f}")
    print(f"Engine: {engine_version('tesseract')} ({engine._CONFIG}, OMP_THREAD_LIMIT={args.omp_thread_limit} per "
          f"Tesseract process); {args.pages} A4 pages at 300 dpi per run, {args.workers} pages in parallel")
    print()
    print("| scan | CER kk | CER ky | CER ru | mean confidence | CPU s/page | cores busy | load avg before/after "
          "| pages/s measured | pages/s CPU-bound |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for degraded in {"clean": (False,), "degraded": (True,), "both": (False, True)}[args.scans]:
        before = os.getloadavg()[0]
        errors, speed, confidence, cpu = run(args.pages, args.workers, degraded)
        cells = [f"{100 * sum(e) / len(e):.2f} %" if e else "-" for e in errors.values()]
        label = "degraded" if degraded else "clean"
        bound = min(args.workers, os.cpu_count() or 1) / cpu
        busy = cpu * speed  # CPU seconds per wall second: how many cores the run got
        print(f"| {label} | {' | '.join(cells)} | {confidence:.3f} | {cpu:.2f} | {busy:.2f} | "
              f"{before:.1f}/{os.getloadavg()[0]:.1f} | {speed:.2f} | {bound:.2f} |")
    print()
    print("cores busy = CPU seconds of the run (this process and its Tesseract runs) per wall-clock second; below "
          f"{min(args.workers, os.cpu_count() or 1)} the cores went to other processes (see the load average)")

if __name__ == "__main__":
    main()
