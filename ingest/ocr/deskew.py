"""Scan clean-up before OCR: small-angle deskew by projection profiles, and Otsu binarisation."""

from __future__ import annotations

import numpy as np
from PIL import Image

MAX_ANGLE = 5.0  # degrees searched either way
_THUMB_WIDTH = 1000  # pixels: 0.1 degree moves a row end by ~2 px at this width
_COARSE_STEP = 0.5
_FINE_STEP = 0.1
_MIN_CORRECTION = 0.1  # below this a rotation only blurs the glyphs


def _otsu_threshold(gray: np.ndarray) -> int:
    """The grey level that best splits ink from paper (Otsu's between-class variance)."""
    histogram = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    weights = np.cumsum(histogram)
    means = np.cumsum(histogram * np.arange(256))
    total_weight, total_mean = weights[-1], means[-1]
    background = total_weight - weights
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_mean * weights - means * total_weight) ** 2 / (weights * background)
    return int(np.nanargmax(between[:-1]))


def _ink_thumbnail(image: Image.Image) -> Image.Image:
    """A downscaled 0/255 image, 255 where there is ink."""
    gray = image.convert("L")
    if gray.width > _THUMB_WIDTH:
        height = max(1, round(gray.height * _THUMB_WIDTH / gray.width))
        gray = gray.resize((_THUMB_WIDTH, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(gray)
    if pixels.min() == pixels.max():  # a blank page: no ink to threshold
        return Image.new("L", gray.size, 0)
    ink = (pixels <= _otsu_threshold(pixels)).astype(np.uint8) * 255
    return Image.fromarray(ink)


def _sharpness(ink: Image.Image, angle: float) -> float:
    """How sharply text rows stand out once `ink` is rotated by `angle` (sum of squared row-profile steps)."""
    rows = np.asarray(ink.rotate(angle, resample=Image.Resampling.NEAREST), dtype=np.float64).sum(axis=1)
    return float(np.square(np.diff(rows)).sum())


def estimate_skew(image: Image.Image, max_angle: float = MAX_ANGLE) -> float:
    """The rotation in degrees (counter-clockwise, as PIL's `rotate`) that straightens the text lines of `image`."""
    ink = _ink_thumbnail(image)
    if not np.asarray(ink).any():
        return 0.0
    coarse = np.arange(-max_angle, max_angle + 1e-9, _COARSE_STEP)
    best = max(coarse, key=lambda angle: _sharpness(ink, float(angle)))
    fine = np.arange(best - _COARSE_STEP, best + _COARSE_STEP + 1e-9, _FINE_STEP)
    return round(float(max(fine, key=lambda angle: _sharpness(ink, float(angle)))), 2)


def deskew(image: Image.Image) -> tuple[Image.Image, float]:
    """`image` in grey levels with its small skew removed, and the angle it was rotated by."""
    gray = image.convert("L")
    angle = estimate_skew(gray)
    if abs(angle) < _MIN_CORRECTION:
        return gray, 0.0
    return gray.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255), angle


def binarise(image: Image.Image) -> Image.Image:
    """`image` as black ink on white paper (one bit a pixel), split at Otsu's threshold.

    Tesseract thresholds the same way, but on a noisy or JPEG-blurred scan its own pass is slower: measured 3.2 s
    against 1.9 s of recognition on a degraded A4 page, with the same text (docs/ocr.md).
    """
    gray = image.convert("L")
    pixels = np.asarray(gray)
    if pixels.min() == pixels.max():
        return gray.convert("1")
    threshold = _otsu_threshold(pixels)
    return gray.point(lambda level: 255 if level > threshold else 0, mode="1")
