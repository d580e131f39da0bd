"""The ingest's second progress bar: pages of a scanned file while OCR reads them."""

from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

from ingest.ocr import OcrProgress


class OcrPageBar:
    """A page bar under the file bar, opened when OCR of a file starts and closed when its last page is done."""

    def __init__(self, *, disable: bool, position: int = 1) -> None:
        self.disable, self.position = disable, position
        self.bar: tqdm | None = None

    def __call__(self, progress: OcrProgress) -> None:
        """Follow one OCR report (`ingest.ocr.OcrProgress`)."""
        if progress.page is None or self.bar is None:
            self.close()
            self.bar = tqdm(total=progress.total, unit="page", desc=f"OCR {Path(progress.source).name}",
                            file=sys.stderr, disable=self.disable, position=self.position, leave=False)
            self.bar.update(progress.done)
        if progress.page is not None:
            self.bar.update(progress.done - self.bar.n)
            state = "cached" if progress.cached else progress.error or f"confidence {progress.confidence or 0:.2f}"
            self.bar.set_postfix_str(f"page {progress.page}: {state}", refresh=False)
        if progress.done >= progress.total:
            self.close()

    def close(self) -> None:
        """Close the bar of the file being read, if any."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
