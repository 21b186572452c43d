"""Which format an uploaded file is, read from its bytes: neither the client's content type nor the
filename is trusted. The extension only breaks ties between text formats (Markdown, CSV, JSON, plain
text), and names the format a damaged file was meant to be.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from knowledge.sections import ExtractionError, invalid, unsupported


class Format(StrEnum):
    PDF = "application/pdf"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    HTML = "text/html"
    MARKDOWN = "text/markdown"
    JSON = "application/json"
    CSV = "text/csv"
    TEXT = "text/plain"


@dataclass(frozen=True, slots=True)
class Sniffed:
    format: Format
    text: str | None = None  # the decoded text, for the text formats


SNIFF_BYTES = 8192
MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown", ".mdown", ".mkd", ".mdx"})
HTML_EXTENSIONS = frozenset({".html", ".htm", ".xhtml"})
CSV_EXTENSIONS = frozenset({".csv", ".tsv"})
PLAIN_EXTENSIONS = frozenset({".txt", ".text"})
# Extensions of formats we read: a file named so whose bytes are unreadable is damaged, not foreign.
READ_EXTENSIONS = MARKDOWN_EXTENSIONS | HTML_EXTENSIONS | CSV_EXTENSIONS | PLAIN_EXTENSIONS | {".json", ".pdf", ".docx"}

OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Byte signatures of common files we don't read, to say what the file is.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"RIFF", "an image or media file"),
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a program"),
    (b"\xcf\xfa\xed\xfe", "a program"),
    (OLE2_SIGNATURE, "an Office 97–2003 document; save it as .docx"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
)
# Text formats we don't read: their markup would come out as noise.
TEXT_SIGNATURES: tuple[tuple[str, str], ...] = (("{\\rtf", "an RTF document"), ("%!PS", "a PostScript file"))
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
# In a zip, the names of the parts that tell Office formats apart (zip names are stored uncompressed).
ZIP_KINDS: tuple[tuple[bytes, str], ...] = (
    (b"xl/workbook", "an Excel workbook"),
    (b"ppt/presentation", "a PowerPoint presentation"),
    (b"application/vnd.oasis.opendocument", "an OpenDocument file"),
)
BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
# The WHATWG MIME Sniffing standard's patterns for text/html (section 7.1), followed by a space or >.
_HTML_START = re.compile(
    r"\s*(?:<!--|<(?:!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p)[\s>/])",
    re.IGNORECASE,
)
# A document's frame anywhere near the top (after an XML declaration, a stray byte or a preamble).
_HTML_FRAME = re.compile(r"</?(?:!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE)
# Text that carries a script or a style element anywhere is markup, whatever else it holds.
_SCRIPT_OR_STYLE = re.compile(r"<(?:script|style)[\s>/]", re.IGNORECASE)
_CONTROL = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def sniff(data: bytes, extension: str) -> Sniffed:
    """The format of `data`, or ExtractionError: `unsupported_file` for a type we don't read,
    `invalid_file` for an empty file or one that claims a readable format but is damaged.

    `extension` is the lower-case extension of the upload's (already sanitised) name, with its dot.
    """
    if not data.strip():
        raise invalid("The file is empty.")
    head = data[:1024]
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"%PDF-") or (extension == ".pdf" and b"%PDF-" in head):
        return Sniffed(Format.PDF)
    if data.startswith(ZIP_SIGNATURES):
        if _is_docx(data, extension):
            return Sniffed(Format.DOCX)
        raise _refuse_zip(data)
    text = decode_text(data)
    if text is None:
        raise _refuse_binary(data, extension)
    for signature, kind in TEXT_SIGNATURES:
        if text.lstrip().startswith(signature):
            raise unsupported(kind)
    return Sniffed(text_format(text, extension), text)


def text_format(text: str, extension: str) -> Format:
    """The format of decoded text: what its content says, with the extension breaking ties.

    Markdown may embed HTML, so its extension wins (and it is rendered through the HTML reader).
    A document that opens like HTML is HTML whatever it is called. JSON and CSV, by extension or
    (JSON) by parsing, keep their angle brackets as the data they are. What is left is HTML if it
    has an <html>, <head> or <body> tag in its first kilobyte or a <script> or <style> tag anywhere,
    so that scripts and styles are dropped, never indexed; else plain text."""
    if extension in MARKDOWN_EXTENSIONS:
        return Format.MARKDOWN
    if extension in HTML_EXTENSIONS or _HTML_START.match(text):
        return Format.HTML
    if extension == ".json":
        return Format.JSON
    if extension in CSV_EXTENSIONS:
        return Format.CSV
    if extension not in PLAIN_EXTENSIONS and _is_json(text):
        return Format.JSON
    if _HTML_FRAME.search(text, 0, 1024) or _SCRIPT_OR_STYLE.search(text):
        return Format.HTML
    return Format.TEXT


def decode_text(data: bytes) -> str | None:
    """`data` as text: by its byte-order mark, else UTF-8, else Windows-1252 (what spreadsheet
    exports often are); None for binary data."""
    for bom, codec in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                return None
    sample = data[:SNIFF_BYTES]
    if b"\x00" in sample:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            return None
    # Binary data that happens to decode is full of control characters; text has next to none.
    probe = text[:SNIFF_BYTES]
    if len(_CONTROL.findall(probe)) > len(probe) // 20:
        return None
    return text


def _is_json(text: str) -> bool:
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[" or stripped[-1] not in "}]":
        return False
    try:
        json.loads(stripped)
    except (ValueError, RecursionError):
        return False
    return True


def _is_docx(data: bytes, extension: str) -> bool:
    return extension == ".docx" or b"word/document.xml" in data


def _refuse_zip(data: bytes) -> ExtractionError:
    for marker, kind in ZIP_KINDS:
        if marker in data:
            return unsupported(kind)
    return unsupported("a zip archive")


def _refuse_binary(data: bytes, extension: str) -> ExtractionError:
    if extension == ".docx" and data.startswith(OLE2_SIGNATURE):  # how Word stores an encrypted .docx
        return invalid("The Word document is protected by a password. Upload it without one.")
    for signature, kind in SIGNATURES:
        if data.startswith(signature):
            return unsupported(kind)
    if extension in READ_EXTENSIONS:
        name = {".pdf": "PDF", ".docx": "Word document"}.get(extension, "text file")
        return invalid(f"The file is damaged or not a readable {name} (text must be UTF-8).")
    return unsupported()
