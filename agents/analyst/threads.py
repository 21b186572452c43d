"""Which threads are the Analyst's: a supervisor's questions about the support data, not a customer's
conversation. They are the shop's (no owner, like the widget's) and marked in their metadata, so the
escalation rules (so the queue), the conversation pages, the console socket and the exports leave
them out. (The conversations inbox and the conversation metrics count threads where a customer wrote,
which an analyst thread never has; its runs' tokens and tool calls do count in the metrics' cost and
tool figures, as /v1 callers' do.)"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from runtime.models import Thread

CHANNEL = "analyst"  # metadata["channel"], as the widget's threads say "widget"
SUPERVISOR_KEY = "analyst_for"  # metadata[SUPERVISOR_KEY]: the supervisor's user id, as text (metadata is strings)


def is_analyst_thread(thread: Thread) -> bool:
    return (thread.metadata or {}).get("channel") == CHANNEL


def analyst_thread_q(prefix: str = "") -> Q:
    """Matches analyst threads; `prefix` reaches the thread from another model ("step__run__thread__")."""
    return Q(**{f"{prefix}metadata__channel": CHANNEL})


def without_analyst_threads(threads: QuerySet, prefix: str = "") -> QuerySet:
    """`threads` (or rows reaching a thread through `prefix`) without the Analyst's. Threads with no
    channel at all are kept: a JSON key's absence must not read as a match either way."""
    channel = f"{prefix}metadata__channel"
    return threads.filter(Q(**{f"{channel}__isnull": True}) | ~analyst_thread_q(prefix))


def analyst_threads_of(supervisor) -> QuerySet[Thread]:
    return Thread.objects.filter(analyst_thread_q(), **{f"metadata__{SUPERVISOR_KEY}": str(supervisor.pk)})
