"""What the knowledge app does when the runtime tells it something (runtime.hooks), connected in
KnowledgeConfig.ready."""

from __future__ import annotations

from common.errors import NotFound
from knowledge import services
from knowledge.access import access_file, files_of
from knowledge.api import validation
from knowledge.models import UnansweredQuestion, VectorStore
from knowledge.search import rewrite
from knowledge.tools import NAME as FILE_SEARCH
from runtime import runs
from runtime.errors import InvalidRequest
from runtime.models import Message, Run, Thread, ToolCall

THREAD_STORE_DAYS = 7  # a thread's own vector store expires this long after its last activity


def files_attached(sender, *, thread: Thread, message: Message, attachments: list, **kwargs) -> None:
    """hooks.attachments_added: files attached with the file_search tool go into the thread's own
    vector store (made on first use, expiring THREAD_STORE_DAYS after its last activity), which
    the thread's tool_resources then name. A file that is not the thread owner's reads as not found."""
    wanted = [
        attachment["file_id"]
        for attachment in attachments
        if isinstance(attachment, dict)
        and isinstance(attachment.get("file_id"), str)
        and any(isinstance(t, dict) and t.get("type") == FILE_SEARCH for t in attachment.get("tools") or [])
    ]
    if not wanted:
        return
    files = [access_file(thread.owner, file_id) for file_id in wanted]
    store = _thread_store(thread)
    for file in files:
        services.store_file_add(store, file)


def owners_files(owner, file_ids: list[str]) -> set[str]:
    """hooks.files_finder: which of `file_ids` are files of `owner`."""
    return set(files_of(owner).filter(public_id__in=file_ids).values_list("public_id", flat=True))


def file_search_resources(owner, tool_resources: dict) -> dict:
    """hooks.tool_resources_resolver: an assistant's or a thread's `file_search.vector_store_ids`
    name the owner's live stores only (at most one), and a `vector_stores` helper ({file_ids,
    chunking_strategy, metadata}) becomes a store of the owner's files, stored by its id."""
    section = tool_resources.get("file_search")
    if not section:
        return tool_resources
    param = "tool_resources.file_search"
    ids = list(section.get("vector_store_ids") or [])
    if not all(isinstance(store_id, str) for store_id in ids):
        raise InvalidRequest(f"Invalid type for '{param}.vector_store_ids': expected an array of ids.", param=param)
    for index, spec in enumerate(section.get("vector_stores") or []):
        where = f"{param}.vector_stores[{index}]"
        spec = validation.body(spec, {"file_ids", "chunking_strategy", "metadata"})
        try:
            files = [
                access_file(owner, file_id)
                for file_id in validation.file_ids(spec.get("file_ids"), f"{where}.file_ids")
            ]
        except NotFound as error:
            raise InvalidRequest(error.message, param=f"{where}.file_ids") from None
        store = services.vector_store_create(
            owner=owner,
            files=files,
            chunking_strategy=validation.chunking_strategy(spec.get("chunking_strategy"), f"{where}.chunking_strategy"),
            metadata=validation.metadata(spec.get("metadata")),
        )
        ids.append(store.public_id)
    if len(ids) > 1:
        raise InvalidRequest(f"Invalid '{param}': at most 1 vector store.", param=param)
    for store_id in ids:
        if not VectorStore.objects.filter(owner=owner, public_id=store_id, expired=False).exists():
            raise InvalidRequest(f"No vector store found with id '{store_id}'.", param=f"{param}.vector_store_ids")
    return {**tool_resources, "file_search": {"vector_store_ids": ids}}


def _thread_store(thread: Thread) -> VectorStore:
    named = ((thread.tool_resources or {}).get("file_search") or {}).get("vector_store_ids") or []
    store = VectorStore.objects.filter(public_id__in=named, owner_id=thread.owner_id, expired=False).first()
    if store is not None:
        return store
    store = services.vector_store_create(
        owner=thread.owner,
        name=f"Files of {thread.public_id}",
        expires_after={"anchor": "last_active_at", "days": THREAD_STORE_DAYS},
        metadata={"thread_id": thread.public_id},
    )
    resources = dict(thread.tool_resources or {})
    resources["file_search"] = {"vector_store_ids": [store.public_id]}
    runs.thread_modify(thread, fields={"tool_resources": resources})
    return store


def handed_over_after_a_search(sender, *, run: Run, **kwargs) -> None:
    """hooks.run_rested: a conversation that went to a person after a search in this run is a
    question the documents did not settle."""
    if run.thread.mode == Thread.Mode.ASSISTANT:
        return
    if not ToolCall.objects.filter(step__run=run, name=FILE_SEARCH).exists():
        return
    last = run.thread.messages.filter(role=Message.Role.USER).order_by("-created_at", "-id").first()
    question = last.text if last else ""
    if question:
        UnansweredQuestion.objects.create(
            question=question[:1000],
            normalized=rewrite(question)[:300],
            reason=UnansweredQuestion.Reason.HANDED_OVER,
            thread_public_id=run.thread.public_id,
        )
