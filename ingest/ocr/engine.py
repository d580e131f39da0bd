"""Tesseract through pytesseract: availability, one recognition with its mean word confidence, the page recipe."""

from __future__ import annotations

import logging
import resource
import subprocess
import time
from dataclasses import dataclass

import pytesseract
from PIL import Image

from ingest.language import detect_language
from ingest.ocr.deskew import deskew
from ingest.ocr.options import INSTALL_HINT, PageOcr

logger = logging.getLogger(__name__)

# Bump when the page recipe changes, so cached results of the old recipe are not reused.
RECIPE_VERSION = 1
FIRST_PASS = "kaz+kir+rus"
LANGUAGE_MODELS = {"kk": "kaz", "ky": "kir", "ru": "rus"}
# Page segmentation: automatic layout; no inverted-text retry (scans are dark on light, it costs time).
_CONFIG = "--psm 3 -c tessedit_do_invert=0"
_MIN_SECOND_PASS_SECONDS = 1.0


class TesseractMissingError(Exception):
    """Tesseract or a language pack is not installed; the message names the install command."""


def engine_version(tesseract_cmd: str) -> str:
    """"tesseract-<version>/recipe-<n>" after checking that Tesseract and the kaz, kir, rus models are installed."""
    try:
        version = subprocess.run([tesseract_cmd, "--version"], capture_output=True, text=True, timeout=30, check=True)
        listed = subprocess.run([tesseract_cmd, "--list-langs"], capture_output=True, text=True, timeout=30,
                                check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise TesseractMissingError(f"Tesseract is not installed or does not run ({tesseract_cmd!r}: {exc}); "
                               f"install it with: {INSTALL_HINT}") from exc
    installed = set(listed.stdout.split())
    missing = [model for model in FIRST_PASS.split("+") if model not in installed]
    if missing:
        packs = " ".join(f"tesseract-ocr-{model}" for model in missing)
        raise TesseractMissingError(f"Tesseract has no {', '.join(missing)} language model; install it with: "
                               f"apt-get install {packs}")
    first_line = (version.stdout or version.stderr).strip().splitlines()[0]
    return f"{first_line.replace(' ', '-')}/recipe-{RECIPE_VERSION}"


@dataclass(frozen=True)
class Recognition:
    """Text of one Tesseract run and its mean word confidence (0-1)."""

    text: str
    confidence: float


def recognise(image: Image.Image, languages: str, *, timeout: float, tesseract_cmd: str) -> Recognition:
    """Run Tesseract with `languages` on `image`: text as paragraphs of lines, mean confidence of its words."""
    pytesseract.pytesseract.tesseract_cmd = tesseract_cmd
    data = pytesseract.image_to_data(image, lang=languages, config=_CONFIG, timeout=timeout,
                                     output_type=pytesseract.Output.DICT)
    paragraphs: dict[tuple[int, int], dict[int, list[str]]] = {}
    confidences: list[float] = []
    for i, word in enumerate(data["text"]):
        word = word.strip()
        confidence = float(data["conf"][i])
        if not word or confidence < 0:
            continue
        confidences.append(confidence)
        lines = paragraphs.setdefault((data["block_num"][i], data["par_num"][i]), {})
        lines.setdefault(data["line_num"][i], []).append(word)
    text = "\n\n".join("\n".join(" ".join(words) for words in lines.values()) for lines in paragraphs.values())
    mean = sum(confidences) / len(confidences) / 100 if confidences else 0.0
    return Recognition(text, round(mean, 4))


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the Tesseract runs)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def read_page(image: Image.Image, *, timeout: float, tesseract_cmd: str) -> PageOcr:
    """Deskew `image`, recognise it with kaz+kir+rus, then with the model of the language found; keep the surer."""
    started, cpu_started = time.monotonic(), _cpu_seconds()
    upright, angle = deskew(image)
    best, models = recognise(upright, FIRST_PASS, timeout=timeout, tesseract_cmd=tesseract_cmd), FIRST_PASS
    model = LANGUAGE_MODELS.get(detect_language(best.text))
    remaining = timeout - (time.monotonic() - started)
    if model and remaining >= _MIN_SECOND_PASS_SECONDS:
        second = recognise(upright, model, timeout=remaining, tesseract_cmd=tesseract_cmd)
        if second.confidence >= best.confidence:
            best, models = second, model
    seconds, cpu_seconds = round(time.monotonic() - started, 2), round(_cpu_seconds() - cpu_started, 2)
    logger.debug("OCR page: %s kept, confidence %.2f, deskew %.1f°, %.1f s (%.1f s CPU)", models, best.confidence,
                 angle, seconds, cpu_seconds)
    return PageOcr(best.text, best.confidence, models, angle, seconds, cpu_seconds)
