"""Hostile files for the tests, built small and fast: ZIP bombs, lying ZIP headers, huge page trees, deep HTML.

Also readers that misbehave on purpose (crash, hang, hog memory), run inside the parser process by the tests.
"""

from __future__ import annotations

import os
import signal
import struct
import time
import zlib
from pathlib import Path

from ingest.document import ExtractedDocument

MB = 1024 * 1024
_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
DOC_HEAD = f'<?xml version="1.0" encoding="UTF-8"?><w:document {_W}><w:body>'.encode()
DOC_TAIL = b"</w:body></w:document>"
PARAGRAPH = b"<w:p><w:r><w:t>bomb</w:t></w:r></w:p>"


def _segment(data: bytes) -> bytes:
    """`data` as raw deflate blocks that end on a full flush, so that copies can follow one another."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush(zlib.Z_FULL_FLUSH)


def _final_block() -> bytes:
    return zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush(zlib.Z_FINISH)


def write_zip(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> Path:
    """A ZIP of (name, packed bytes, method, crc, declared unpacked size) members, written by hand."""
    body, directory = bytearray(), bytearray()
    for name, packed, method, crc, size in members:
        encoded = name.encode()
        directory += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, len(packed), size,
                                 len(encoded), 0, 0, 0, 0, 0, len(body)) + encoded
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(packed), size,
                            len(encoded), 0) + encoded + packed
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), len(body), 0)
    path.write_bytes(bytes(body + directory + end))
    return path


def stored(name: str, data: bytes) -> tuple[str, bytes, int, int, int]:
    """A member kept as it is (ZIP_STORED)."""
    return name, data, 0, zlib.crc32(data), len(data)


def deflated(name: str, data: bytes) -> tuple[str, bytes, int, int, int]:
    """A member packed with deflate."""
    return name, _segment(data) + _final_block(), 8, zlib.crc32(data), len(data)


def docx_bomb(path: Path, unpacked_mb: int = 500, declared_mb: int | None = None) -> Path:
    """A DOCX whose word/document.xml unpacks to `unpacked_mb` MB of paragraphs from well under 1 MB.

    One MB of XML is packed once and its packed bytes repeated, so building it costs one MB of compression. With
    `declared_mb`, the ZIP headers claim that size instead (and a CRC of nothing that matters): a lying bomb.
    """
    chunk = PARAGRAPH * (MB // len(PARAGRAPH))
    crc = zlib.crc32(DOC_HEAD)
    for _ in range(unpacked_mb):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(DOC_TAIL, crc)
    packed = _segment(DOC_HEAD) + _segment(chunk) * unpacked_mb + _segment(DOC_TAIL) + _final_block()
    size = len(DOC_HEAD) + len(chunk) * unpacked_mb + len(DOC_TAIL)
    if declared_mb is not None:
        size = declared_mb * MB
    members = [deflated("[Content_Types].xml", CONTENT_TYPES), deflated("_rels/.rels", RELS),
               ("word/document.xml", packed, 8, crc, size)]
    return write_zip(path, members)


def small_docx(path: Path, text: str, extra: list[tuple[str, bytes, int, int, int]] | None = None) -> Path:
    """A minimal valid DOCX with one paragraph, plus `extra` members."""
    body = DOC_HEAD + f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>".encode() + DOC_TAIL
    members = [deflated("[Content_Types].xml", CONTENT_TYPES), deflated("_rels/.rels", RELS),
               deflated("word/document.xml", body)]
    return write_zip(path, members + (extra or []))


def pdf_bytes(objects: list[bytes]) -> bytes:
    """A PDF of numbered `objects` (1 is the catalog) with a correct cross-reference table."""
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def many_pages_pdf(path: Path, pages: int) -> Path:
    """A PDF of `pages` empty pages in one flat page tree (100,000 pages: 10 MB, built in a fraction of a second)."""
    kids = b" ".join(b"%d 0 R" % (number + 3) for number in range(pages))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages)]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>"] * pages
    path.write_bytes(pdf_bytes(objects))
    return path


def lying_count_pdf(path: Path, count: int) -> Path:
    """A one-page PDF whose page tree claims `count` pages."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count %d >>" % count,
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>"]
    path.write_bytes(pdf_bytes(objects))
    return path


def deep_html(path: Path, depth: int) -> Path:
    """An HTML page with text inside `depth` nested divs."""
    path.write_bytes(b"<html><body><p>Before.</p>" + b"<div>" * depth + "Глубокий текст.".encode()
                     + b"</div>" * depth + b"<p>After.</p></body></html>")
    return path


def crashing_reader(path: Path, **_: object) -> ExtractedDocument:
    """A reader that dies of a segmentation fault, as a parser library bug would."""
    os.kill(os.getpid(), signal.SIGSEGV)
    raise AssertionError("unreachable")


def hanging_reader(path: Path, **_: object) -> ExtractedDocument:
    """A reader that never finishes."""
    while True:
        time.sleep(1)


def hungry_reader(path: Path, **_: object) -> ExtractedDocument:
    """A reader that allocates memory without end, 64 MB at a time."""
    hoard = []
    while True:
        hoard.append(bytearray(64 * MB))
