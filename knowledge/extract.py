"""Text from an uploaded file, as sections a citation can point to, and the name to store it under.

`extract_sections` sniffs the format from the bytes and reads PDF, DOCX, Markdown, HTML, plain text,
JSON or CSV in a separate process (`knowledge.extract_worker`) with a wall-clock deadline and an
address-space limit, so a hostile file costs that process and never the caller: a Celery worker or
a thread of the embedded pool. The process is started with subprocess, never forked from this
(multi-threaded) one. Every refusal is an ExtractionError: `unsupported_file` or `invalid_file`.

Limits come from settings when Django is configured, else from the defaults below (`Limits()`):

    KNOWLEDGE_EXTRACT_TIMEOUT_SECONDS   30           wall-clock time for one file
    KNOWLEDGE_EXTRACT_MEMORY_BYTES      512 MiB      the worker's address space
    KNOWLEDGE_MAX_TEXT_CHARS            20,000,000   text in one file (OpenAI's 5M tokens at ~4 chars)
    KNOWLEDGE_MAX_PDF_PAGES             2,000        pages in one PDF
    KNOWLEDGE_MAX_UNZIPPED_BYTES        100 MiB      a DOCX unpacked, or one PDF stream decompressed
    KNOWLEDGE_MAX_ZIP_ENTRIES           10,000       parts in one DOCX
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from knowledge.sections import (
    INVALID_FILE,
    MEMORY_EXIT_CODE,
    UNSUPPORTED_FILE,
    ExtractionError,
    Limits,
    Section,
    invalid,
)

__all__ = ["DEFAULT_LIMITS", "ExtractionError", "Limits", "Section", "extract_sections", "safe_filename"]

logger = logging.getLogger(__name__)


def _setting(name: str, default: float) -> Any:
    try:
        return getattr(settings, name, default)
    except ImproperlyConfigured:  # no settings: a script or a test without Django
        return default


_DEFAULTS = Limits()
EXTRACT_TIMEOUT_SECONDS = float(_setting("KNOWLEDGE_EXTRACT_TIMEOUT_SECONDS", _DEFAULTS.timeout_seconds))
EXTRACT_MEMORY_BYTES = int(_setting("KNOWLEDGE_EXTRACT_MEMORY_BYTES", _DEFAULTS.memory_bytes))
MAX_TEXT_CHARS = int(_setting("KNOWLEDGE_MAX_TEXT_CHARS", _DEFAULTS.max_text_chars))
MAX_PDF_PAGES = int(_setting("KNOWLEDGE_MAX_PDF_PAGES", _DEFAULTS.max_pdf_pages))
MAX_UNZIPPED_BYTES = int(_setting("KNOWLEDGE_MAX_UNZIPPED_BYTES", _DEFAULTS.max_unzipped_bytes))
MAX_ZIP_ENTRIES = int(_setting("KNOWLEDGE_MAX_ZIP_ENTRIES", _DEFAULTS.max_zip_entries))
DEFAULT_LIMITS = Limits(
    timeout_seconds=EXTRACT_TIMEOUT_SECONDS,
    memory_bytes=EXTRACT_MEMORY_BYTES,
    max_text_chars=MAX_TEXT_CHARS,
    max_pdf_pages=MAX_PDF_PAGES,
    max_unzipped_bytes=MAX_UNZIPPED_BYTES,
    max_zip_entries=MAX_ZIP_ENTRIES,
)

# The worker is found from the project's root, whatever the caller's working directory.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKER_MODULE = "knowledge.extract_worker"
STDERR_TAIL_BYTES = 4096
DAMAGED_MESSAGE = "The file is damaged and can't be read."


def extract_sections(data: bytes, *, filename: str = "", limits: Limits | None = None) -> list[Section]:
    """The text of the file in `data` as sections in document order, or ExtractionError.

    `filename` is the client's name for the file: only its extension is used, to break ties
    between text formats. Blocks for up to `limits.timeout_seconds` (plus process start-up); an
    OSError means the worker process could not be started, a fault of this machine, not the file.
    """
    limits = limits or DEFAULT_LIMITS
    command = _worker_command(file_extension(filename), limits)
    with tempfile.TemporaryFile() as errors:
        try:
            finished = subprocess.run(
                command,
                input=data,
                stdout=subprocess.PIPE,
                stderr=errors,
                cwd=PROJECT_ROOT,
                env=_worker_environment(),
                timeout=limits.timeout_seconds,
                check=False,
            )
        except subprocess.TimeoutExpired:  # subprocess.run has killed and reaped the worker
            raise _over_time(limits) from None
        errors.seek(max(0, errors.seek(0, 2) - STDERR_TAIL_BYTES))
        stderr_tail = errors.read().decode("utf-8", "replace")
    return _sections_from(finished, stderr_tail, limits)


def _worker_command(extension: str, limits: Limits) -> list[str]:
    return [
        sys.executable,
        "-m",
        WORKER_MODULE,
        f"--extension={extension}",
        f"--memory-bytes={limits.memory_bytes}",
        # CPU time is a backstop for a worker whose caller died; the deadline below is the rule.
        f"--cpu-seconds={math.ceil(limits.timeout_seconds) + 1}",
        f"--max-text-chars={limits.max_text_chars}",
        f"--max-pdf-pages={limits.max_pdf_pages}",
        f"--max-unzipped-bytes={limits.max_unzipped_bytes}",
        f"--max-zip-entries={limits.max_zip_entries}",
    ]


def _worker_environment() -> dict[str, str]:
    # The project's root on the path even where PYTHONSAFEPATH keeps `-m` from adding the cwd.
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), path]))}


def _sections_from(finished: subprocess.CompletedProcess, stderr_tail: str, limits: Limits) -> list[Section]:
    """The worker's answer as sections, or the ExtractionError it reported or its death implies."""
    status = finished.returncode
    if status == MEMORY_EXIT_CODE or (status != 0 and "MemoryError" in stderr_tail):
        raise _over_memory(limits)
    if status == -signal.SIGXCPU:
        raise _over_time(limits)
    if status != 0:
        logger.warning("knowledge extraction worker exited with status %s: %s", status, stderr_tail)
        raise invalid(DAMAGED_MESSAGE)
    if stderr_tail:
        logger.warning("knowledge extraction worker: %s", stderr_tail)
    try:
        answer = json.loads(finished.stdout)
        if "error" in answer:
            error = answer["error"]
            code = error["code"] if error["code"] in (INVALID_FILE, UNSUPPORTED_FILE) else INVALID_FILE
            raise ExtractionError(str(error["message"]), code=code, limit=error.get("limit"))
        return [_section(item) for item in answer["sections"]]
    except (ValueError, KeyError, TypeError):
        logger.warning("knowledge extraction worker answered nonsense: %.200r", finished.stdout)
        raise invalid(DAMAGED_MESSAGE) from None


def _section(item: Any) -> Section:
    text, page, heading = item
    if not isinstance(text, str) or not isinstance(page, int | None) or not isinstance(heading, str | None):
        raise TypeError("not a section")
    return Section(text=text, page=page, heading=heading)


def _over_time(limits: Limits) -> ExtractionError:
    seconds = f"{limits.timeout_seconds:g} second{'' if limits.timeout_seconds == 1 else 's'}"
    return invalid(f"Reading the file took longer than the limit of {seconds}.", limit="timeout")


def _over_memory(limits: Limits) -> ExtractionError:
    mebibytes = limits.memory_bytes / (1024 * 1024)
    return invalid(f"Reading the file needed more than the memory limit of {mebibytes:,.0f} MiB.", limit="memory")


# Uploads are stored under a name anyone may have typed.
MAX_FILENAME_BYTES = 200  # UTF-8; file systems allow 255, leaving room for a storage suffix
MAX_EXTENSION_CHARS = 16
# Control and format characters (NUL, bidi overrides that disguise "exe.pdf"), surrogates, and
# private-use or unassigned code points.
UNSAFE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_RESERVED = str.maketrans({character: "_" for character in '<>:"|?*'})
_WINDOWS_DEVICES = re.compile(r"(?i)(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?")


def safe_filename(name: str | None, *, default: str = "file") -> str:
    """`name` made safe to store and show: its last path component only, no control or invisible
    characters, no characters Windows reserves, no leading dots, single spaces, at most
    MAX_FILENAME_BYTES of UTF-8 with the extension kept, and never empty (`default`)."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/")
    parts = [part for part in name.split("/") if part.strip()]
    name = parts[-1] if parts else ""
    name = "".join(" " if c.isspace() else c for c in name if c.isspace() or unicodedata.category(c) not in UNSAFE)
    name = " ".join(name.translate(_RESERVED).split()).strip(". ")
    if _WINDOWS_DEVICES.fullmatch(name):
        name = f"_{name}"
    if len(name.encode("utf-8")) > MAX_FILENAME_BYTES:
        name = _shorten(name)
    return name or default


def _shorten(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension) > MAX_EXTENSION_CHARS:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    room = MAX_FILENAME_BYTES - len(suffix.encode("utf-8"))
    stem = stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip(". ")
    return f"{stem}{suffix}" if stem else suffix.lstrip(".")


def file_extension(filename: str) -> str:
    """The lower-case extension of `filename` with its dot ("" for none), after sanitising."""
    stem, dot, extension = safe_filename(filename, default="").rpartition(".")
    return f".{extension.lower()}" if dot and stem else ""
