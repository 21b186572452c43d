"""The customer's rating of an ended conversation (CSAT), over their own socket and in the service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from common.errors import InvalidInput, InvalidState
from runtime.models import ConversationRating, Thread
from runtime.runs import ratings, threads
from tests.runtime import conftest as runtime
from tests.widget import test_chat_consumer as chat
from tests.widget.test_chat_consumer import connect, new_session
from widget import services, sessions

# The runtime's fixtures (an assistant and its thread), shared with tests/runtime; the chat's set-up.
assistant, thread, chat_ready = runtime.assistant, runtime.thread, chat.chat_ready

pytestmark = pytest.mark.django_db(transaction=True)


def end(thread_id: str) -> Thread:
    thread = Thread.objects.get(public_id=thread_id)
    threads.close(thread.pk)
    thread.refresh_from_db()
    return thread


async def ended_conversation_socket(**identity):
    """A customer's socket on their conversation, which an agent then resolved (closed)."""
    session = await database_sync_to_async(new_session)(**identity)
    comm, connected, _ = await connect(session["ticket"])
    assert connected
    hello = await comm.receive_json_from()
    await database_sync_to_async(end)(session["thread_id"])
    return comm, hello, session["thread_id"]


def stored_rating(thread_id: str) -> ConversationRating | None:
    return ConversationRating.objects.filter(thread__public_id=thread_id).first()


async def test_the_customer_rates_their_ended_conversation_and_comments_on_it(chat_ready):
    comm, hello, thread_id = await ended_conversation_socket()
    assert hello["rating"] is None  # still open when the socket said hello

    await comm.send_json_to({"type": "rate", "score": 4})
    rated = await comm.receive_json_from()
    assert rated == {
        "type": "rating",
        "rating": {"score": 4, "scale": 5, "comment": "", "comment_open": True},
    }
    await comm.send_json_to({"type": "rate_comment", "text": "  Quick and kind, thanks.  "})
    commented = await comm.receive_json_from()
    assert commented["rating"]["comment"] == "Quick and kind, thanks."
    assert commented["rating"]["comment_open"] is False

    rating = await database_sync_to_async(stored_rating)(thread_id)
    assert (rating.score, rating.comment) == (4, "Quick and kind, thanks.")
    assert rating.commented_at is not None
    await comm.disconnect()


async def test_a_second_rating_is_refused_and_the_first_one_stays(chat_ready):
    comm, _, thread_id = await ended_conversation_socket()
    await comm.send_json_to({"type": "rate", "score": 2})
    assert (await comm.receive_json_from())["type"] == "rating"

    await comm.send_json_to({"type": "rate", "score": 5})
    refused = await comm.receive_json_from()
    assert refused["type"] == "error" and refused["code"] == "already_rated"
    assert "already rated" in refused["message"]
    assert (await database_sync_to_async(stored_rating)(thread_id)).score == 2
    await comm.disconnect()


async def test_a_conversation_still_going_cannot_be_rated(chat_ready):
    session = await database_sync_to_async(new_session)()
    comm, _, _ = await connect(session["ticket"])
    await comm.receive_json_from()  # hello

    await comm.send_json_to({"type": "rate", "score": 5})
    refused = await comm.receive_json_from()
    assert refused["code"] == "not_ended"
    assert await database_sync_to_async(stored_rating)(session["thread_id"]) is None
    await comm.disconnect()


async def test_a_visitor_rates_only_their_own_conversation_whatever_id_they_send(chat_ready):
    # Alice (signed in) had her conversation resolved; Mallory, in another session, names it.
    alice_comm, _, alice_thread = await ended_conversation_socket()
    mallory = await database_sync_to_async(new_session)()
    mallory_comm, _, _ = await connect(mallory["ticket"])
    await mallory_comm.receive_json_from()  # hello

    await mallory_comm.send_json_to({"type": "rate", "score": 1, "thread_id": alice_thread})
    refused = await mallory_comm.receive_json_from()
    assert refused["code"] == "not_ended"  # her own conversation, still going, was the one asked about
    await mallory_comm.send_json_to({"type": "rate_comment", "text": "awful", "thread_id": alice_thread})
    assert (await mallory_comm.receive_json_from())["code"] == "not_rated"

    assert await database_sync_to_async(stored_rating)(alice_thread) is None
    await alice_comm.disconnect()
    await mallory_comm.disconnect()


async def test_a_signed_in_customers_rating_is_theirs_alone(chat_ready, alice, mallory):
    signed = {"email": alice.email, "signature": sessions.identity_signature(alice.email)}
    comm, _, thread_id = await ended_conversation_socket(**signed)
    # Mallory, signed in as herself, is never given Alice's conversation, so she has nothing to rate in it.
    other = await database_sync_to_async(new_session)(
        email=mallory.email, signature=sessions.identity_signature(mallory.email)
    )
    assert other["thread_id"] != thread_id

    await comm.send_json_to({"type": "rate", "score": 5})
    assert (await comm.receive_json_from())["rating"]["score"] == 5
    rating = await database_sync_to_async(
        lambda: ConversationRating.objects.select_related("thread__customer").get(thread__public_id=thread_id)
    )()
    assert rating.thread.customer == alice
    await comm.disconnect()


async def test_a_comment_past_the_limit_is_refused_and_kept_nowhere(chat_ready):
    comm, _, thread_id = await ended_conversation_socket()
    await comm.send_json_to({"type": "rate", "score": 3})
    await comm.receive_json_from()

    await comm.send_json_to({"type": "rate_comment", "text": "x" * (ratings.MAX_COMMENT_CHARS + 1)})
    refused = await comm.receive_json_from()
    assert refused["code"] == "comment_too_long"
    assert f"{ratings.MAX_COMMENT_CHARS} characters" in refused["message"]
    assert (await database_sync_to_async(stored_rating)(thread_id)).comment == ""

    # The customer shortens it: it is taken (the refusal did not use up their one comment).
    await comm.send_json_to({"type": "rate_comment", "text": "x" * ratings.MAX_COMMENT_CHARS})
    assert (await comm.receive_json_from())["type"] == "rating"
    await comm.disconnect()


async def test_a_nul_byte_in_a_comment_is_refused(chat_ready):
    comm, _, thread_id = await ended_conversation_socket()
    await comm.send_json_to({"type": "rate", "score": 3})
    await comm.receive_json_from()

    await comm.send_json_to({"type": "rate_comment", "text": "bad\x00byte"})
    refused = await comm.receive_json_from()
    assert refused["type"] == "error" and refused["code"] == "invalid_text"
    assert "NUL" in refused["message"]
    assert (await database_sync_to_async(stored_rating)(thread_id)).comment == ""
    await comm.disconnect()


async def test_an_ended_conversation_offers_its_rating_when_the_socket_says_hello(chat_ready):
    session = await database_sync_to_async(new_session)()
    await database_sync_to_async(end)(session["thread_id"])
    comm, connected, _ = await connect(session["ticket"])  # the ticket from before it ended
    assert connected
    hello = await comm.receive_json_from()
    assert hello["mode"] == "closed" and hello["rating"] is None  # ended, not rated: the widget asks

    await comm.send_json_to({"type": "rate", "score": 5})
    assert (await comm.receive_json_from())["rating"]["score"] == 5
    await comm.disconnect()


@pytest.mark.parametrize("score", [0, 6, -1, "5", 4.5, True, None, [5]])
def test_a_score_is_a_whole_number_from_1_to_5(db, score, thread):
    threads.close(thread.pk)
    thread.refresh_from_db()
    with pytest.raises(InvalidInput) as refused:
        ratings.rating_submit(thread=thread, score=score)
    assert refused.value.code == "invalid_rating"
    assert not ConversationRating.objects.exists()


def test_the_service_refuses_a_nul_byte_and_an_empty_comment(db, thread):
    threads.close(thread.pk)
    thread.refresh_from_db()
    ratings.rating_submit(thread=thread, score=4)
    for text, code in [("a\x00b", "invalid_text"), ("   ", "empty_comment"), (7, "invalid_comment")]:
        with pytest.raises(InvalidInput) as refused:
            ratings.rating_comment(thread=thread, text=text)
        assert refused.value.code == code
    assert ConversationRating.objects.get(thread=thread).comment == ""


def test_a_comment_comes_once_and_only_soon_after_the_rating(db, thread):
    threads.close(thread.pk)
    thread.refresh_from_db()
    rating = ratings.rating_submit(thread=thread, score=4)
    ConversationRating.objects.filter(pk=rating.pk).update(
        created_at=timezone.now() - ratings.COMMENT_WINDOW - timedelta(seconds=1)
    )
    with pytest.raises(InvalidState) as late:
        ratings.rating_comment(thread=thread, text="Forgot to say")
    assert late.value.code == "comment_window_closed"

    ConversationRating.objects.filter(pk=rating.pk).update(created_at=timezone.now())
    ratings.rating_comment(thread=thread, text="Thanks!")
    with pytest.raises(InvalidState) as again:
        ratings.rating_comment(thread=thread, text="Changed my mind")
    assert again.value.code == "already_commented"
    assert ConversationRating.objects.get(thread=thread).comment == "Thanks!"


async def test_rating_frames_are_limited_per_visitor(chat_ready, settings):
    comm, _, thread_id = await ended_conversation_socket()
    for _ in range(services.CLOSING_FRAMES_PER_MINUTE):
        await comm.send_json_to({"type": "rate", "score": 9})
        assert (await comm.receive_json_from())["code"] == "invalid_rating"

    await comm.send_json_to({"type": "rate", "score": 5})
    assert (await comm.receive_json_from())["code"] == "rate_limited"
    assert await database_sync_to_async(stored_rating)(thread_id) is None
    await comm.disconnect()
