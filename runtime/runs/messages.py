"""Messages: appended to a thread (refused while a run is active, as the Assistants API refuses
them), and the rows of the message the assistant writes as the model streams it."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from runtime import events, hooks
from runtime.errors import InvalidRequest, ThreadBusy, UnknownFile
from runtime.models import Message, Run, RunStep, Thread
from runtime.runs.sql import FINISHED_MESSAGE_FIELDS, finish_message_while
from runtime.serializers import message_obj, text_part

MAX_FILE_ID = 64


def message_kwargs(spec: dict) -> dict:
    """message_create's arguments from an API message spec ({role, content, attachments?, metadata?})."""
    role = spec.get("role")
    return {
        "role": role,
        "content": spec.get("content"),
        "author": Message.Author.API if role == "user" else Message.Author.ASSISTANT,
        "attachments": spec.get("attachments") or [],
        "metadata": spec.get("metadata") or {},
    }


def normalize_content(content) -> list[dict]:
    """Request content (a string, or parts with `text` as a string) → stored API parts."""
    if isinstance(content, str):
        if not content.strip():
            raise InvalidRequest("Message content must not be empty.")
        return [text_part(content)]
    if not isinstance(content, list) or not content:
        raise InvalidRequest("Message content must be a string or a non-empty list of content parts.")
    parts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            parts.append(text_part(part["text"]))
        elif kind == "image_file" and isinstance(part.get("image_file"), dict):
            file_id = part["image_file"].get("file_id")
            if not isinstance(file_id, str) or not 0 < len(file_id) <= MAX_FILE_ID:
                raise InvalidRequest("An image_file content part needs its 'file_id' (a string).")
            parts.append({"type": "image_file", "image_file": {"detail": "auto", **part["image_file"]}})
        elif kind == "image_url" and isinstance(part.get("image_url"), dict):
            parts.append({"type": "image_url", "image_url": {"detail": "auto", **part["image_url"]}})
        else:
            raise InvalidRequest(f"Unsupported content part: {str(part)[:100]}")
    return parts


def image_file_ids(parts: list[dict]) -> list[str]:
    """The file ids of a message's image_file parts, in order."""
    return [part["image_file"]["file_id"] for part in parts if part.get("type") == "image_file"]


def check_images(thread: Thread, parts: list[dict]) -> None:
    """Refuse image_file parts naming files that are not the thread's to show (UnknownFile, a 400
    naming the part). No query for a message without any."""
    file_ids = image_file_ids(parts)
    missing = set(hooks.missing_images(thread, file_ids)) if file_ids else set()
    for index, part in enumerate(parts):
        if part.get("type") == "image_file" and part["image_file"]["file_id"] in missing:
            file_id = part["image_file"]["file_id"]
            raise UnknownFile(f"No file found with id '{file_id}'.", param=f"content[{index}].image_file.file_id")


def message_create(
    *,
    thread: Thread,
    role: str,
    content,
    author: str,
    author_name: str = "",
    metadata: dict | None = None,
    attachments: list | None = None,
    check_active_run: bool = True,
) -> Message:
    """Append a message to a thread. Refused while a run is active, as the Assistants API does."""
    if role not in Message.Role.values:
        raise InvalidRequest(f"Invalid 'role': {role!r}. Expected 'user' or 'assistant'.")
    parts = normalize_content(content)
    if role == Message.Role.USER:  # what the model reads; the platform's own answers name its files
        check_images(thread, parts)
    check_attachments(thread.owner, attachments or [])
    with transaction.atomic():
        if check_active_run:
            Thread.objects.select_for_update().filter(pk=thread.pk).first()
            refuse_while_busy(thread)
        message = store_message(
            thread,
            role=role,
            author=author,
            author_name=author_name,
            content=parts,
            metadata=metadata or {},
            attachments=attachments or [],
        )
        if message.attachments:
            attachments = message.attachments
            hooks.attachments_added.send(sender=Message, thread=thread, message=message, attachments=attachments)
        events.publish_on_commit(thread.public_id, "thread.message.completed", message_obj(message))
    return message


def check_attachments(owner, attachments: list) -> None:
    """Every file the message attaches is one of the thread owner's (another owner's reads as not
    there), as the Assistants API refuses a message naming a file that does not exist. Its
    image_file parts are checked by check_images, against what the thread may show."""
    if not attachments:
        return  # a plain message: no query
    named = [
        (f"attachments[{i}].file_id", attachment.get("file_id") if isinstance(attachment, dict) else None)
        for i, attachment in enumerate(attachments)
    ]
    for param, file_id in named:
        if not isinstance(file_id, str) or not file_id:
            raise InvalidRequest(f"Invalid '{param}': expected a file id.", param=param)
    missing = set(hooks.missing_files(owner, [file_id for _, file_id in named]))
    for param, file_id in named:
        if file_id in missing:
            raise UnknownFile(f"No file found with id '{file_id}'.", param=param)


def refuse_while_busy(thread: Thread) -> None:
    active = thread.runs.active().first()
    if active is not None:
        raise ThreadBusy(f"Can't add messages to {thread.public_id} while a run {active.public_id} is active.")


def store_message(thread: Thread, **fields) -> Message:
    return Message.objects.create(thread=thread, status=Message.Status.COMPLETED, completed_at=timezone.now(), **fields)


def store_opened(message: Message, step: RunStep) -> None:
    """Store the message the assistant began writing and its message_creation step (both in progress)."""
    with transaction.atomic():
        message.save(force_insert=True)
        step.save(force_insert=True)


def store_finished(message: Message, step: RunStep, *, while_thread_in: Iterable[str] | None = None) -> bool:
    """Store the written message's text and outcome, and its completed step. With `while_thread_in`,
    only while the thread's mode is one of those, checked as the message is stored: False, and
    nothing stored, when it is not (a person took the conversation over)."""
    with transaction.atomic():
        if while_thread_in is None:
            message.save(update_fields=list(FINISHED_MESSAGE_FIELDS))
        elif not finish_message_while(message, while_thread_in):
            return False
        step.save(update_fields=["status", "completed_at", "prompt_tokens", "completion_tokens"])
    return True


def message_modify(message: Message, *, metadata: dict | None) -> Message:
    message.metadata = metadata or {}
    Message.objects.filter(pk=message.pk).update(metadata=message.metadata)
    return message


def message_delete(message: Message) -> None:
    """Delete a message, but not while a run is working on its thread (it may be reading it)."""
    with transaction.atomic():
        Thread.objects.select_for_update().filter(pk=message.thread_id).first()
        active = Run.objects.filter(thread_id=message.thread_id).active().first()
        if active is not None:
            raise ThreadBusy(
                f"Can't delete messages in {message.thread.public_id} while a run {active.public_id} is active."
            )
        message.delete()
