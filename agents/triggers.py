"""When a conversation goes to a person without the model deciding it: rules that hold whatever the model does.

- The customer asks for a person ("can I talk to a human?").
- Frustration: one strongly worded message, or a second frustrated one in the same conversation.
- Repeated failures: tool errors, fallback answers ("I can't help with that"), failed or expired
  runs — ESCALATE_AFTER_FAILURES of them since the conversation last had a person.
The model's own `escalate_to_human` tool and a supervisor's pick go through agents.services too.

The rules watch the conversations Concierge's own channels carry (the widget's: no API key owns
them), not the Analyst's, and not a /v1 caller's: an API caller has no console, and its thread would
wait for a person it cannot reach. A /v1 assistant opts in with metadata `concierge_escalation: "on"`.
A /v1 thread a person has (the model's escalate_to_human, or the opt-in) shows it in its `mode`, and
its caller gives it back with `{"mode": "assistant"}` (runtime.runs.thread_resume; `on_thread_resumed`).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db.models import Q

from agents.analyst.threads import is_analyst_thread
from agents.models import Escalation
from agents.services import escalate, open_escalation, owner_took_back, refresh_summary_soon
from runtime import hooks
from runtime.models import Assistant, Message, Run, Thread, ToolCall

OPT_IN = "concierge_escalation"  # a /v1 assistant's metadata key; "on" lets the rules watch its threads

ASKS_FOR_HUMAN = re.compile(
    r"\b(talk|speak|chat|connect|transfer)\w*\b.{0,25}\b(human|person|agent|someone|somebody|representative|"
    r"operator|real people|staff|manager)\b"
    r"|\b(real|live|actual)\s+(person|human|agent)\b"
    r"|\bhuman\s+(please|agent|being)\b|^\s*(agent|human|representative|operator)\s*[.!?]*\s*$",
    re.IGNORECASE,
)
STRONG_FRUSTRATION = re.compile(
    r"\b(useless|ridiculous|terrible|awful|worst|scam|fraud|unacceptable|pathetic|wtf|fed up|sick of|"
    r"waste of (my )?time|furious|livid|rubbish|garbage)\b",
    re.IGNORECASE,
)
MILD_FRUSTRATION = re.compile(
    r"\b(annoy\w*|frustrat\w*|still (not|waiting|no)|again\?|not helpful|doesn'?t help|come on|seriously)\b"
    r"|!{2,}|\?{3,}",
    re.IGNORECASE,
)
FALLBACK_ANSWER = re.compile(
    r"\b(I'?m not sure I (understand|follow)|I (can'?t|cannot|couldn'?t) help with (that|this)|"
    r"I didn'?t (quite )?(get|understand) that|I don'?t understand)\b",
    re.IGNORECASE,
)


def frustration(text: str) -> int:
    """0 calm, 1 annoyed, 2 strongly frustrated."""
    letters = [c for c in text if c.isalpha()]
    shouting = len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7
    if STRONG_FRUSTRATION.search(text) or (shouting and MILD_FRUSTRATION.search(text)):
        return 2
    if shouting or MILD_FRUSTRATION.search(text):
        return 1
    return 0


def rules_watch(thread: Thread, run: Run | None = None) -> bool:
    """Whether the rules may hand this conversation to a person: one of Concierge's own channels'
    (no API key owns it; not the Analyst's), or a /v1 thread whose assistant (the run's, else the
    thread's) opted in. A widget's conversation is told apart without a query."""
    if thread.owner_id is None:
        return not is_analyst_thread(thread)
    assistant: Assistant | None = run.assistant if run is not None else thread.assistant
    return assistant is not None and (assistant.metadata or {}).get(OPT_IN) == "on"


def check_customer_message(thread: Thread, text: str) -> Escalation | None:
    """Apply the customer-side rules to a message just stored; escalate when one holds."""
    if thread.mode != Thread.Mode.ASSISTANT or not rules_watch(thread):
        return None
    if ASKS_FOR_HUMAN.search(text):
        return escalate(
            thread=thread,
            trigger=Escalation.Trigger.CUSTOMER_REQUEST,
            reason=f"The customer asked for a person: “{text[:200]}”",
        )
    level = frustration(text)
    if level == 0:
        return None
    earlier = [
        m.text for m in thread.messages.filter(role="user").order_by("-created_at", "-id")[1:6] if frustration(m.text)
    ]
    if level == 2 or earlier:
        return escalate(
            thread=thread,
            trigger=Escalation.Trigger.FRUSTRATION,
            reason=f"The customer sounds frustrated: “{text[:200]}”",
            priority=Escalation.Priority.HIGH,
        )
    return None


def failures_since_last_person(thread: Thread) -> int:
    since = (
        thread.escalations.exclude(status__in=Escalation.OPEN)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    window = Q(created_at__gt=since) if since else Q()
    runs = Run.objects.filter(window, thread=thread, status__in=[Run.Status.FAILED, Run.Status.EXPIRED]).count()
    tools = (
        ToolCall.objects.filter(step__run__thread=thread, status=ToolCall.Status.FAILED)
        .filter(Q(finished_at__gt=since) if since else Q())
        .count()
    )
    fallbacks = sum(
        1
        for text in thread.messages.filter(window, role="assistant", author=Message.Author.ASSISTANT)
        if FALLBACK_ANSWER.search(text.text)
    )
    return runs + tools + fallbacks


def _added_a_failure(run: Run, outcome: hooks.RunOutcome | None) -> bool:
    """Whether this run counts among the failures: only such a run can bring the count to the limit.
    Read from the run's calls and messages unless its worker saw the whole run (`outcome`)."""
    if run.status in (Run.Status.FAILED, Run.Status.EXPIRED):
        return True
    if outcome is not None:
        return outcome.tool_call_failed or any(FALLBACK_ANSWER.search(text) for text in outcome.answers)
    if ToolCall.objects.filter(step__run=run, status=ToolCall.Status.FAILED).exists():
        return True
    answers = run.messages.filter(role="assistant", author=Message.Author.ASSISTANT)
    return any(FALLBACK_ANSWER.search(message.text) for message in answers)


def check_run_outcome(run: Run, outcome: hooks.RunOutcome | None = None) -> Escalation | None:
    """After a run comes to rest: call a person when failures keep piling up in this conversation."""
    thread = run.thread
    if thread.mode != Thread.Mode.ASSISTANT or not rules_watch(thread, run):
        return None  # not a conversation the rules watch (an API caller's, the Analyst's)
    if not _added_a_failure(run, outcome) or open_escalation(thread) is not None:
        return None
    failures = failures_since_last_person(thread)
    if failures < settings.ESCALATE_AFTER_FAILURES:
        return None
    return escalate(
        thread=thread,
        trigger=Escalation.Trigger.REPEATED_FAILURES,
        reason=f"{failures} failed lookups, errors or unanswered questions in this conversation.",
        priority=Escalation.Priority.HIGH,
    )


def on_customer_message(sender, *, thread: Thread, message: Message, **kwargs) -> bool:
    """runtime.hooks.customer_message: the rules for a conversation the assistant has (True when
    one called a person); for one a person has, their summary is kept fresh."""
    if thread.mode == Thread.Mode.ASSISTANT:
        return check_customer_message(thread, message.text) is not None
    escalation = open_escalation(thread)
    if escalation is not None:
        refresh_summary_soon(escalation)
    return False


def on_run_rested(sender, *, run: Run, outcome: hooks.RunOutcome | None = None, **kwargs) -> None:
    """runtime.hooks.run_rested."""
    check_run_outcome(run, outcome)


def on_thread_resumed(sender, *, thread: Thread, **kwargs) -> None:
    """runtime.hooks.thread_resumed: the owner took the thread back, so nobody waits for a person."""
    owner_took_back(thread=thread)
