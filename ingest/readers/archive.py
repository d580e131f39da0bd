"""Checks of a ZIP package (DOCX) before a parser opens it: unpacked size, compression ratio, nested archives.

The ZIP directory is checked first (cheap, and enough for an honest bomb). Its sizes can lie, and `zipfile`
inflates a whole member in one call before it truncates the result to the declared size, so every member is then
inflated here in bounded pieces, counting the real bytes and stopping as soon as a member passes its declared size.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

from ingest.limits import MB, ReadLimits, setting_name
from pedkb.errors import CorruptFileError, LimitExceededError

# Office keeps embedded objects (an Excel chart is itself a ZIP) here; nothing reads them, so they are only counted.
EMBEDDINGS_PREFIX = "word/embeddings/"
ARCHIVE_SUFFIXES = (".zip", ".docx", ".docm", ".xlsx", ".pptx", ".odt", ".ods", ".jar", ".7z", ".rar", ".gz")
ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"7z\xbc\xaf", b"Rar!", b"\x1f\x8b")
RATIO_FLOOR_BYTES = MB  # smaller members are not held to the ratio: tiny XML parts pack very well
_IN_PIECE = 64 * 1024
_OUT_PIECE = MB
_LOCAL_HEADER = struct.Struct("<4s22xHH")


def check_package(data: bytes, path: Path, limits: ReadLimits) -> None:
    """Refuse the ZIP `data` read from `path` if it unpacks beyond `limits` or holds another archive."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise CorruptFileError(path, f"damaged DOCX (broken ZIP package: {exc})") from exc
    _check_directory(members, path, limits)
    for info in members:
        real, head = _inflated_size(data, info, path)
        if real > info.file_size:
            raise CorruptFileError(
                path, f"damaged DOCX: {info.filename} unpacks to more than the {info.file_size} bytes its ZIP "
                      "directory declares"
            )
        if not info.filename.startswith(EMBEDDINGS_PREFIX) and head.startswith(ARCHIVE_MAGIC):
            raise _nested(path, info.filename)


def _check_directory(members: list[zipfile.ZipInfo], path: Path, limits: ReadLimits) -> None:
    """The limits checked against the sizes the ZIP directory declares."""
    total = sum(info.file_size for info in members)
    if total > limits.max_decompressed_bytes:
        raise LimitExceededError(
            path, f"decompressed size {total / MB:.0f} MB exceeds the {limits.max_decompressed_mb:g} MB limit "
                  f"({setting_name('max_decompressed_mb')})"
        )
    for info in members:
        if info.flag_bits & 0x1:
            raise CorruptFileError(path, f"the DOCX package is encrypted ({info.filename})")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CorruptFileError(path, f"damaged DOCX: {info.filename} uses an unknown ZIP compression")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_compression_ratio:
            raise LimitExceededError(
                path, f"{info.filename} unpacks to {ratio:.0f} times its packed size, over the limit of "
                      f"{limits.max_compression_ratio:g} ({setting_name('max_compression_ratio')})"
            )
        if not info.filename.startswith(EMBEDDINGS_PREFIX) and info.filename.lower().endswith(ARCHIVE_SUFFIXES):
            raise _nested(path, info.filename)


def _nested(path: Path, name: str) -> LimitExceededError:
    return LimitExceededError(path, f"the package holds another archive ({name}); archives inside archives are "
                                    "not read")


def _inflated_size(data: bytes, info: zipfile.ZipInfo, path: Path) -> tuple[int, bytes]:
    """The real unpacked size of member `info` (counted up to one byte past its declared size) and its first bytes."""
    header = data[info.header_offset:info.header_offset + _LOCAL_HEADER.size]
    if len(header) < _LOCAL_HEADER.size:
        raise CorruptFileError(path, f"damaged DOCX: {info.filename} lies outside the file")
    magic, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    if magic != b"PK\x03\x04":
        raise CorruptFileError(path, f"damaged DOCX: {info.filename} has no local ZIP header")
    start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    packed = memoryview(data)[start:start + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        return len(packed), bytes(packed[:8])
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total, head = 0, b""
    try:
        for offset in range(0, len(packed), _IN_PIECE):
            pending = bytes(packed[offset:offset + _IN_PIECE])
            while not inflater.eof:
                out = inflater.decompress(pending, _OUT_PIECE)
                pending = inflater.unconsumed_tail
                head = head or out[:8]
                total += len(out)
                if total > info.file_size:
                    return total, head
                if not pending and len(out) < _OUT_PIECE:
                    break  # this piece is used up and nothing is held back
            if inflater.eof:
                break
    except zlib.error as exc:
        raise CorruptFileError(path, f"damaged DOCX: {info.filename} cannot be unpacked ({exc})") from exc
    return total, head
