"""What the knowledge app does when the runtime tells it something (runtime.hooks), connected in
KnowledgeConfig.ready."""

from __future__ import annotations

from knowledge import services
from knowledge.access import access_file
from knowledge.models import UnansweredQuestion, VectorStore
from knowledge.search import rewrite
from knowledge.tools import NAME as FILE_SEARCH
from runtime import runs
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
