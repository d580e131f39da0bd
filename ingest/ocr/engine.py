"""Tesseract through pytesseract: availability, one recognition with its mean word confidence, the page recipe."""

from __future__ import annotations

import logging
import resource
import subprocess
import time
from dataclasses import dataclass

import numpy as np
import pytesseract
from PIL import Image

from ingest.language import detect_language
from ingest.ocr.deskew import binarise, deskew
from ingest.ocr.options import INSTALL_HINT, PageOcr

logger = logging.getLogger(__name__)

# Bump when the page recipe changes, so cached results of the old recipe are not reused.
RECIPE_VERSION = 3
FIRST_PASS = "kaz+kir+rus"
LANGUAGE_MODELS = {"kk": "kaz", "ky": "kir", "ru": "rus"}
# Page segmentation: automatic layout; no inverted-text retry (scans are dark on light, it costs time).
_CONFIG = "--psm 3 -c tessedit_do_invert=0"
_MIN_SECOND_PASS_SECONDS = 1.0
# The language probe: the first pass reads only a band of the page's first text lines (a quarter of the inked
# height, at least _PROBE_MIN_ROWS pixel rows); a full pass with the language's model at or above SURE_CONFIDENCE is
# kept, anything less also gets the full kaz+kir+rus pass and the surer of the two is kept (docs/ocr.md).
SURE_CONFIDENCE = 0.9
_PROBE_SHARE = 0.25
_PROBE_MIN_ROWS = 400
_INK_LEVEL = 128


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


def probe_band(image: Image.Image) -> Image.Image | None:
    """The band of the first text lines of `image`, or None when the page is too short for a probe to save time."""
    small = np.asarray(image.convert("L").reduce(4))
    inked = np.flatnonzero((small < _INK_LEVEL).sum(axis=1) > small.shape[1] // 200) * 4
    if inked.size == 0:
        return None
    top, bottom = int(inked[0]), int(inked[-1]) + 4
    rows = max(_PROBE_MIN_ROWS, round((bottom - top) * _PROBE_SHARE))
    if top + 2 * rows > bottom:
        return None
    return image.crop((0, max(0, top - 20), image.width, top + rows))


def read_page(image: Image.Image, *, timeout: float, tesseract_cmd: str) -> PageOcr:
    """Deskew and binarise `image`, recognise it with the model of its language (found by a kaz+kir+rus first pass).

    The first pass reads a probe band when the page is long enough; when the language's model is unsure (below
    SURE_CONFIDENCE) the whole page is read with kaz+kir+rus as well and the result with the higher mean word
    confidence is kept.
    """
    started, cpu_started = time.monotonic(), _cpu_seconds()

    def remaining() -> float:
        return timeout - (time.monotonic() - started)

    gray, angle = deskew(image)
    upright = binarise(gray)
    probe = probe_band(upright)
    combined: Recognition | None = None
    if probe is None:
        combined = recognise(upright, FIRST_PASS, timeout=timeout, tesseract_cmd=tesseract_cmd)
        probe_text = combined.text
    else:
        probe_text = recognise(probe, FIRST_PASS, timeout=timeout, tesseract_cmd=tesseract_cmd).text
    candidates: list[tuple[Recognition, str]] = []
    model = LANGUAGE_MODELS.get(detect_language(probe_text))
    if model and remaining() >= _MIN_SECOND_PASS_SECONDS:
        candidates.append((recognise(upright, model, timeout=remaining(), tesseract_cmd=tesseract_cmd), model))
    if combined is None and not (candidates and candidates[0][0].confidence >= SURE_CONFIDENCE):
        if not candidates or remaining() >= _MIN_SECOND_PASS_SECONDS:
            combined = recognise(upright, FIRST_PASS, timeout=max(remaining(), 0.01),
                                 tesseract_cmd=tesseract_cmd)
    if combined is not None:
        candidates.append((combined, FIRST_PASS))
    best, models = max(candidates, key=lambda candidate: candidate[0].confidence)  # a tie keeps the language's model
    seconds, cpu_seconds = round(time.monotonic() - started, 2), round(_cpu_seconds() - cpu_started, 2)
    logger.debug("OCR page: %s kept, confidence %.2f, deskew %.1f°, %.1f s (%.1f s CPU)", models, best.confidence,
                 angle, seconds, cpu_seconds)
    return PageOcr(best.text, best.confidence, models, angle, seconds, cpu_seconds)
