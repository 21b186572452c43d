"""What a customer does in the chat, as one service per action the socket translates a frame into."""

from __future__ import annotations

from django.conf import settings

from common.errors import NotFound
from common.ratelimit import allow_all
from runtime import runs
from runtime.errors import InvalidRequest, ThreadClosed
from runtime.models import Thread
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
        return {"error": "rate_limited", "message": "You're sending messages too quickly. Please wait a moment."}
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
        return {"error": "closed", "message": "This conversation has ended. Start a new chat to ask something else."}
    except NotFound:
        return {"error": "invalid_image", "message": "That photo could not be found. Please attach it again."}
    except InvalidRequest:
        return {"error": "busy", "message": "Please wait for the answer to your last message."}
    return {"message": conversation_message(message)}
