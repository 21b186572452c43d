"""The extraction worker: a short-lived process that reads one file's bytes on stdin and writes its
sections, or the reason it was refused, as JSON on stdout.

    python -m knowledge.extract_worker --extension=.pdf --memory-bytes=N --cpu-seconds=N \\
        --max-text-chars=N --max-pdf-pages=N --max-unzipped-bytes=N --max-zip-entries=N

It caps its own address space and CPU time before reading anything (rather than a preexec_fn in
the caller, which Python documents as unsafe in a threaded process), and the caller kills it at the
wall-clock deadline: a decompression bomb or a pathological PDF costs this process, never the
Celery worker or web server that asked. It needs no Django: limits come as arguments.

Output: {"sections": [[text, page, heading], ...]} or {"error": {"code", "message", "limit"}},
exit status 0; MEMORY_EXIT_CODE when the address-space limit was hit.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import traceback
import warnings

from knowledge.formats import read_sections
from knowledge.sections import INVALID_FILE, MEMORY_EXIT_CODE, ExtractionError, Limits

# stderr goes to a file the caller reads the end of, for its log; it needs no more than this.
STDERR_BYTES = 1024 * 1024


def limit_resources(*, memory_bytes: int, cpu_seconds: int) -> None:
    """Cap this process: address space, CPU seconds (a backstop should the caller be gone), no core
    dumps, and small files (stderr is one)."""
    for kind, value in (
        (resource.RLIMIT_AS, memory_bytes),
        (resource.RLIMIT_CPU, cpu_seconds),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_FSIZE, STDERR_BYTES),
    ):
        _, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m knowledge.extract_worker", description=__doc__)
    parser.add_argument("--extension", default="")
    parser.add_argument("--memory-bytes", type=int, required=True)
    parser.add_argument("--cpu-seconds", type=int, required=True)
    parser.add_argument("--max-text-chars", type=int, required=True)
    parser.add_argument("--max-pdf-pages", type=int, required=True)
    parser.add_argument("--max-unzipped-bytes", type=int, required=True)
    parser.add_argument("--max-zip-entries", type=int, required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    limit_resources(memory_bytes=arguments.memory_bytes, cpu_seconds=arguments.cpu_seconds)
    # pypdf logs a warning for every quirk of a PDF; stderr is kept for crashes.
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    limits = Limits(
        memory_bytes=arguments.memory_bytes,
        max_text_chars=arguments.max_text_chars,
        max_pdf_pages=arguments.max_pdf_pages,
        max_unzipped_bytes=arguments.max_unzipped_bytes,
        max_zip_entries=arguments.max_zip_entries,
    )
    try:
        data = sys.stdin.buffer.read()
        sections = read_sections(data, extension=arguments.extension, limits=limits)
        result: dict = {"sections": [[section.text, section.page, section.heading] for section in sections]}
    except ExtractionError as error:
        result = {"error": {"code": error.code, "message": error.message, "limit": error.limit}}
    except MemoryError:
        return MEMORY_EXIT_CODE
    except Exception:
        # This process is the boundary: whatever a parser raises on hostile input comes back as
        # `invalid_file`; the traceback goes to stderr for the caller's log.
        traceback.print_exc()
        result = {"error": {"code": INVALID_FILE, "message": "The file is damaged and can't be read.", "limit": None}}
    try:
        sys.stdout.buffer.write(json.dumps(result, ensure_ascii=False).encode("utf-8", "replace"))
    except MemoryError:
        return MEMORY_EXIT_CODE
    return 0


if __name__ == "__main__":
    sys.exit(main())
