"""How other apps plug into the runtime without the runtime importing them.

- Tools: `runtime.tools.registry.tool` registers a server-side tool (orders, agents), or one of the
  Assistants API's built-in tools (knowledge: file_search).
- Signals: `run_rested` after a run comes to rest; `customer_message` while a customer's message
  is being stored (agents' rules call a person here); `thread_resumed` while a /v1 caller gives a
  thread a person had back to the assistant; `attachments_added` while a message with
  attachments is (knowledge files them for file_search); `thread_created` and `csat_submitted`
  after commit (webhooks tell the shop's systems).
- Prompt facts: `prompt_facts` adds lines the model reads before it answers (orders: who is signed
  in, which orders are proven).
- Images: `image_source` says which image file ids a thread's messages may name and reads their
  bytes for the model (knowledge: customers' photos and /v1 callers' files).
- Tool resources: `tool_resources_resolver` checks the section of an assistant's or a thread's
  tool_resources that a plug-in owns, as they are stored (knowledge: file_search's vector stores).
- Files: `files_finder` tells which file ids name an owner's files (knowledge), so a message's
  attachments and image_file parts never name a file that is not there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from django.dispatch import Signal

if TYPE_CHECKING:
    from runtime.models import Run, Thread
    from runtime.tools.context import ToolContext

log = logging.getLogger(__name__)

# Sent (with `run` and `outcome`, a RunOutcome or None) when a run comes to rest: completed, failed,
# incomplete, expired, cancelled, or waiting in requires_action. The agents app checks its
# escalation rules here.
run_rested = Signal()


@dataclass(frozen=True)
class RunOutcome:
    """What the worker that brought a run to rest saw it do, when that worker executed the whole run
    (the outcome is None for a run resumed after another worker or the caller's tool outputs):
    whether one of its tool calls failed, and the texts of the messages the assistant wrote in it.
    A receiver reads these instead of the run's calls and messages."""

    tool_call_failed: bool
    answers: tuple[str, ...]


# Sent (with `thread`, locked, and `message`) inside the transaction that stores a customer's
# message, before the runtime decides whether the assistant answers it. A receiver that hands the
# conversation to a person returns True: then no run is started.
customer_message = Signal()

# Sent (with `thread`, `message` and its `attachments`) inside the transaction that stores a message
# with attachments: knowledge puts files attached for file_search into the thread's vector store. A
# receiver refuses an attachment (a file that is not the caller's) by raising a DomainError.
attachments_added = Signal()

# Sent (with `thread`) once the transaction that created a thread commits, whoever created it (the
# widget, /v1, the console's analyst): a receiver tells them apart by `thread.owner` and
# `thread.metadata["channel"]`.
thread_created = Signal()

# Sent (with `thread`, locked) inside the transaction in which a thread a person had (waiting for one,
# or answered by one, or closed) is given back to the assistant by its owner, a /v1 caller who has
# no console (runtime.runs.thread_resume): the agents app closes the open escalation.
thread_resumed = Signal()

# Sent by whatever stores a customer's rating of a conversation (CSAT), once its transaction
# commits, with `thread`, `rating` (an int from 1 to `scale`, the best rating: 5 for five stars, 2
# for thumbs down/up) and `submitted_at` (an aware datetime): runtime.runs.ratings.rating_submit
# sends it. webhooks turns it into the `csat.submitted` event.
csat_submitted = Signal()

FactsProvider = Callable[["Run", "ToolContext"], list[str]]
_fact_providers: list[FactsProvider] = []


def prompt_facts(provider: FactsProvider) -> FactsProvider:
    """Register `provider(run, ctx)`: lines of fact for the system prompt of every run."""
    if provider not in _fact_providers:
        _fact_providers.append(provider)
    return provider


def facts_for(run: Run, ctx: ToolContext) -> list[str]:
    return [fact for provider in _fact_providers for fact in provider(run, ctx)]


ResourcesResolver = Callable[[Any, dict], dict]
_resource_resolvers: list[ResourcesResolver] = []


def tool_resources_resolver(resolver: ResourcesResolver) -> ResourcesResolver:
    """Register `resolver(owner, tool_resources) -> tool_resources`: it refuses ids that are not the
    owner's with a DomainError, and may replace what the API lets a caller describe inline (a vector
    store to make from files) by the ids of what it made. Called inside the caller's transaction."""
    if resolver not in _resource_resolvers:
        _resource_resolvers.append(resolver)
    return resolver


def resolve_tool_resources(owner, tool_resources: dict | None) -> dict:
    """tool_resources as an assistant or a thread stores them, every registered resolver applied."""
    resolved = dict(tool_resources or {})
    for resolver in _resource_resolvers:
        resolved = resolver(owner, resolved)
    return resolved


class ImageSource(Protocol):
    def missing_images(self, thread: Thread, file_ids: list[str]) -> list[str]: ...

    def read_image(self, thread: Thread, file_id: str) -> tuple[str, bytes] | None: ...


_image_sources: list[ImageSource] = []


def image_source(source: ImageSource) -> ImageSource:
    """Register `source`: `missing_images(thread, ids)` names the ids no image file of the thread's
    has; `read_image(thread, id)` is (content type, bytes) of one, or None."""
    if source not in _image_sources:
        _image_sources.append(source)
    return source


def missing_images(thread: Thread, file_ids: list[str]) -> list[str]:
    """The ids among `file_ids` that no registered source has for `thread` (all of them, with none)."""
    missing = list(file_ids)
    for source in _image_sources:
        missing = source.missing_images(thread, missing) if missing else missing
    return missing


def read_image(thread: Thread, file_id: str) -> tuple[str, bytes] | None:
    for source in _image_sources:
        found = source.read_image(thread, file_id)
        if found is not None:
            return found
    return None


FilesFinder = Callable[[Any, list[str]], set[str]]
_files_finders: list[FilesFinder] = []


def files_finder(finder: FilesFinder) -> FilesFinder:
    """Register `finder(owner, file_ids) -> the ids among them that are files of owner` (knowledge:
    the Files API's files). Another owner's file is as missing as one that never existed."""
    if finder not in _files_finders:
        _files_finders.append(finder)
    return finder


def missing_files(owner, file_ids: list[str]) -> list[str]:
    """The ids of `file_ids` that name no file of `owner` (all of them when no app keeps files)."""
    found: set[str] = set()
    for finder in _files_finders:
        found |= finder(owner, file_ids)
    return [file_id for file_id in file_ids if file_id not in found]


def announce_rest(run: Run, outcome: RunOutcome | None = None) -> None:
    """Send run_rested; a receiver's failure is logged, never the run's."""
    for receiver, error in run_rested.send_robust(sender=type(run), run=run, outcome=outcome):
        if isinstance(error, Exception):
            log.error("run_rested receiver %r failed: %r", receiver, error)


def person_called_for(thread, message) -> bool:
    """Send customer_message; True if a receiver handed the conversation to a person.

    A receiver that raises is logged and counts as not calling anyone: the customer's message is
    stored (and answered) all the same. No savepoint guards the receivers' own writes (two more
    statements on every customer message): a receiver whose database write fails still fails the
    transaction, as any statement in it would."""
    called = False
    for receiver, response in customer_message.send_robust(sender=type(thread), thread=thread, message=message):
        if isinstance(response, Exception):
            log.error("customer_message receiver %r failed on thread %s: %r", receiver, thread.public_id, response)
        elif response:
            called = True
    return called
