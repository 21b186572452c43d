"""Extraction: every format read into sections with their headings or pages, the format sniffed from
the bytes, damaged and hostile files refused with a code, the worker's limits, and upload names.

Sample files are built here (python-docx, a hand-written PDF), not committed. Most tests read in
this process through `read_sections`; the ones about the worker go through `extract_sections`.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import struct
import subprocess
import sys
import time
import zipfile
import zlib

import docx
import pytest
from django.test import override_settings
from pypdf import PdfReader, PdfWriter

from knowledge import extract
from knowledge.extract import DEFAULT_LIMITS, PROJECT_ROOT, ExtractionError, Section, extract_sections, safe_filename
from knowledge.formats import read_sections
from knowledge.sections import Limits

LIMITS = Limits()


def read(data: bytes, extension: str = "", limits: Limits = LIMITS) -> list[Section]:
    return read_sections(data, extension=extension, limits=limits)


def refusal(data: bytes, extension: str = "", limits: Limits = LIMITS) -> ExtractionError:
    with pytest.raises(ExtractionError) as caught:
        read(data, extension, limits)
    return caught.value


# Sample files.
def pdf_document(contents: list[bytes]) -> bytes:
    """A PDF with one page per content stream (Flate-compressed), Helvetica (Windows-1252) as /F1."""
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    kids = []
    for content in contents:
        stream = zlib.compress(content)
        objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"
            b" /Contents %d 0 R >>" % len(objects)
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def page_text(*lines: str) -> bytes:
    shown = b" ".join(b"(%s) '" % line.encode("latin-1") for line in lines)
    return b"BT /F1 12 Tf 72 720 Td 14 TL " + shown + b" ET"


def word_document() -> bytes:
    document = docx.Document()
    document.add_heading("Returns", level=1)
    document.add_paragraph("Send items back within 30 days.")
    document.add_heading("Shipping", level=1)
    document.add_heading("Abroad", level=2)
    document.add_paragraph("We ship to the EU only.")
    table = document.add_table(rows=2, cols=2)
    for row, values in zip(table.rows, [("Zone", "Price"), ("EU", "9.90")], strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def with_entry(archive: bytes, name: str, size: int) -> bytes:
    """`archive` with an entry of `size` zero bytes, written in pieces (it deflates ~1000:1)."""
    buffer = io.BytesIO(archive)
    with (
        zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as bundle,
        bundle.open(name, "w", force_zip64=True) as entry,
    ):
        for _ in range(size >> 20):
            entry.write(bytes(1 << 20))
    return buffer.getvalue()


def declaring_size(archive: bytes, name: str, declared: int) -> bytes:
    """`archive` whose headers claim `name` unpacks to `declared` bytes (a lie, if it's smaller)."""
    data = bytearray(archive)
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        local = bundle.getinfo(name).header_offset
    struct.pack_into("<I", data, local + 22, declared)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + length] == name.encode():
            struct.pack_into("<I", data, central + 24, declared)
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"


# Each format, with its headings or pages.
def test_markdown_splits_at_headings_and_keeps_their_text():
    sections = read(
        b"Intro line.\n\n# Returns\n\nSend it back within **30 days**.\n\n## Refunds\n\nIn 5 days.\n", ".md"
    )
    assert sections == [
        Section(text="Intro line."),
        Section(text="Returns\n\nSend it back within 30 days.", heading="Returns"),
        Section(text="Refunds\n\nIn 5 days.", heading="Refunds"),
    ]


def test_markdown_heading_with_nothing_under_it_joins_the_next_section():
    sections = read(b"# Shipping\n## Abroad\n\nEU only.\n", ".md")
    assert sections == [Section(text="Shipping\n\nAbroad\n\nEU only.", heading="Abroad")]


def test_markdown_keeps_code_and_lists_as_text_and_drops_embedded_scripts():
    source = b"# Setup\n\n<script>steal()</script>\n\n- one\n- two\n\n```\n# not a heading\n    indented\n```\n"
    [section] = read(source, ".md")
    assert section.text == "Setup\n\n- one\n- two\n\n# not a heading\n    indented"
    assert "steal" not in section.text and "<" not in section.text


def test_a_heading_left_open_is_cut_short_as_a_heading_but_kept_whole_as_text():
    [section] = read(b"<h1>" + b"word " * 100 + b"</html>", ".html")
    assert len(section.heading) == 200 and section.heading.endswith("…")
    assert section.text == ("word " * 100).strip()


def test_markdown_front_matter_is_kept_as_text():
    [front, body] = read(b"---\ntitle: Returns\n---\n# Returns\n\nWithin 30 days.\n", ".md")
    assert front == Section(text="title: Returns")
    assert body.heading == "Returns"


def test_plain_text_keeps_paragraphs_and_tidies_whitespace():
    [section] = read(b"First line  \r\nsecond line\r\n\r\n\r\n\r\n  indented\x07 para\tgraph \n", ".txt")
    assert section == Section(text="First line\nsecond line\n\n  indented para\tgraph")


def test_html_keeps_visible_text_split_at_headings_and_drops_scripts_styles_and_menus():
    page = b"""<!DOCTYPE html><html><head><title>Help centre</title><style>p { color: red }</style>
    <script>var secret = 1;</script></head><body><nav><a href="/">Home</a></nav>
    <p>Welcome &amp; hello.</p><h1>Returns</h1><p>Within <b>30</b>   days.</p><!-- hidden comment -->
    <h2>Table</h2><table><tr><th>Zone</th><th>Price</th></tr><tr><td>EU</td><td>9.90</td></tr></table>
    <ul><li>one</li><li>two</li></ul><noscript>Enable JS</noscript><script>alert(1)</script></body></html>"""
    sections = read(page, ".html")
    assert sections == [
        Section(text="Help centre\n\nWelcome & hello.", heading="Help centre"),
        Section(text="Returns\n\nWithin 30 days.", heading="Returns"),
        Section(text="Table\n\nZone | Price\nEU | 9.90\n\n- one\n- two", heading="Table"),
    ]
    everything = " ".join(section.text for section in sections)
    for hidden in ("secret", "alert", "color", "Home", "Enable JS", "hidden comment", "<", ">"):
        assert hidden not in everything


def test_pdf_has_a_section_per_page_with_its_number_and_skips_blank_pages():
    pdf = pdf_document([page_text("Returns within 30 days.", "Ask us first."), page_text(), page_text("Page three")])
    assert read(pdf) == [
        Section(text="Returns within 30 days.\nAsk us first.", page=1),
        Section(text="Page three", page=3),
    ]


def test_docx_splits_at_heading_styles_and_reads_tables():
    assert read(word_document(), ".docx") == [
        Section(text="Returns\n\nSend items back within 30 days.", heading="Returns"),
        Section(text="Shipping\n\nAbroad\n\nWe ship to the EU only.\n\nZone | Price\nEU | 9.90", heading="Abroad"),
    ]


def test_json_is_indented_text_with_a_paragraph_per_item():
    data = json.dumps([{"question": "Returns?", "answer": "30 days"}, "Plain note"]).encode()
    [section] = read(data, ".json")
    assert section.text == '{\n  "question": "Returns?",\n  "answer": "30 days"\n}\n\nPlain note'


def test_csv_rows_are_labelled_with_the_header():
    [section] = read(b"SKU;Name;Price\nMUG-1;Ceramic mug;12.50\nTEE-2;;19.00\n", ".csv")
    assert section.text == "SKU: MUG-1; Name: Ceramic mug; Price: 12.50\nSKU: TEE-2; Price: 19.00"


def test_csv_keeps_quoted_fields_whole():
    [section] = read(b'Question,Answer\n"Returns, refunds?","Within\n30 days"\n', ".csv")
    assert section.text == "Question: Returns, refunds?; Answer: Within\n30 days"


def test_tsv_is_split_at_tabs():
    [section] = read(b"a,b\tc\n1,2\t3\n", ".tsv")
    assert section.text == "a,b: 1,2; c: 3"


@pytest.mark.parametrize(
    "data",
    [
        "Rückgabe binnen 30 Tagen – gratis.".encode(),
        "Rückgabe binnen 30 Tagen – gratis.".encode("cp1252"),
        "Rückgabe binnen 30 Tagen – gratis.".encode("utf-16"),
        b"\xef\xbb\xbf" + "Rückgabe binnen 30 Tagen – gratis.".encode(),
    ],
)
def test_text_is_decoded_from_utf8_utf16_or_windows_1252(data):
    assert read(data, ".txt") == [Section(text="Rückgabe binnen 30 Tagen – gratis.")]


# The format comes from the bytes.
def test_png_named_txt_is_unsupported():
    error = refusal(PNG, ".txt")
    assert error.code == "unsupported_file"
    assert "PNG" in error.message


@pytest.mark.parametrize(
    ("data", "extension", "named"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", ".exe", "Windows program"),
        (b"\x7fELF\x02\x01\x01\x00" + bytes(8), "", "program"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(8), ".doc", "Office 97"),
        (b"\x1f\x8b\x08\x00" + bytes(8), ".txt", "gzip"),
        (b"{\\rtf1\\ansi Hello}", ".txt", "RTF"),
        (bytes(range(256)) * 4, "", None),
    ],
)
def test_foreign_files_are_unsupported_whatever_their_name(data, extension, named):
    error = refusal(data, extension)
    assert error.code == "unsupported_file"
    if named:
        assert named in error.message


def test_zip_archives_other_than_docx_are_unsupported():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("xl/workbook.xml", "<workbook/>")
    assert refusal(buffer.getvalue(), ".zip").message.startswith("This file (an Excel workbook)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("notes.txt", "hello")
    assert refusal(buffer.getvalue(), ".txt").code == "unsupported_file"


def test_html_named_txt_is_read_as_html_so_its_scripts_never_show():
    [section] = read(b"<html><body><script>alert('x')</script><p>Hello</p></body></html>", ".txt")
    assert section.text == "Hello"


@pytest.mark.parametrize(
    "data",
    [
        b"Exported page\n<html><body><p>Hello</p><script>alert('x')</script></body></html>",
        b"<span>Hello</span>\n<style>p { color: red }</style><script src='x.js'>alert('x')</script>",
        b"Hello\n\n" + b"filler line\n" * 500 + b"<SCRIPT type='text/javascript'>alert('x')</SCRIPT>",
    ],
)
def test_markup_with_scripts_is_read_as_html_however_it_starts(data):
    text = " ".join(section.text for section in read(data, ".txt"))
    assert "Hello" in text
    assert "alert" not in text and "color" not in text and "<" not in text


def test_json_and_csv_keep_angle_brackets_as_data():
    assert read(b'{"body": "<html><body>Hi</body></html>"}')[0].text == '{\n  "body": "<html><body>Hi</body></html>"\n}'
    assert read(b"code,html\n1,<b>x</b>\n", ".csv")[0].text == "code: 1; html: <b>x</b>"


def test_pdf_and_docx_are_found_by_content_whatever_their_name():
    assert read(pdf_document([page_text("Hi")]), ".txt") == [Section(text="Hi", page=1)]
    assert read(word_document(), "")[0].heading == "Returns"


def test_json_is_sniffed_without_an_extension_but_a_txt_stays_text():
    assert read(b'{"a": 1}')[0].text == '{\n  "a": 1\n}'
    assert read(b'{"a": 1}', ".txt")[0].text == '{"a": 1}'


def test_markdown_extension_wins_over_html_looking_content():
    logo, body = read(b'<p align="center">Logo</p>\n\n# Title\n\nBody\n', ".md")
    assert (logo.text, body.heading) == ("Logo", "Title")


# Damaged files.
@pytest.mark.parametrize(
    ("data", "extension"),
    [
        (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog", ".pdf"),  # truncated
        (b"%PDF-1.4\ngarbage\n%%EOF", ""),
        (word_document()[:2000], ".docx"),  # truncated zip
        (b"PK\x03\x04" + bytes(40), ".docx"),
        (b'{"question": "Returns?", ', ".json"),
        (b"[1, 2,]", ".json"),
        (b"[" * 100_000 + b"]" * 100_000, ".json"),
        (bytes(range(1, 32)) * 40, ".json"),  # not text
        (b"", ".txt"),
        (b" \n\t ", ".md"),
    ],
)
def test_damaged_or_empty_files_are_invalid(data, extension):
    error = refusal(data, extension)
    assert error.code == "invalid_file"
    assert error.message.endswith(".")


def test_zip_without_the_word_document_named_docx_is_invalid():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("word/other.xml", "<x/>")
    assert refusal(buffer.getvalue(), ".docx").code == "invalid_file"


def test_password_protected_docx_is_invalid_and_says_why():
    error = refusal(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), ".docx")
    assert (error.code, error.message) == (
        "invalid_file",
        "The Word document is protected by a password. Upload it without one.",
    )


def encrypted(pdf: bytes, user_password: str) -> bytes:
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_pdf_with_only_an_owner_password_is_read():
    assert read(encrypted(pdf_document([page_text("Locked for editing only")]), "")) == [
        Section(text="Locked for editing only", page=1)
    ]


def test_pdf_that_needs_a_password_to_open_is_invalid_and_says_why():
    error = refusal(encrypted(pdf_document([page_text("Secret")]), "secret"))
    assert (error.code, error.message) == ("invalid_file", "The PDF is protected by a password. Upload it without one.")


def test_pdf_without_text_is_invalid():
    error = refusal(pdf_document([page_text(), page_text()]))
    assert error.code == "invalid_file"
    assert "no text" in error.message


def test_errors_are_domain_errors_with_a_code_and_the_file_as_param():
    error = refusal(PNG)
    assert (error.code, error.param, error.http_status) == ("unsupported_file", "file", 400)
    assert str(error) == error.message


# Limits.
def test_zip_bomb_docx_is_refused_before_unpacking():
    bomb = with_entry(word_document(), "word/media/padding.bin", 150 << 20)
    started = time.monotonic()
    error = refusal(bomb, ".docx", DEFAULT_LIMITS)
    assert time.monotonic() - started < 2
    assert (error.code, error.limit) == ("invalid_file", "max_unzipped_bytes")
    assert "100 MiB" in error.message


def test_docx_lying_about_its_unpacked_size_is_refused():
    lying = declaring_size(
        with_entry(word_document(), "word/media/padding.bin", 20 << 20), "word/media/padding.bin", 100
    )
    started = time.monotonic()
    assert refusal(lying, ".docx").code == "invalid_file"
    assert time.monotonic() - started < 2


def test_docx_with_too_many_parts_is_refused():
    error = refusal(word_document(), ".docx", dataclasses.replace(LIMITS, max_zip_entries=5))
    assert (error.code, error.limit) == ("invalid_file", "max_zip_entries")


def test_pdf_over_the_page_limit_is_refused_quickly():
    pdf = pdf_document([page_text("x")] * (DEFAULT_LIMITS.max_pdf_pages + 1))
    started = time.monotonic()
    error = refusal(pdf, "", DEFAULT_LIMITS)
    assert time.monotonic() - started < 5
    assert (error.code, error.limit) == ("invalid_file", "max_pdf_pages")
    assert "2,001 pages" in error.message


def test_text_over_the_character_limit_is_refused():
    error = refusal(b"word " * 1000, ".txt", dataclasses.replace(LIMITS, max_text_chars=1000))
    assert (error.code, error.limit) == ("invalid_file", "max_text_chars")
    pdf = pdf_document([page_text("x" * 60)] * 20)
    assert refusal(pdf, "", dataclasses.replace(LIMITS, max_text_chars=1000)).limit == "max_text_chars"


# The worker process.
def test_extract_sections_reads_in_a_worker_process():
    pdf = pdf_document([page_text("Caf\xe9 returns"), page_text("Page two")])
    assert extract_sections(pdf, filename="../../help.pdf") == [
        Section(text="Café returns", page=1),
        Section(text="Page two", page=2),
    ]
    assert extract_sections("# Größe\n\nPasst 🙂\n".encode(), filename="faq.md") == [
        Section(text="Größe\n\nPasst 🙂", heading="Größe")
    ]


def test_worker_refusals_come_back_with_their_code():
    with pytest.raises(ExtractionError) as caught:
        extract_sections(PNG, filename="photo.txt")
    assert caught.value.code == "unsupported_file"
    with pytest.raises(ExtractionError) as caught:
        extract_sections(b"{", filename="broken.json")
    assert caught.value.code == "invalid_file"


def test_worker_is_killed_at_the_deadline():
    # Hundreds of thousands of text operators on one page: small to send, seconds to read.
    slow = pdf_document([b"BT /F1 12 Tf " + b"(x) Tj " * 300_000 + b" ET"])
    started = time.monotonic()
    with pytest.raises(ExtractionError) as caught:
        extract_sections(slow, filename="slow.pdf", limits=dataclasses.replace(DEFAULT_LIMITS, timeout_seconds=1))
    assert time.monotonic() - started < 4
    assert (caught.value.code, caught.value.limit) == ("invalid_file", "timeout")
    assert caught.value.message == "Reading the file took longer than the limit of 1 second."


def test_worker_out_of_memory_is_refused_not_crashed():
    huge_stream = pdf_document([b"BT /F1 12 Tf (" + b"x" * (60 << 20) + b") Tj ET"])
    limits = dataclasses.replace(DEFAULT_LIMITS, memory_bytes=96 << 20)
    with pytest.raises(ExtractionError) as caught:
        extract_sections(huge_stream, filename="huge.pdf", limits=limits)
    assert (caught.value.code, caught.value.limit) == ("invalid_file", "memory")
    assert "96 MiB" in caught.value.message


@pytest.mark.parametrize(
    "program",
    ["print('not json')", "import os; os.kill(os.getpid(), 9)", "import sys; sys.exit(2)", "print('[1, 2]')"],
)
def test_a_worker_that_dies_or_babbles_reads_as_invalid_file(monkeypatch, program):
    monkeypatch.setattr(extract, "_worker_command", lambda extension, limits: [sys.executable, "-c", program])
    with pytest.raises(ExtractionError) as caught:
        extract_sections(b"hello", filename="a.txt")
    assert caught.value.code == "invalid_file"


def test_a_hung_worker_is_killed(monkeypatch):
    hang = [sys.executable, "-c", "import time; time.sleep(60)"]
    monkeypatch.setattr(extract, "_worker_command", lambda extension, limits: hang)
    started = time.monotonic()
    with pytest.raises(ExtractionError) as caught:
        extract_sections(b"hello", limits=dataclasses.replace(DEFAULT_LIMITS, timeout_seconds=0.5))
    assert caught.value.limit == "timeout"
    assert time.monotonic() - started < 3


def test_worker_runs_without_django():
    probe = "import sys, knowledge.extract_worker; print(any(m.startswith('django') for m in sys.modules))"
    finished = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True, timeout=30
    )
    assert finished.stdout.strip() == "False"


def test_limits_default_to_the_documented_values():
    assert Limits() == Limits(
        timeout_seconds=30,
        memory_bytes=512 * 1024 * 1024,
        max_text_chars=20_000_000,
        max_pdf_pages=2_000,
        max_unzipped_bytes=100 * 1024 * 1024,
        max_zip_entries=10_000,
    )


def test_limits_are_read_from_settings():
    try:
        with override_settings(KNOWLEDGE_MAX_PDF_PAGES=7, KNOWLEDGE_EXTRACT_TIMEOUT_SECONDS="12.5"):
            limits = importlib.reload(extract).DEFAULT_LIMITS
        assert (limits.max_pdf_pages, limits.timeout_seconds) == (7, 12.5)
    finally:
        importlib.reload(extract)


# Names to store uploads under.
@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\system.ini", "system.ini"),
        ("/var/www/../", "file"),
        ("faq\x00.md", "faq.md"),
        ("line\nbreak\ttab.txt", "line break tab.txt"),
        ("", "file"),
        (None, "file"),
        ("...", "file"),
        ("  .htaccess", "htaccess"),
        ("report.pdf.", "report.pdf"),
        ('what?<is>:"this"|*.txt', "what__is___this___.txt"),
        ("CON.txt", "_CON.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("Rückgabe – Übersicht 🙂.pdf", "Rückgabe – Übersicht 🙂.pdf"),
        ("Cafe\u0301.md", "Café.md"),
    ],
)
def test_safe_filename(name, safe):
    assert safe_filename(name) == safe


def test_safe_filename_bounds_length_and_keeps_the_extension():
    name = safe_filename("ü" * 300 + ".pdf")
    assert name.endswith(".pdf")
    assert len(name.encode()) <= extract.MAX_FILENAME_BYTES
    assert name[:-4] == "ü" * len(name[:-4])
    assert len(safe_filename("x" * 1000).encode()) == extract.MAX_FILENAME_BYTES
