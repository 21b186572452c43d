"""file_search, the Assistants API's built-in search tool, as a server tool of the runtime.

A run offers it when its tools list {"type": "file_search"} and it has a vector store to search: the
run's (copied from its assistant's tool_resources) and its thread's, at most one each. The model
gets the best passages, each with a marker (【2:0†returns.md】) to quote where it uses it; the
runtime turns quoted markers into file_citation annotations (runtime.engine.citations). When
nothing scores above the threshold, the result says so, and the question is kept for the staff
(UnansweredQuestion) so they know which article to write next.
"""

from __future__ import annotations

from django.conf import settings

from knowledge.models import UnansweredQuestion, VectorStore
from knowledge.search import rewrite, search
from runtime.tools.context import ToolContext
from runtime.tools.registry import tool

NAME = "file_search"
DEFAULT_MAX_RESULTS = 8
_SEARCHES = "knowledge.searches"  # ToolContext.shared: how many searches this run made


def vector_store_ids(ctx: ToolContext) -> list[str]:
    """The run's and the thread's vector stores (as tool_resources name them), in that order."""
    ids: list[str] = []
    for resources in (ctx.run.tool_resources if ctx.run else {}, ctx.thread.tool_resources):
        for store_id in ((resources or {}).get("file_search") or {}).get("vector_store_ids") or []:
            if store_id not in ids:
                ids.append(store_id)
    return ids


def stores_for(ctx: ToolContext) -> list[VectorStore]:
    """The stores a run may search: those named, owned by whoever owns the thread (the shop's own
    stores for the widget's threads, a key owner's for theirs), and not expired."""
    ids = vector_store_ids(ctx)
    if not ids:
        return []
    return list(VectorStore.objects.filter(public_id__in=ids, owner_id=ctx.thread.owner_id, expired=False))


def options_for(ctx: ToolContext) -> dict:
    """The file_search options of the run's tool definition (max_num_results, ranking_options)."""
    for entry in ctx.run.tools if ctx.run else []:
        if isinstance(entry, dict) and entry.get("type") == NAME:
            return entry.get(NAME) or {}
    return {}


def step_view(output: dict, include_content: bool, arguments: dict) -> dict:
    """How a file_search call shows in run steps: its ranking options and results (their text only
    when asked, with include[]=step_details.tool_calls[*].file_search.results[*].content)."""
    results = []
    for result in output.get("results") or []:
        shown = {"file_id": result.get("file_id"), "file_name": result.get("filename"), "score": result.get("score")}
        if include_content:
            shown["content"] = [{"type": "text", "text": result.get("text", "")}]
        results.append(shown)
    return {"ranking_options": output.get("ranking_options"), "results": results}


@tool(
    NAME,
    "Search the shop's documents (help articles, policies) for passages that answer the customer's "
    "question. Answer from the passages found, quoting each passage's marker (like 【0:1†returns.md】) "
    "right after what it supports. If nothing relevant is found, say the documents don't cover it.",
    {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to look for, in a few words.", "maxLength": 1000}
        },
        "required": ["query"],
        "additionalProperties": False,
    },
    available=lambda ctx: bool(vector_store_ids(ctx)),
    activity=lambda args: "Searching our help articles…",
    builtin=True,
    step_view=step_view,
)
def file_search(ctx: ToolContext, args: dict) -> dict:
    options = options_for(ctx)
    ranking = options.get("ranking_options") or {}
    threshold = float(ranking.get("score_threshold", settings.KNOWLEDGE_SCORE_THRESHOLD))
    stores = stores_for(ctx)
    query = rewrite(args["query"])
    found = search(
        stores,
        [query],
        max_num_results=int(options.get("max_num_results") or DEFAULT_MAX_RESULTS),
        score_threshold=threshold,
    )
    for store in stores:
        store.touch()
    number = ctx.shared.get(_SEARCHES, 0)
    ctx.shared[_SEARCHES] = number + 1
    results = [
        {
            "marker": f"【{number}:{i}†{hit.chunk.store_file.file.filename}】",
            "file_id": hit.chunk.store_file.file.public_id,
            "filename": hit.chunk.store_file.file.filename,
            "title": hit.chunk.store_file.file.title or hit.chunk.store_file.file.filename,
            "score": hit.score,
            "page": hit.chunk.page,
            "heading": hit.chunk.heading or None,
            "text": hit.chunk.text,
        }
        for i, hit in enumerate(found)
    ]
    if not results:
        _keep_unanswered(ctx, args["query"], UnansweredQuestion.Reason.NOTHING_FOUND)
    return {
        "query": query,
        "ranking_options": {"ranker": ranking.get("ranker", "auto"), "score_threshold": threshold},
        "results": results,
        "covered": bool(results),
    }


def _keep_unanswered(ctx: ToolContext, question: str, reason: str) -> None:
    UnansweredQuestion.objects.create(
        question=question[:1000],
        normalized=rewrite(question)[:300],
        reason=reason,
        thread_public_id=ctx.thread.public_id,
    )
