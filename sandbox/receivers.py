"""What the sandbox checks when the runtime stores tool resources and attachments (runtime.hooks):
code_interpreter's files are the caller's own, or the request is refused with a 400 naming the
param. Registered on import (SandboxConfig.ready)."""

from __future__ import annotations

from django.dispatch import receiver

from knowledge.access import files_of
from knowledge.api import validation
from runtime import hooks
from runtime.errors import InvalidRequest
from runtime.models import Message, Thread
from sandbox.tools import MAX_INPUT_FILES, NAME, attaches_for_code


def missing_files(owner, file_ids: list[str]) -> list[str]:
    """The ids of `file_ids` that are not files of `owner` (another's read as not there at all)."""
    found = set(files_of(owner).filter(public_id__in=file_ids).values_list("public_id", flat=True))
    return [file_id for file_id in file_ids if file_id not in found]


@hooks.tool_resources_resolver
def code_interpreter_resources(owner, tool_resources: dict) -> dict:
    """An assistant's or a thread's `code_interpreter.file_ids`: at most MAX_INPUT_FILES of the
    owner's files, each once."""
    section = tool_resources.get(NAME)
    if not section:
        return tool_resources
    param = f"tool_resources.{NAME}.file_ids"
    file_ids = validation.file_ids(section.get("file_ids"), param, limit=MAX_INPUT_FILES)
    missing = missing_files(owner, file_ids)
    if missing:
        raise InvalidRequest(f"No file found with id '{missing[0]}'.", param=param)
    return {**tool_resources, NAME: {"file_ids": file_ids}}


@receiver(hooks.attachments_added, dispatch_uid="sandbox.files_attached")
def files_attached(sender, *, thread: Thread, message: Message, attachments: list, **kwargs) -> None:
    """Files attached with the code_interpreter tool must be the thread owner's; the tool finds
    them on the thread's messages when it runs (sandbox.tools.input_files)."""
    wanted = [
        (index, attachment.get("file_id"))
        for index, attachment in enumerate(attachments)
        if isinstance(attachment, dict) and attaches_for_code(attachment)
    ]
    for index, file_id in wanted:
        if not isinstance(file_id, str):
            param = f"attachments[{index}].file_id"
            raise InvalidRequest(f"Invalid type for '{param}': expected a file id.", param=param)
    missing = set(missing_files(thread.owner, [file_id for _, file_id in wanted]))
    for index, file_id in wanted:
        if file_id in missing:
            raise InvalidRequest(f"No file found with id '{file_id}'.", param=f"attachments[{index}].file_id")
