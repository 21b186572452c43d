"""PDF to sections with pypdf: one section per page that has text, with its 1-based page number, so a
citation can name the page. Pages without text (scans, blank pages) are skipped, not renumbered.
"""

from __future__ import annotations

import io
import struct
import zlib

from pypdf import PdfReader
from pypdf.errors import DependencyError, LimitReachedError, PyPdfError

from knowledge.sections import ExtractionError, Limits, Section, clean_text, invalid, no_text, text_too_long

# What pypdf raises on damaged or hostile content: its own errors, and the plain ones that escape
# from its parsing of malformed objects. MemoryError is not here: the worker reports it as a limit.
DAMAGED = (
    PyPdfError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    ArithmeticError,
    NotImplementedError,  # a filter or encoding pypdf lacks
    RecursionError,
    zlib.error,
    struct.error,
)


def pdf_sections(data: bytes, limits: Limits) -> list[Section]:
    """The text of each page of the PDF in `data`, refusing more than `limits.max_pdf_pages` pages."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise invalid("The PDF is protected by a password. Upload it without one.")
        count = len(reader.pages)
    except DependencyError:
        raise invalid("The PDF is encrypted in a way we can't read. Upload it without encryption.")
    except LimitReachedError:
        raise _bomb()
    except DAMAGED:
        raise invalid("The PDF is damaged and can't be read.")
    if count > limits.max_pdf_pages:
        raise _too_many_pages(count, limits)

    sections: list[Section] = []
    total = 0
    for number in range(1, count + 1):
        try:
            text = reader.pages[number - 1].extract_text()
        except LimitReachedError:
            raise _bomb()
        except DAMAGED:
            continue  # one damaged page does not sink the document; the others keep their numbers
        text = clean_text(text, keep_indent=False)
        if not text:
            continue
        total += len(text)
        if total > limits.max_text_chars:
            raise text_too_long(limits)
        sections.append(Section(text=text, page=number))
    if not sections:
        raise no_text("PDF", " If it is a scan, run it through text recognition (OCR) first.")
    return sections


def _too_many_pages(count: int, limits: Limits) -> ExtractionError:
    return invalid(
        f"The PDF has {count:,} pages, more than the limit of {limits.max_pdf_pages:,}.",
        limit="max_pdf_pages",
    )


def _bomb() -> ExtractionError:
    # pypdf's own safety limits (stream sizes, which follow max_unzipped_bytes, parsing work, page
    # tree size) all raise the same error.
    return invalid("The PDF holds content too large or too complex to read safely.", limit="pdf_content")
