"""What a customer does in the chat, as one service per action the socket translates a frame into."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from common.errors import DomainError
from common.ratelimit import allow, allow_all
from runtime import events, runs
from runtime.errors import InvalidRequest, ThreadClosed, UnknownFile
from runtime.models import Message, Thread
from runtime.runs import ratings, threads
from runtime.serializers import conversation_message
from widget.sessions import WidgetSession


def customer_says(
    session: WidgetSession, thread: Thread, text: str, *, client_id: str, ip: str, images: tuple[str, ...] = ()
) -> dict:
    """Store the customer's message and start the assistant's answer (unless a person owns the
    conversation, or a rule calls one). Returns {"message": …} or {"error": code, "message": …}.

    Rate-limited per visitor and per IP; a resend with the same client_id is stored once; refused
    while the last message is still being answered, and in a closed conversation. `images` are the
    file ids of photos uploaded for this conversation (widget.views); any other id is refused."""
    if not allow_all(
        (f"widget:visitor:{session.visitor}", settings.WIDGET_MESSAGES_PER_VISITOR_PER_MINUTE, 60),
        (f"widget:ip:{ip}", settings.WIDGET_MESSAGES_PER_IP_PER_MINUTE, 60),
    ):
        return {"error": "rate_limited", "message": _("You're sending messages too quickly. Please wait a moment.")}
    customer = thread.customer  # bound when the session was made; it does not change
    try:
        message, _run = runs.customer_message_create(
            thread=thread,
            text=text,
            author_name=customer.name if customer else "",
            client_id=client_id,
            image_file_ids=images,
        )
    except ThreadClosed:
        return {"error": "closed", "message": _("This conversation has ended. Start a new chat to ask something else.")}
    except UnknownFile:
        return {"error": "invalid_image", "message": _("That photo could not be found. Please attach it again.")}
    except InvalidRequest:
        return {"error": "busy", "message": _("Please wait for the answer to your last message.")}
    return {"message": conversation_message(message)}


# Ending, rating and commenting, together, per visitor: a person clicks a few times, a script floods.
CLOSING_FRAMES_PER_MINUTE = 20


def rate_limited() -> dict:
    return {"error": "rate_limited", "message": _("That's a lot of clicks. Please wait a moment.")}


def closing_allowed(session: WidgetSession) -> bool:
    """Count one ending, rating or comment of the visitor's; False past CLOSING_FRAMES_PER_MINUTE."""
    return allow(f"widget:closing:{session.visitor}", limit=CLOSING_FRAMES_PER_MINUTE, window_seconds=60)


def customer_ends(thread: Thread) -> dict:
    """The customer ends their conversation with the assistant ("End chat"): it is closed, and the
    widget then offers its rating. Returns {} or {"error": code, "message": …}.

    Only while the assistant has it and is not answering: once a person is wanted or has joined,
    that person resolves it (agents.services.resolve), so no escalation is left open on a closed
    conversation; mid-answer, the answer would land in a closed conversation."""
    with transaction.atomic():
        locked = threads.lock(thread)
        if locked.mode == Thread.Mode.CLOSED:
            return {}
        if locked.mode != Thread.Mode.ASSISTANT:
            return {
                "error": "with_a_person",
                "message": _("Someone from our team has this conversation; they will close it."),
            }
        if not locked.messages.filter(author=Message.Author.CUSTOMER).exists():
            return {"error": "nothing_to_end", "message": _("Write to us first: there is nothing to end yet.")}
        if locked.runs.active().exists():
            return {"error": "busy", "message": _("Please wait for the answer to your last message.")}
        threads.close(locked.pk)
        events.publish_on_commit(
            locked.public_id, "conversation.mode", {"thread_id": locked.public_id, "mode": "closed", "by": "customer"}
        )
    thread.mode = Thread.Mode.CLOSED
    return {}


def customer_rates(thread: Thread, score: object) -> dict:
    """The customer's one-click rating of their ended conversation: {"rating": …} or {"error": code, "message": …}."""
    try:
        ratings.rating_submit(thread=thread, score=score)
    except DomainError as error:
        return {"error": error.code, "message": error.message}
    return {"rating": ratings.rating_view(thread)}


def customer_comments(thread: Thread, text: object) -> dict:
    """The customer's comment on the rating they just gave: {"rating": …} or {"error": code, "message": …}."""
    try:
        ratings.rating_comment(thread=thread, text=text)
    except DomainError as error:
        return {"error": error.code, "message": error.message}
    return {"rating": ratings.rating_view(thread)}
