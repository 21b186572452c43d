"""A log handler that keeps records as the deployment's console handler sees them (ids added)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from common.logcontext import AddIds


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.addFilter(AddIds())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def kept_records() -> Iterator[list[logging.LogRecord]]:
    handler = Kept()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
