"""Reads for the console's inbox: every conversation with a customer, searched, filtered, paginated,
each row with the customer, the last message, its order numbers, tags and who has it.

The same ORM queries run on PostgreSQL (production, CI) and SQLite (the demo). Message text is
matched with icontains over the message's first text part (a widget message has exactly one):
a sequential scan of the messages, bounded by the query's length (MAX_QUERY_CHARS) and measured
at 10k conversations in docs/console.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from markdown_it import MarkdownIt

from agents.analyst.threads import without_analyst_threads
from agents.models import ConversationTag, Escalation
from orders.models import VerifiedOrder
from runtime.models import Message, Thread

_markdown = MarkdownIt("commonmark", {"html": False})

PAGE_SIZE = 25
MAX_QUERY_CHARS = 200
PREVIEW_CHARS = 160
# Waiting filters: the customer wrote last and nobody has answered for longer than this.
WAITING = {
    "5m": ("more than 5 min", timedelta(minutes=5)),
    "1h": ("more than 1 h", timedelta(hours=1)),
    "4h": ("more than 4 h", timedelta(hours=4)),
    "1d": ("more than a day", timedelta(days=1)),
}
ASSIGNEE_ME, ASSIGNEE_NONE = "me", "none"


@dataclass(frozen=True)
class InboxFilters:
    """What the inbox is asked for (agents.forms.InboxFilterForm checks it): "" means any."""

    q: str = ""
    mode: str = ""  # a Thread.Mode value
    assignee: str = ""  # "me", "none" (waiting for a person, nobody has it) or a user's id
    mood: str = ""  # the mood of the latest AI summary (runtime.summaries.MOODS)
    waiting: str = ""  # a key of WAITING
    tag: str = ""


@dataclass(frozen=True)
class InboxRow:
    """One conversation as the inbox lists it."""

    thread: Thread
    customer_name: str
    customer_email: str
    order_numbers: list[str]
    last_author: str
    preview: str
    last_message_at: object
    message_count: int
    waiting_since: object | None  # when the customer's unanswered last message was written
    mood: str
    tags: list[str]
    assignee: str  # the display name of who holds its open escalation, "" if nobody
    escalation_status: str


def _latest(messages: QuerySet, field: str) -> Subquery:
    return Subquery(messages.order_by("-created_at", "-id").values(field)[:1])


def conversations() -> QuerySet[Thread]:
    """Threads where a customer wrote (the Analyst's never have one), with what the filters and rows need."""
    messages = Message.objects.filter(thread=OuterRef("pk"))
    latest_summary = (
        Escalation.objects.filter(thread=OuterRef("pk")).exclude(summary=None).order_by("-created_at", "-id")
    )
    open_escalation = Escalation.objects.filter(thread=OuterRef("pk"), status__in=Escalation.OPEN)
    return (
        without_analyst_threads(Thread.objects.filter(Exists(messages.filter(author=Message.Author.CUSTOMER))))
        .select_related("customer")
        .annotate(
            last_message_at=_latest(messages, "created_at"),
            last_author=_latest(messages, "author"),
            last_message_id=_latest(messages, "id"),
            summary_id=Subquery(latest_summary.values("id")[:1]),
            assignee_id=Subquery(open_escalation.values("assigned_to")[:1]),
            escalation_status=Subquery(open_escalation.values("status")[:1]),
        )
    )


def search_q(q: str) -> Q:
    """Conversations matching `q`: the customer's name or e-mail, an order verified in it (its number,
    or the e-mail it was placed with), words of a message (an order number someone wrote, say), a
    tag, or the thread's id. A signed-in customer's other orders do not pull in every conversation of
    theirs: only those where the order came up."""
    verified = VerifiedOrder.objects.filter(thread=OuterRef("pk"))
    return (
        Q(customer__name__icontains=q)
        | Q(customer__email__icontains=q)
        | Q(public_id=q)
        | Q(Exists(verified.filter(Q(order__number__iexact=q) | Q(order__customer__email__iexact=q))))
        | Q(Exists(ConversationTag.objects.filter(thread=OuterRef("pk"), name=q.lower())))
        | Q(Exists(Message.objects.filter(thread=OuterRef("pk"), content__0__text__value__icontains=q)))
    )


def filtered(filters: InboxFilters, *, user) -> QuerySet[Thread]:
    """The inbox's conversations for `filters`, most recently active first."""
    threads = conversations()
    if filters.q:
        threads = threads.filter(search_q(filters.q))
    if filters.mode:
        threads = threads.filter(mode=filters.mode)
    if filters.assignee == ASSIGNEE_ME:
        threads = threads.filter(assignee_id=user.pk)
    elif filters.assignee == ASSIGNEE_NONE:
        threads = threads.filter(escalation_status=Escalation.Status.WAITING)
    elif filters.assignee:
        threads = threads.filter(assignee_id=int(filters.assignee))
    if filters.mood:
        # Matched on the summary's row, not on an annotation: SQLite returns a JSON key from a
        # subquery as JSON text ('"angry"'), PostgreSQL as the string.
        moods = Escalation.objects.filter(pk=OuterRef("summary_id"), summary__mood=filters.mood)
        threads = threads.filter(Exists(moods))
    if filters.waiting:
        cutoff = timezone.now() - WAITING[filters.waiting][1]
        threads = threads.exclude(mode=Thread.Mode.CLOSED).filter(
            last_author=Message.Author.CUSTOMER, last_message_at__lte=cutoff
        )
    if filters.tag:
        threads = threads.filter(Exists(ConversationTag.objects.filter(thread=OuterRef("pk"), name=filters.tag)))
    return threads.order_by("-last_message_at", "-id")


def page_of(filters: InboxFilters, *, user, number: int | str = 1) -> tuple[Page, list[InboxRow]]:
    """One page of the inbox and its rows (a fixed number of queries, whatever the page's size)."""
    page = Paginator(filtered(filters, user=user), PAGE_SIZE).get_page(number)
    return page, rows(list(page.object_list))


def rows(threads: list[Thread]) -> list[InboxRow]:
    ids = [thread.pk for thread in threads]
    last = Message.objects.in_bulk([t.last_message_id for t in threads if t.last_message_id])
    counts = dict(
        Message.objects.filter(thread__in=ids).values("thread").annotate(n=Count("id")).values_list("thread", "n")
    )
    tags: dict[int, list[str]] = {}
    for thread_id, name in ConversationTag.objects.filter(thread__in=ids).values_list("thread", "name"):
        tags.setdefault(thread_id, []).append(name)
    orders = _order_numbers(threads)
    moods = dict(
        Escalation.objects.filter(pk__in=[t.summary_id for t in threads if t.summary_id]).values_list(
            "pk", "summary__mood"
        )
    )
    names = _display_names({t.assignee_id for t in threads if t.assignee_id})
    out = []
    for thread in threads:
        message = last.get(thread.last_message_id)
        waiting = (
            thread.last_message_at
            if thread.last_author == Message.Author.CUSTOMER and thread.mode != Thread.Mode.CLOSED
            else None
        )
        out.append(
            InboxRow(
                thread=thread,
                customer_name=thread.customer.name if thread.customer_id else "",
                customer_email=thread.customer.email if thread.customer_id else "",
                order_numbers=orders.get(thread.pk, []),
                last_author=thread.last_author or "",
                preview=preview(message.text if message else ""),
                last_message_at=thread.last_message_at,
                message_count=counts.get(thread.pk, 0),
                waiting_since=waiting,
                mood=moods.get(thread.summary_id) or "",
                tags=sorted(tags.get(thread.pk, [])),
                assignee=names.get(thread.assignee_id, ""),
                escalation_status=thread.escalation_status or "",
            )
        )
    return out


def preview(text: str) -> str:
    """A message's text as a reader sees it (its markdown's marks dropped), on one line, cut at a word
    to PREVIEW_CHARS."""
    line = " ".join(plain_text(text).split())
    if len(line) <= PREVIEW_CHARS:
        return line
    return line[:PREVIEW_CHARS].rsplit(" ", 1)[0] + "…"


def plain_text(markdown: str) -> str:
    """The words of a markdown message without its marks: emphasis, links' targets, code ticks."""
    words = []
    for block in _markdown.parse(markdown):
        for token in block.children or ():
            if token.type in ("text", "code_inline"):
                words.append(token.content)
            elif token.type in ("softbreak", "hardbreak"):
                words.append(" ")
        if block.type.endswith("_close") or block.type in ("code_block", "fence"):
            words.append(block.content if block.type in ("code_block", "fence") else " ")
    return "".join(words)


def _order_numbers(threads: list[Thread]) -> dict[int, list[str]]:
    """The orders verified in each conversation (the customer's own orders are too many to list)."""
    found: dict[int, list[str]] = {}
    verified = VerifiedOrder.objects.filter(thread__in=[t.pk for t in threads]).order_by("verified_at", "id")
    for thread_id, number in verified.values_list("thread", "order__number"):
        found.setdefault(thread_id, []).append(number)
    return found


def _display_names(user_ids: set[int]) -> dict[int, str]:
    users = get_user_model().objects.filter(pk__in=user_ids)
    return {user.pk: user.get_full_name() or user.get_username() for user in users}


def other_conversations(thread: Thread, *, limit: int = 10) -> list[InboxRow]:
    """The same customer's other conversations, most recent first (none for an anonymous visitor)."""
    if not thread.customer_id:
        return []
    others = conversations().filter(customer_id=thread.customer_id).exclude(pk=thread.pk)
    return rows(list(others.order_by("-last_message_at", "-id")[:limit]))


def known_tags(limit: int = 200) -> list[str]:
    """Tags in use, most used first: the inbox's tag filter and the conversation page's suggestions."""
    counted = ConversationTag.objects.values("name").annotate(n=Count("id")).order_by("-n", "name")[:limit]
    return [row["name"] for row in counted]
