"""The shop's support data as CSV files for the Analyst: conversations, escalations, returns, tool calls.

Read-only queries. What goes out is counts, states and times, never what anyone wrote: no message
text, no escalation reasons or summaries, no notes, no tool arguments or outputs (they hold order
numbers and e-mail addresses), no customer names or e-mail addresses. Conversations carry their
public thread id (a supervisor can open one in the console) and whether the customer was signed
in; escalations name the agent by username (the team's own figures). Customers' ratings (CSAT)
are not exported yet (the metrics page shows them); resolution is the metrics page's: confirmed by the customer's
words, or assumed after 24 quiet hours (agents.metrics.resolutions).

Only the shop's own conversations count: threads without an owner (the widget's) where a customer
wrote. Threads of /v1 API callers and the Analyst's own threads are left out, and so are their tool
calls. Each file holds at most MAX_ROWS rows, the most recent ones. Times are the server's local
time (settings.TIME_ZONE), written "YYYY-MM-DD HH:MM:SS" so pandas reads them as dates.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, Max, OuterRef, QuerySet
from django.utils import timezone

from agents.analyst.threads import without_analyst_threads
from agents.metrics import resolutions
from agents.models import Escalation
from orders.models import Return
from runtime.models import Message, Thread, ToolCall

MAX_ROWS = 10_000  # per file, the most recent: enough for months of a shop's support, small enough to read fast


@dataclass(frozen=True)
class Column:
    name: str
    meaning: str


@dataclass(frozen=True)
class Table:
    """One CSV file: its name, what a row is, its columns, and the query that makes its rows."""

    filename: str
    row: str
    columns: tuple[Column, ...]
    rows: Callable[[], Iterable[tuple]]

    def csv_bytes(self) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([column.name for column in self.columns])
        writer.writerows(self.rows())
        return out.getvalue().encode("utf-8")


def local(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def seconds_between(start: datetime | None, end: datetime | None) -> int | str:
    return round((end - start).total_seconds()) if start and end else ""


# --- conversations --------------------------------------------------------------------------------------


def shop_conversations() -> QuerySet[Thread]:
    """The shop's conversations: owner-less threads where a customer wrote, the Analyst's left out."""
    customer_wrote = Message.objects.filter(thread=OuterRef("pk"), author=Message.Author.CUSTOMER)
    return without_analyst_threads(Thread.objects.filter(owner__isnull=True).filter(Exists(customer_wrote)))


def _counts(rows: QuerySet, key: str) -> dict[int, int]:
    return dict(rows.values_list(key).annotate(n=Count("id")).values_list(key, "n"))


def conversation_rows() -> list[tuple]:
    threads = list(
        shop_conversations()
        .annotate(last_message_at=Max("messages__created_at"))
        .order_by("-created_at", "-id")
        .values("id", "public_id", "created_at", "last_message_at", "mode", "metadata", "customer_id")[:MAX_ROWS]
    )
    ids = {t["id"] for t in threads}
    messages = Message.objects.filter(thread_id__in=ids)
    by_author = {
        author: _counts(messages.filter(author=author), "thread_id")
        for author in (Message.Author.CUSTOMER, Message.Author.ASSISTANT, Message.Author.AGENT)
    }
    total = _counts(messages, "thread_id")
    calls = _counts(ToolCall.objects.filter(step__run__thread_id__in=ids), "step__run__thread_id")
    escalations = _counts(Escalation.objects.filter(thread_id__in=ids), "thread_id")
    resolved_at = dict(
        Escalation.objects.filter(thread_id__in=ids, resolved_at__isnull=False)
        .values_list("thread_id")
        .annotate(last=Max("resolved_at"))
        .values_list("thread_id", "last")
    )
    resolution = resolutions(ids)
    return [
        (
            t["public_id"],
            local(t["created_at"]),
            local(t["last_message_at"]),
            t["mode"],
            (t["metadata"] or {}).get("channel", ""),
            t["customer_id"] is not None,
            total.get(t["id"], 0),
            by_author[Message.Author.CUSTOMER].get(t["id"], 0),
            by_author[Message.Author.ASSISTANT].get(t["id"], 0),
            by_author[Message.Author.AGENT].get(t["id"], 0),
            calls.get(t["id"], 0),
            escalations.get(t["id"], 0) > 0,
            escalations.get(t["id"], 0),
            local(resolved_at.get(t["id"])),
            resolution.get(t["id"], ""),
        )
        for t in reversed(threads)
    ]


CONVERSATIONS = Table(
    filename="conversations.csv",
    row="conversation a customer had with the shop (a widget thread where the customer wrote)",
    columns=(
        Column("thread_id", "the conversation's id (open it at /console/conversations/<id>/)"),
        Column("created_at", "when the conversation started"),
        Column("last_message_at", "when its last message was written"),
        Column("mode", "who answers now: assistant, waiting_human, human or closed"),
        Column("channel", "where it came from (widget)"),
        Column("signed_in", "whether the customer was signed in to the shop (True/False)"),
        Column("messages", "messages in all"),
        Column("customer_messages", "messages the customer wrote"),
        Column("assistant_messages", "answers the assistant wrote"),
        Column("agent_messages", "replies people wrote"),
        Column("tool_calls", "tool calls the assistant made"),
        Column("escalated", "whether it ever went to a person (True/False)"),
        Column("escalations", "how many times it went to a person"),
        Column("resolved_at", "when a person last resolved it (empty if never)"),
        Column("resolution", "confirmed (the customer said so), assumed (quiet 24 h after a reply) or empty"),
    ),
    rows=conversation_rows,
)


# --- escalations --------------------------------------------------------------------------------------


def escalation_rows() -> list[tuple]:
    escalations = list(
        without_analyst_threads(Escalation.objects.filter(thread__owner__isnull=True), "thread__")
        .select_related("thread", "assigned_to")
        .order_by("-created_at", "-id")[:MAX_ROWS]
    )
    return [
        (
            e.pk,
            e.thread.public_id,
            local(e.created_at),
            e.trigger,
            e.priority,
            e.status,
            e.assigned_to.get_username() if e.assigned_to_id else "",
            local(e.assigned_at),
            local(e.first_human_reply_at),
            local(e.resolved_at),
            local(e.handed_back_at),
            seconds_between(e.created_at, e.first_human_reply_at),
            seconds_between(e.created_at, e.resolved_at),
            "" if e.first_human_reply_at is None else e.first_human_reply_at <= e.sla_due_at,
        )
        for e in reversed(escalations)
    ]


ESCALATIONS = Table(
    filename="escalations.csv",
    row="time a conversation went to a person",
    columns=(
        Column("escalation_id", "the escalation's number"),
        Column("thread_id", "the conversation (thread_id in conversations.csv)"),
        Column("created_at", "when it went to a person"),
        Column("trigger", "why: model_tool, customer_request, repeated_failures, frustration or supervisor"),
        Column("priority", "low, normal, high or urgent"),
        Column("status", "waiting, assigned, resolved or handed_back"),
        Column("agent", "the username of the person it was assigned to (empty if nobody took it)"),
        Column("assigned_at", "when a person took it"),
        Column("first_human_reply_at", "when a person first replied"),
        Column("resolved_at", "when it was resolved"),
        Column("handed_back_at", "when it was handed back to the assistant"),
        Column("seconds_to_first_reply", "from created_at to the first human reply, in seconds"),
        Column("seconds_to_resolve", "from created_at to resolved_at, in seconds"),
        Column("sla_met", "whether a person replied within the wait-time target (empty if nobody replied)"),
    ),
    rows=escalation_rows,
)


# --- returns ------------------------------------------------------------------------------------------


def return_rows() -> list[tuple]:
    returns = list(Return.objects.select_related("item__product").order_by("-created_at", "-id")[:MAX_ROWS])
    return [
        (
            r.pk,
            local(r.created_at),
            r.status,
            r.reason,
            r.channel,
            r.item.product.sku if r.item.product_id else "",
            r.quantity,
            r.refund_amount,
            r.currency,
            local(r.decided_at),
            local(r.received_at),
            local(r.refunded_at),
        )
        for r in reversed(returns)
    ]


RETURNS = Table(
    filename="returns.csv",
    row="return request for an order's item",
    columns=(
        Column("return_id", "the return's number"),
        Column("created_at", "when it was requested"),
        Column("status", "requested, approved, rejected, received or refunded"),
        Column("reason", "defective, wrong_item, not_needed or other"),
        Column("channel", "who requested it: assistant, agent, api or admin"),
        Column("product", "the item's SKU"),
        Column("quantity", "items returned"),
        Column("refund_amount", "the refund for them"),
        Column("currency", "the refund's currency"),
        Column("decided_at", "when it was approved or rejected"),
        Column("received_at", "when the items came back"),
        Column("refunded_at", "when the refund was paid (empty if not yet)"),
    ),
    rows=return_rows,
)


# --- tool calls ---------------------------------------------------------------------------------------


def tool_call_rows() -> list[tuple]:
    calls = list(
        without_analyst_threads(ToolCall.objects.filter(step__run__thread__owner__isnull=True), "step__run__thread__")
        .select_related("step__run__thread")
        .order_by("-step__created_at", "-id")[:MAX_ROWS]
    )
    return [
        (
            c.call_id,
            c.step.run.thread.public_id,
            local(c.started_at or c.step.created_at),
            c.name,
            c.side,
            c.status,
            c.error_code,
            "" if c.duration_ms is None else c.duration_ms,
        )
        for c in reversed(calls)
    ]


TOOL_CALLS = Table(
    filename="tool_calls.csv",
    row="tool call the assistant made in a customer conversation",
    columns=(
        Column("call_id", "the call's id"),
        Column("thread_id", "the conversation (thread_id in conversations.csv)"),
        Column("created_at", "when it was called"),
        Column("name", "the tool: get_order_status, track_shipment, initiate_return, file_search, …"),
        Column("side", "server (run by Concierge), approval (waited for a person) or client"),
        Column("status", "completed, failed (the model got an error), cancelled or pending"),
        Column("error_code", "why it failed (empty if it did not)"),
        Column("duration_ms", "how long it ran, in milliseconds"),
    ),
    rows=tool_call_rows,
)


TABLES = (CONVERSATIONS, ESCALATIONS, RETURNS, TOOL_CALLS)


def export_all() -> list[tuple[str, bytes]]:
    """Every table as (filename, CSV bytes), read now."""
    return [(table.filename, table.csv_bytes()) for table in TABLES]
