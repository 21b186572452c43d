"""DOCX to sections with python-docx: body paragraphs and tables in document order, split at
headings (paragraph styles "Heading 1".."Heading 9" and "Title"). Headers, footers, footnotes and
comments are not read.

A DOCX is a zip, so before python-docx unpacks it the archive's entry count and unpacked size are
checked against the limits, and every entry is unpacked once in bounded reads: the sizes a zip
declares are the sender's word, and the standard library's one-shot read would inflate a lying
entry whole before noticing.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator

import docx
from docx.document import Document
from docx.opc.exceptions import OpcError
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree

from knowledge.sections import (
    ExtractionError,
    Limits,
    Section,
    check_text_size,
    clean_text,
    heading_text,
    invalid,
    no_text,
)

READ_SIZE = 1 << 20
# What a damaged zip or package makes the standard library, python-docx or lxml raise.
DAMAGED = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,  # a compression method zipfile lacks
    RuntimeError,  # an encrypted entry
    EOFError,
    OSError,
    zlib.error,
    OpcError,
    KeyError,
    ValueError,
    TypeError,
    AttributeError,
    etree.LxmlError,
)
_PARAGRAPH, _TABLE = qn("w:p"), qn("w:tbl")


def docx_sections(data: bytes, limits: Limits) -> list[Section]:
    """The text of the Word document in `data`, one section per heading."""
    check_archive(data, limits)
    try:
        document = docx.Document(io.BytesIO(data))
        sections = _read(document)
    except DAMAGED:
        raise invalid("The Word document is damaged and can't be read.")
    if not sections:
        raise no_text("Word document")
    check_text_size(sections, limits)
    return sections


def check_archive(data: bytes, limits: Limits) -> None:
    """Refuse a zip with too many entries or too much unpacked data, checking the declared sizes
    first and then the real ones; `invalid_file` for a damaged zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if len(entries) > limits.max_zip_entries:
                raise invalid(
                    f"The Word document holds more than {limits.max_zip_entries:,} parts.", limit="max_zip_entries"
                )
            if sum(entry.file_size for entry in entries) > limits.max_unzipped_bytes:
                raise _too_big(limits)
            # zipfile stops each entry at its declared size and then checks the CRC, so a lying
            # header ends in BadZipFile after at most one bounded read past the truth.
            for entry in entries:
                with archive.open(entry) as part:
                    while part.read(READ_SIZE):
                        pass
    except DAMAGED:
        raise invalid("The Word document is damaged and can't be read.")


def _too_big(limits: Limits) -> ExtractionError:
    mebibytes = limits.max_unzipped_bytes / (1024 * 1024)
    return invalid(
        f"The Word document unpacks to more than the limit of {mebibytes:,.0f} MiB.", limit="max_unzipped_bytes"
    )


def _read(document: Document) -> list[Section]:
    sections: list[Section] = []
    blocks: list[str] = []
    heading: str | None = None
    has_body = False
    for block in _blocks(document.element.body, document):
        text = _table_text(block) if isinstance(block, Table) else block.text
        if not text.strip():
            continue
        if isinstance(block, Paragraph) and _is_heading(block):
            # A heading with nothing under it yet stays in its section for the next heading.
            if has_body:
                sections.append(_section(blocks, heading))
                blocks, has_body = [], False
            heading = heading_text(text)
        else:
            has_body = True
        blocks.append(text)
    if blocks:
        sections.append(_section(blocks, heading))
    return [section for section in sections if section.text]


def _blocks(element: etree._Element, document: Document) -> Iterator[Paragraph | Table]:
    """Paragraphs and tables under `element` in document order, including those inside content
    controls (w:sdt) and other wrappers, which python-docx's own iteration skips."""
    for child in element.iterchildren():
        if child.tag == _PARAGRAPH:
            yield Paragraph(child, document)
        elif child.tag == _TABLE:
            yield Table(child, document)
        elif isinstance(child.tag, str):
            yield from _blocks(child, document)


def _is_heading(paragraph: Paragraph) -> bool:
    style = paragraph.style
    name = (style.name or "").lower() if style is not None else ""
    return name.startswith("heading") or name == "title"


def _table_text(table: Table) -> str:
    """A table as one line per row, cells separated by " | " (merged cells once)."""
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            parts = [_table_text(item) if isinstance(item, Table) else item.text for item in cell.iter_inner_content()]
            text = " ".join(" ".join(parts).split())
            if text:
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _section(blocks: list[str], heading: str | None) -> Section:
    return Section(text=clean_text("\n\n".join(blocks), keep_indent=False), heading=heading)
