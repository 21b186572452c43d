"""The shop's help centre: its articles (markdown files beside this module for the demo shop) live in
one vector store of the shop's own, which the shop's assistants search with file_search."""

from __future__ import annotations

from knowledge.models import VectorStore
from runtime.models import Assistant

HELP_CENTRE = "help_centre"  # the store's metadata key that marks it


def help_centre_store() -> VectorStore | None:
    return VectorStore.objects.filter(owner=None, metadata__help_centre="true").first()


def ensure_help_centre() -> tuple[VectorStore, list[Assistant]]:
    """The help centre's store (made once), given to the shop's own assistants whose tools include
    file_search and which search no store yet. Returns the store and those assistants."""
    store = help_centre_store() or VectorStore.objects.create(
        owner=None, name="Help centre", metadata={HELP_CENTRE: "true"}
    )
    given = []
    for assistant in Assistant.objects.filter(owner=None):
        uses_search = any(isinstance(t, dict) and t.get("type") == "file_search" for t in assistant.tools)
        resources = dict(assistant.tool_resources or {})
        if uses_search and not (resources.get("file_search") or {}).get("vector_store_ids"):
            resources["file_search"] = {"vector_store_ids": [store.public_id]}
            Assistant.objects.filter(pk=assistant.pk).update(tool_resources=resources)
            given.append(assistant)
        elif uses_search:
            given.append(assistant)
    return store, given
