"""What extraction produces and how it fails: sections of text, the error with its code, the limits.

Pure Python with no Django: the extraction worker process imports this without settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from common.errors import DomainError

UNSUPPORTED_FILE = "unsupported_file"
INVALID_FILE = "invalid_file"
READABLE_TYPES = "PDF, Word (.docx), Markdown, HTML, plain text, JSON or CSV"
# How the worker process says it ran out of memory (its address-space limit), where JSON won't do.
MEMORY_EXIT_CODE = 3


@dataclass(frozen=True, slots=True)
class Section:
    """A run of a document's text in document order, and where it came from for citations.

    `page` is the 1-based page of a PDF (None elsewhere); `heading` is the nearest heading above the
    text (Markdown, HTML, DOCX), whose words also open `text` so that a search finds them.
    """

    text: str
    page: int | None = None
    heading: str | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """What one extraction may cost; hitting any of them refuses the file as `invalid_file`."""

    timeout_seconds: float = 30.0
    memory_bytes: int = 512 * 1024 * 1024
    max_text_chars: int = 20_000_000
    max_pdf_pages: int = 2_000
    max_unzipped_bytes: int = 100 * 1024 * 1024
    max_zip_entries: int = 10_000


class ExtractionError(DomainError):
    """A file we cannot turn into text. `code` is `unsupported_file` (a type we don't read) or
    `invalid_file` (a type we read, but broken, empty, undecodable or over a limit); `limit` names
    the limit that was hit (`timeout`, `memory`, `max_text_chars`, ...) or is None."""

    code = INVALID_FILE
    http_status = 400

    def __init__(self, message: str, *, code: str = INVALID_FILE, limit: str | None = None) -> None:
        super().__init__(message, code=code, param="file")
        self.limit = limit


def unsupported(kind: str | None = None) -> ExtractionError:
    what = f"This file ({kind})" if kind else "This type of file"
    return ExtractionError(f"{what} can't be searched. Upload {READABLE_TYPES}.", code=UNSUPPORTED_FILE)


def invalid(message: str, *, limit: str | None = None) -> ExtractionError:
    return ExtractionError(message, code=INVALID_FILE, limit=limit)


def no_text(kind: str, hint: str = "") -> ExtractionError:
    return invalid(f"The {kind} contains no text to search.{hint}")


# Characters no reader should pass on: C0 controls but tab and newline, DEL, lone surrogates (which
# cannot be stored as UTF-8), the BOM, soft hyphens and zero-width spaces.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ud800-\udfff\ufeff\u00ad\u200b]")
_LINE_BREAKS = re.compile("\r\n?|\u2028|\x85")
_PARAGRAPH_BREAKS = re.compile("[\f\u2029]")
_HORIZONTAL_SPACE = re.compile("[^\\S\n]+")
_BLANK_LINES = re.compile("\n{3,}")


def clean_text(text: str, *, keep_indent: bool = True) -> str:
    """`text` with line breaks as "\\n", no invisible characters, no trailing spaces, at most one
    blank line between paragraphs, and no blank lines around it.

    With `keep_indent` (plain text, code) leading spaces and inner runs of spaces are kept; without
    it (PDF, DOCX, CSV) every run of spaces and tabs becomes one space and lines are stripped.
    """
    text = _LINE_BREAKS.sub("\n", text)
    text = _PARAGRAPH_BREAKS.sub("\n\n", text)
    text = _INVISIBLE.sub("", text).replace("\u00a0", " ")
    if keep_indent:
        lines = [line.rstrip() for line in text.split("\n")]
    else:
        lines = [_HORIZONTAL_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


MAX_HEADING_CHARS = 200
_SPACES = re.compile(r"\s+")


def heading_text(text: str) -> str:
    """`text` as a heading: one line of single spaces, cut at MAX_HEADING_CHARS (a heading left open
    can swallow a page; the section's text keeps all of it)."""
    heading = _INVISIBLE.sub("", _SPACES.sub(" ", text)).strip()
    if len(heading) > MAX_HEADING_CHARS:
        heading = heading[: MAX_HEADING_CHARS - 1].rstrip() + "…"
    return heading


def check_text_size(sections: list[Section], limits: Limits) -> None:
    """Refuse a document whose text is over `limits.max_text_chars`."""
    total = sum(len(section.text) for section in sections)
    if total > limits.max_text_chars:
        raise text_too_long(limits)


def text_too_long(limits: Limits) -> ExtractionError:
    return invalid(
        f"The file holds more text than the limit of {limits.max_text_chars:,} characters.",
        limit="max_text_chars",
    )
