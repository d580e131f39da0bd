"""The pedkb exception tree: every error a user can cause derives from PedkbError.

PedkbError
├── InputError                  bad input from a user (a file, a field, a query)
│   ├── ReadError               a document could not be read; carries the path
│   │   ├── EmptyFileError
│   │   ├── FileTooLargeError
│   │   ├── UnsupportedFormatError
│   │   ├── CorruptFileError
│   │   ├── EncryptedFileError
│   │   ├── NoTextLayerError    a scanned PDF: pages but no extractable text, and OCR found none
│   │   ├── OcrUnavailableError scanned pages, but Tesseract or a language pack is not installed
│   │   ├── EncodingError
│   │   ├── LimitExceededError  a limit on untrusted files: unpacked size, pages, text, nesting, time, memory
│   │   └── ParserCrashError    the parser process died on the file
│   ├── ValidationError         a record or request field is wrong; carries the field (and every problem found)
│   └── ConflictError           the id is taken already
├── NotFoundError               an id that does not exist
├── ModelError                  the embedding model is missing or cannot load
│   └── ModelMismatchError      the index was built with another model; run `pedkb reindex`
└── StoreError                  the store on disk is unusable (locked, corrupt, wrong version)
    └── InconsistentStoreError  rows, lexical index and vectors disagree; run `pedkb check --repair`
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


def printable_path(path: str | Path) -> str:
    """`path` as text that can always be printed: bytes that are not UTF-8 in a file name shown as \\xNN."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class PedkbError(Exception):
    """Root of every error pedkb raises on purpose."""


class InputError(PedkbError):
    """Bad input from a user."""


class ReadError(InputError):
    """A document could not be read; the message names the file and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{printable_path(self.path)}: {reason}")

    def __reduce__(self) -> tuple[type[ReadError], tuple[str, str]]:
        return type(self), (self.path, self.reason)


class EmptyFileError(ReadError):
    """The file has no bytes, or no text after extraction."""


class FileTooLargeError(ReadError):
    """The file is larger than the configured limit."""


class UnsupportedFormatError(ReadError):
    """The file type is not one pedkb reads."""


class CorruptFileError(ReadError):
    """The file claims a format but its bytes do not parse as it."""


class EncryptedFileError(ReadError):
    """The file is password-protected."""


class NoTextLayerError(ReadError):
    """A PDF whose pages carry no text (a scan), and OCR found none either."""


class OcrUnavailableError(ReadError):
    """Pages need OCR but Tesseract or one of its language packs is missing; the message says how to install."""


class EncodingError(ReadError):
    """The text encoding could not be determined."""


class LimitExceededError(ReadError):
    """Reading the file would pass a limit on untrusted files (settings PEDKB_MAX_DECOMPRESSED_MB and others)."""


class ParserCrashError(ReadError):
    """The parser process died while reading the file (a crash inside a parser library)."""


@dataclass(frozen=True)
class Problem:
    """One wrong field of a record: its path (`technologies[1]`), an English reason, a kind clients can switch on
    (missing_field, unknown_field, empty_value, invalid_id, too_small, too_large, unknown_value, invalid_value) and
    the values a translated message needs (limit, value)."""

    field: str
    reason: str
    kind: str = "invalid_value"
    values: Mapping[str, object] = dataclasses.field(default_factory=dict)


class ValidationError(InputError):
    """A record or request field has a wrong value; the message names the field.

    `problems` lists every wrong field found at once (the first one is `field` and `reason`); `where` is what was
    checked (a file and line), put before each field in the message.
    """

    def __init__(self, field: str, reason: str, *, problems: Sequence[Problem] = (), where: str = "") -> None:
        self.field = field
        self.reason = reason
        self.where = where
        self.problems: list[Problem] = list(problems) or [Problem(field, reason)]
        if len(self.problems) > 1:
            prefix = f"{where}: " if where else ""
            lines = "\n".join(f"  {prefix}{p.field}: {p.reason}" for p in self.problems)
            super().__init__(f"{len(self.problems)} problems:\n{lines}")
        else:
            super().__init__(f"{field}: {reason}")

    @classmethod
    def of(cls, problems: Sequence[Problem], where: str = "") -> ValidationError:
        """The error for a non-empty list of problems; `field` is the first one's, prefixed by `where`."""
        first = problems[0]
        return cls(f"{where}: {first.field}" if where else first.field, first.reason, problems=problems, where=where)


class ConflictError(InputError):
    """An item with this id exists already."""


class NotFoundError(PedkbError):
    """An id that does not exist in the store."""


class ModelError(PedkbError):
    """The embedding model is missing or cannot be loaded."""


class ModelMismatchError(ModelError):
    """The index was built with a different model or dimension."""


class StoreError(PedkbError):
    """The store on disk cannot be used."""


class InconsistentStoreError(StoreError):
    """Rows, lexical index and vectors of the store disagree (`pedkb check`)."""
