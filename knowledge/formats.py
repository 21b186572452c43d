"""Bytes to sections for every format we read: the format is sniffed, then one reader runs.

The plain-text formats (plain text, Markdown, JSON, CSV) are read here; HTML, PDF and DOCX have a
module each. Nothing here imports Django: `knowledge.extract_worker` runs this in a process of its
own under time and memory limits, and `knowledge.extract` is the way in for everyone else.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from markdown_it import MarkdownIt

from knowledge.html_text import html_sections
from knowledge.sections import Limits, Section, check_text_size, clean_text, invalid, no_text, text_too_long
from knowledge.sniffing import Format, sniff

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*\n", re.DOTALL)
CSV_DELIMITERS = ",;\t|"


def read_sections(data: bytes, *, extension: str, limits: Limits) -> list[Section]:
    """The sections of the file in `data`, in document order, or ExtractionError.

    `extension` (".pdf", "" for none) only breaks ties between text formats. Runs in this process,
    with no time or memory limit of its own: call `knowledge.extract.extract_sections` instead,
    unless this already is the worker process."""
    sniffed = sniff(data, extension)
    # pypdf and python-docx are imported only for their files: the worker starts for every file,
    # and loading them costs a Markdown page as much again as reading it (bench/search.py).
    if sniffed.format is Format.PDF:
        from pypdf import apply_configuration

        from knowledge.pdf_text import pdf_sections

        # pypdf's decompression limits follow ours; it must not call out to a jbig2dec program.
        with apply_configuration(
            jbig2dec_binary=None,
            zlib_maximum_output_length=limits.max_unzipped_bytes,
            lzw_maximum_output_length=limits.max_unzipped_bytes,
            run_length_maximum_output_length=limits.max_unzipped_bytes,
            array_based_stream_maximum_output_length=limits.max_unzipped_bytes,
        ):
            return pdf_sections(data, limits)
    if sniffed.format is Format.DOCX:
        from knowledge.docx_text import docx_sections

        return docx_sections(data, limits)
    text = sniffed.text or ""
    if len(text) > 4 * limits.max_text_chars:  # far over, whatever markup a reader drops
        raise text_too_long(limits)
    if sniffed.format is Format.CSV:
        sections = csv_sections(text, tabs=extension == ".tsv")
    else:
        sections = TEXT_READERS[sniffed.format](text)
    if not sections:
        raise no_text("file")
    check_text_size(sections, limits)
    return sections


def text_sections(text: str) -> list[Section]:
    """Plain text as one section, its indentation and paragraph breaks kept."""
    text = clean_text(text)
    return [Section(text=text)] if text else []


def markdown_sections(text: str) -> list[Section]:
    """Markdown rendered (CommonMark with tables) and read as HTML: split at its headings, embedded
    HTML reduced to its text. YAML front matter is kept as text, without its fences."""
    front = _FRONT_MATTER.match(text)
    if front:
        text = front.group(1) + "\n" + text[front.end() :]
    renderer = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    return html_sections(renderer.render(text))


def json_sections(text: str) -> list[Section]:
    """JSON as indented text, each top-level item or key its own paragraph; `invalid_file` if it
    does not parse."""
    try:
        data = json.loads(text)
    except ValueError as error:  # JSONDecodeError, or an integer too long to convert
        raise invalid(f"The JSON file is not valid JSON: {getattr(error, 'msg', error)}.")
    except RecursionError:
        raise invalid("The JSON file is nested too deeply to read.")
    items: list[Any]
    if isinstance(data, list):
        items = data
    elif isinstance(data, dict):
        items = [{key: value} for key, value in data.items()]
    else:
        items = [data]
    try:
        paragraphs = [
            item if isinstance(item, str) else json.dumps(item, indent=2, ensure_ascii=False) for item in items
        ]
    except RecursionError:
        raise invalid("The JSON file is nested too deeply to read.")
    text = clean_text("\n\n".join(paragraphs))
    return [Section(text=text)] if text else []


def csv_sections(text: str, *, tabs: bool = False) -> list[Section]:
    """A table as one line per row, each value labelled with its column's name from the first row
    ("Name: Mug; Price: 12.50"), so a row found on its own still says what its values are."""
    dialect: Any = csv.excel_tab
    if not tabs:
        try:
            dialect = csv.Sniffer().sniff(text[:8192], delimiters=CSV_DELIMITERS)
        except csv.Error:
            dialect = csv.excel
    try:
        rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text, newline=""), dialect)]
    except csv.Error as error:
        raise invalid(f"The CSV file can't be read: {error}.")
    rows = [row for row in rows if any(row)]
    if not rows:
        return []
    header, records = rows[0], rows[1:]
    if not records:
        lines = [" | ".join(cell for cell in header if cell)]
    else:
        lines = [_labelled(header, record) for record in records]
    text = clean_text("\n".join(line for line in lines if line), keep_indent=False)
    return [Section(text=text)] if text else []


def _labelled(header: list[str], record: list[str]) -> str:
    pairs = []
    for position, value in enumerate(record):
        if not value:
            continue
        name = header[position] if position < len(header) else ""
        pairs.append(f"{name}: {value}" if name else value)
    return "; ".join(pairs)


TEXT_READERS = {
    Format.HTML: html_sections,
    Format.MARKDOWN: markdown_sections,
    Format.JSON: json_sections,
    Format.TEXT: text_sections,
}
