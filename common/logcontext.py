"""Ids that every log line carries while they hold: the request's, the run's, the thread's.

    with logcontext.bound(run_id=run.public_id, thread_id=thread.public_id):
        ...  # every record logged here, in any module, has record.run_id and record.thread_id

`AddIds` (a logging filter on the handler) copies them onto each record; the JSON formatter
(LOG_FORMAT=json) writes them as fields. Context variables follow a request or a run across
asgiref's thread hops and stay apart between threads.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ids: ContextVar[dict[str, str]] = ContextVar("log_ids", default={})  # noqa: B039 - never mutated


@contextmanager
def bound(**ids: str | None) -> Iterator[None]:
    token = _ids.set({**_ids.get(), **{name: value for name, value in ids.items() if value}})
    try:
        yield
    finally:
        _ids.reset(token)


def current() -> dict[str, str]:
    return dict(_ids.get())


class AddIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _ids.get().items():
            setattr(record, name, value)
        return True
