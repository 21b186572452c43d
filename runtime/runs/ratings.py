"""The customer's rating of a conversation that ended (CSAT), and the comment that may follow it.

A rating is one click: `rating_submit` stores a score from 1 to ConversationRating.SCALE, once per
conversation, and only once the conversation is closed. A second rating is refused (already_rated),
never a silent replacement: the score the metrics and the shop's systems (csat.submitted) saw stays
the score. The optional comment comes after it, once, within COMMENT_WINDOW of the rating.

Whoever calls these has proven the thread is the caller's (the widget's socket is bound to its
session's thread): they take the thread, never an id the customer typed.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from common.errors import InvalidInput, InvalidState
from common.signals import send_on_commit
from common.text import unstorable
from runtime import hooks
from runtime.models import ConversationRating, Thread
from runtime.runs.threads import lock

MAX_COMMENT_CHARS = 1000
COMMENT_WINDOW = timedelta(minutes=30)


def check_score(score: object) -> int:
    """`score` as a whole number from 1 to SCALE, or InvalidInput."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= ConversationRating.SCALE:
        raise InvalidInput(
            f"Choose a rating from 1 to {ConversationRating.SCALE}.", code="invalid_rating", param="score"
        )
    return score


def check_comment(text: object) -> str:
    """`text` stripped, or InvalidInput when it is not text, empty, too long or unstorable."""
    if not isinstance(text, str):
        raise InvalidInput("Write the comment as text.", code="invalid_comment", param="text")
    text = text.strip()
    if not text:
        raise InvalidInput("Write a comment first.", code="empty_comment", param="text")
    if len(text) > MAX_COMMENT_CHARS:
        raise InvalidInput(
            f"Keep the comment to {MAX_COMMENT_CHARS} characters (this one has {len(text)}).",
            code="comment_too_long",
            param="text",
        )
    problem = unstorable(text)
    if problem:
        raise InvalidInput(problem, code="invalid_text", param="text")
    return text


def rating_submit(*, thread: Thread, score: object) -> ConversationRating:
    """Store the customer's rating of `thread`, which must be closed and not rated yet; the shop's
    systems hear of it (runtime.hooks.csat_submitted) once it is committed."""
    score = check_score(score)
    with transaction.atomic():
        locked = lock(thread)  # two clicks at once: the second waits here, then finds the first
        if locked.mode != Thread.Mode.CLOSED:
            raise InvalidState("You can rate this conversation once it has ended.", code="not_ended")
        if ConversationRating.objects.filter(thread=locked).exists():
            raise InvalidState("You already rated this conversation. Thank you!", code="already_rated")
        rating = ConversationRating.objects.create(thread=locked, score=score)
        send_on_commit(
            hooks.csat_submitted,
            sender=Thread,
            thread=locked,
            rating=rating.score,
            scale=ConversationRating.SCALE,
            submitted_at=rating.created_at,
        )
    return rating


def rating_comment(*, thread: Thread, text: object) -> ConversationRating:
    """Add the customer's comment to their rating of `thread`: once, within COMMENT_WINDOW of it."""
    text = check_comment(text)
    now = timezone.now()
    # Claim by a conditional update: of two comments at once, one is stored.
    added = ConversationRating.objects.filter(thread=thread, comment="", created_at__gte=now - COMMENT_WINDOW).update(
        comment=text, commented_at=now
    )
    rating = ConversationRating.objects.filter(thread=thread).first()
    if rating is None:
        raise InvalidState("Rate the conversation first, then add a comment.", code="not_rated")
    if not added:
        if rating.comment:
            raise InvalidState("You already added a comment. Thank you!", code="already_commented")
        raise InvalidState("It is too late to add a comment to this rating.", code="comment_window_closed")
    return rating


def rating_view(thread: Thread) -> dict | None:
    """The rating as its customer sees it (None before they rate), and whether a comment may still come."""
    rating = ConversationRating.objects.filter(thread=thread).first()
    if rating is None:
        return None
    return {
        "score": rating.score,
        "scale": ConversationRating.SCALE,
        "comment": rating.comment,
        "comment_open": not rating.comment and timezone.now() < rating.created_at + COMMENT_WINDOW,
    }
