"""Starting runs: one active run per thread, announced and handed to a worker after commit.

Also the widget's path, which stores a customer's message and starts the run that answers it in
one transaction (`customer_message_create`).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction

from runtime import events, hooks
from runtime.dispatch import enqueue_run
from runtime.errors import ThreadBusy, ThreadClosed, ThreadNotAnswering, not_answering_message
from runtime.models import Assistant, Message, Run, Thread
from runtime.runs.messages import (
    check_images,
    message_create,
    message_kwargs,
    normalize_content,
    refuse_while_busy,
    store_message,
)
from runtime.serializers import message_obj, run_obj


def run_create(
    *,
    thread: Thread,
    assistant: Assistant,
    additional_messages: Iterable[dict] = (),
    **options,
) -> Run:
    """Queue a run of `assistant` on `thread`: one active run per thread, enqueued after commit.

    `options` are the API's run parameters (model, instructions, additional_instructions, tools,
    metadata, temperature, top_p, max_prompt_tokens, max_completion_tokens, truncation_strategy,
    tool_choice, parallel_tool_calls, response_format); unset ones come from the assistant.
    """
    fields = run_fields(assistant, **options)
    with transaction.atomic():
        locked = Thread.objects.select_for_update().get(pk=thread.pk)
        if locked.mode != Thread.Mode.ASSISTANT:
            raise ThreadNotAnswering(not_answering_message(locked))
        active = locked.runs.active().first()
        if active is not None:
            raise ThreadBusy(f"Thread {thread.public_id} already has an active run {active.public_id}.")
        for spec in additional_messages:
            message_create(thread=locked, check_active_run=False, **message_kwargs(spec))
        run = _queue_run(locked, assistant, fields)
        created = run_obj(run)
        events.publish_many_on_commit(
            thread.public_id, [("thread.run.created", created), ("thread.run.queued", created)]
        )
        enqueue_run(run.pk)
    return run


def customer_message_create(
    *, thread: Thread, text: str, author_name: str = "", client_id: str = "", image_file_ids: tuple[str, ...] = ()
) -> tuple[Message, Run | None]:
    """A customer's message and the assistant's run to answer it, in one transaction under the
    thread's lock: one round of locking and checking instead of two.

    A message sent again with the same `client_id` (the widget resends after a reconnect) is
    stored once: the stored one comes back, without a run. Refused while a run is active
    (ThreadBusy) and in a closed conversation (ThreadClosed). The run is queued when the thread is
    the assistant's and has one, and no receiver of hooks.customer_message (the rules that call a
    person, sent with the message stored, inside the transaction) handed the conversation over.
    """
    images = [{"type": "image_file", "image_file": {"file_id": file_id}} for file_id in image_file_ids]
    parts = normalize_content([*([{"type": "text", "text": text}] if text.strip() else []), *images] or text)
    check_images(thread, parts)
    with transaction.atomic():
        locked = Thread.objects.select_for_update(of=("self",)).select_related("assistant").get(pk=thread.pk)
        if client_id:
            already = locked.messages.filter(metadata__client_id=client_id).first()
            if already is not None:
                return already, None
        if locked.mode == Thread.Mode.CLOSED:
            raise ThreadClosed(f"Thread {thread.public_id} is closed.")
        message = store_message(
            locked,
            role=Message.Role.USER,
            author=Message.Author.CUSTOMER,
            author_name=author_name,
            content=parts,
            # Who wrote it, as the live views read it from the message's API shape (the console names
            # a signed-in customer before a reload as after); the widget's resend key.
            metadata={
                **({"client_id": client_id} if client_id else {}),
                **({"author": "customer", "author_name": author_name} if author_name else {}),
            },
        )
        announced = [("thread.message.completed", message_obj(message))]
        run = None
        answering = locked.mode == Thread.Mode.ASSISTANT and locked.assistant_id
        if hooks.person_called_for(locked, message) or not answering:
            refuse_while_busy(locked)
        else:
            # No look for an active run first: the one-active-run index refuses a second one.
            run = _queue_run(locked, locked.assistant, run_fields(locked.assistant))
            created = run_obj(run)
            announced += [("thread.run.created", created), ("thread.run.queued", created)]
        events.publish_many_on_commit(thread.public_id, announced)
        if run is not None:
            enqueue_run(run.pk)
    return message, run


def run_fields(
    assistant: Assistant,
    *,
    model: str | None = None,
    instructions: str | None = None,
    additional_instructions: str | None = None,
    tools: list | None = None,
    metadata: dict | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    max_prompt_tokens: int | None = None,
    max_completion_tokens: int | None = None,
    truncation_strategy: dict | None = None,
    tool_choice=None,
    parallel_tool_calls: bool | None = None,
    response_format=None,
    tool_resources: dict | None = None,
) -> dict:
    """A new run's settings: the given run parameters, the assistant's for the rest. `tool_resources`
    as hooks.resolve_tool_resources checked them (createThreadAndRun's own)."""
    base_instructions = assistant.instructions if instructions is None else instructions
    if additional_instructions:
        base_instructions = f"{base_instructions}\n\n{additional_instructions}".strip()
    return {
        "model": model or assistant.model,
        "instructions": base_instructions,
        "tools": assistant.tools if tools is None else tools,
        "server_tools": list(assistant.server_tools),
        "tool_resources": (assistant.tool_resources or {}) if tool_resources is None else tool_resources,
        "metadata": metadata or {},
        "temperature": assistant.temperature if temperature is None else temperature,
        "top_p": assistant.top_p if top_p is None else top_p,
        "max_prompt_tokens": max_prompt_tokens,
        "max_completion_tokens": max_completion_tokens,
        "truncation_strategy": truncation_strategy or {"type": "auto", "last_messages": None},
        "tool_choice": tool_choice if tool_choice is not None else "auto",
        "parallel_tool_calls": True if parallel_tool_calls is None else parallel_tool_calls,
        "response_format": assistant.response_format if response_format is None else response_format,
    }


def _queue_run(locked: Thread, assistant: Assistant, fields: dict) -> Run:
    """Insert a queued run; the caller holds the thread's lock, checked the thread is the
    assistant's, and enqueues it (after announcing it: a worker executing it at once must not
    publish before `created`). A second active run is refused (ThreadBusy) by the unique index."""
    try:
        # The exception leaves the caller's atomic block, so no savepoint is needed to keep an outer
        # transaction usable.
        run = Run.objects.create(
            thread=locked,
            assistant=assistant,
            assistant_public_id=assistant.public_id,
            expires_at=Run.default_expiry(),
            **fields,
        )
    except IntegrityError:
        # The partial unique index caught a concurrent creation the lock did not (another database).
        raise ThreadBusy(f"Thread {locked.public_id} already has an active run.") from None
    return run
