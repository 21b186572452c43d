"""The console's inbox (/console/conversations/): search by each field, the filters, the rows' previews,
pagination, and what it does with bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents import inbox
from agents.models import ConversationTag, Escalation
from agents.services import claim, escalate, escalation_view
from orders.models import VerifiedOrder
from runtime import runs
from runtime.models import Message, Thread
from tests.factories import CustomerFactory, delivered_order

pytestmark = pytest.mark.django_db

URL = "/console/conversations/"


def says(thread: Thread, text: str, *, author: str = "customer", ago: timedelta | None = None) -> Message:
    role = "user" if author == "customer" else "assistant"
    message = runs.message_create(thread=thread, role=role, content=text, author=author, check_active_run=False)
    if ago is not None:
        Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - ago)
    return message


def conversation(assistant, text: str, *, customer=None, ago: timedelta | None = None) -> Thread:
    thread = Thread.objects.create(assistant=assistant, customer=customer, metadata={"channel": "widget"})
    says(thread, text, ago=ago)
    return thread


def listed(client, **params) -> list[str]:
    response = client.get(URL, params)
    assert response.status_code == 200
    return [row.thread.public_id for row in response.context["rows"]]


@pytest.fixture
def threads(assistant, alice, mallory, alice_order):
    """Alice's conversation about A1001 (verified in it), Mallory's about a blue kettle, and an
    anonymous visitor's who gave Alice's order and e-mail."""
    alices = conversation(assistant, "Where is my parcel? It is late.", customer=alice)
    VerifiedOrder.objects.create(thread=alices, order=alice_order)
    says(alices, "It is on its way and should arrive tomorrow.", author="assistant")
    mallorys = conversation(assistant, "The Blue Kettle leaks from the lid", customer=mallory)
    visitor = conversation(assistant, "Hello, do you ship to Norway?")
    return {"alice": alices, "mallory": mallorys, "visitor": visitor}


def test_it_lists_every_conversation_most_recently_active_first(agent_client, threads):
    says(threads["mallory"], "Any news?")

    assert listed(agent_client)[0] == threads["mallory"].public_id
    assert set(listed(agent_client)) == {t.public_id for t in threads.values()}


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("Alice Ex", "alice"),  # the customer's name
        ("MALLORY@example", "mallory"),  # the customer's e-mail, any case
        ("a1001", "alice"),  # an order number verified in it
        ("blue kettle", "mallory"),  # words of a message, any case
        ("norway", "visitor"),  # an anonymous visitor's message
    ],
    ids=["name", "email", "order-number", "message-text", "visitor-message"],
)
def test_search_finds_a_conversation_by_each_field(agent_client, threads, query, found):
    assert listed(agent_client, q=query) == [threads[found].public_id]


def test_search_finds_an_answer_by_its_words_too(agent_client, threads):
    assert listed(agent_client, q="arrive tomorrow") == [threads["alice"].public_id]


def test_search_by_the_email_of_an_order_verified_by_a_visitor(agent_client, assistant, alice_order, threads):
    visitor = conversation(assistant, "My order please")
    VerifiedOrder.objects.create(thread=visitor, order=alice_order)

    assert set(listed(agent_client, q="alice@example.com")) == {threads["alice"].public_id, visitor.public_id}


def test_an_order_number_finds_the_conversations_where_it_came_up_not_all_of_its_customers(
    agent_client, assistant, threads, alice
):
    delivered_order(customer=alice, number="A2002")
    about_it = conversation(assistant, "And what about a2002?", customer=alice)

    assert listed(agent_client, q="A2002") == [about_it.public_id]


def test_search_by_tag_and_by_the_conversations_id(agent_client, agent, threads):
    ConversationTag.objects.create(thread=threads["visitor"], name="shipping-abroad", added_by=agent)

    assert listed(agent_client, q="shipping-abroad") == [threads["visitor"].public_id]
    assert listed(agent_client, q=threads["mallory"].public_id) == [threads["mallory"].public_id]


def test_search_treats_like_wildcards_as_plain_text(agent_client, threads):
    assert listed(agent_client, q="%") == []
    assert listed(agent_client, q="_") == []


def test_nothing_found_says_so_and_offers_to_clear(agent_client, threads):
    response = agent_client.get(URL, {"q": "zebra"})

    assert response.context["rows"] == []
    assert "No conversation matches." in response.content.decode()


def test_filter_by_status(agent_client, threads):
    escalate(thread=threads["mallory"], trigger="customer_request", reason="Asked for a person.")

    assert listed(agent_client, mode="waiting_human") == [threads["mallory"].public_id]
    assert threads["mallory"].public_id not in listed(agent_client, mode="assistant")


def test_filter_by_assignee_me_unassigned_or_a_named_agent(agent_client, agent, colleague, threads):
    mine = escalate(thread=threads["alice"], trigger="customer_request", reason="Asked for a person.")
    theirs = escalate(thread=threads["mallory"], trigger="customer_request", reason="Asked for a person.")
    escalate(thread=threads["visitor"], trigger="customer_request", reason="Asked for a person.")
    claim(escalation=mine, agent=agent)
    claim(escalation=theirs, agent=colleague)

    assert listed(agent_client, assignee="me") == [threads["alice"].public_id]
    assert listed(agent_client, assignee=str(colleague.pk)) == [threads["mallory"].public_id]
    assert listed(agent_client, assignee="none") == [threads["visitor"].public_id]


def test_filter_by_the_mood_of_the_latest_summary(agent_client, threads):
    upset = escalate(thread=threads["mallory"], trigger="frustration", reason="Upset.")
    Escalation.objects.filter(pk=upset.pk).update(summary={"headline": "Leaking kettle", "mood": "angry"})

    assert listed(agent_client, mood="angry") == [threads["mallory"].public_id]
    assert listed(agent_client, mood="calm") == []


def test_filter_by_how_long_the_customer_has_waited_for_an_answer(agent_client, assistant, threads):
    waiting = conversation(assistant, "Hello? Anyone?", ago=timedelta(hours=2))
    answered = conversation(assistant, "Thanks", ago=timedelta(hours=3))
    says(answered, "You're welcome", author="assistant", ago=timedelta(hours=2))

    assert listed(agent_client, waiting="1h") == [waiting.public_id]
    assert listed(agent_client, waiting="4h") == []
    assert set(listed(agent_client, waiting="5m")) == {waiting.public_id}


def test_filters_narrow_a_search(agent_client, agent, threads):
    ConversationTag.objects.create(thread=threads["alice"], name="late", added_by=agent)

    assert set(listed(agent_client, q="example.com")) == {threads["alice"].public_id, threads["mallory"].public_id}
    assert listed(agent_client, q="example.com", tag="late") == [threads["alice"].public_id]
    assert listed(agent_client, q="example.com", tag="LATE ") == [threads["alice"].public_id]


def test_each_row_shows_the_customer_the_last_message_and_its_orders_not_a_thread_id(agent_client, agent, threads):
    ConversationTag.objects.create(thread=threads["alice"], name="late", added_by=agent)
    response = agent_client.get(URL, {"q": "A1001"})
    (row,) = response.context["rows"]
    html = response.content.decode()

    assert (row.customer_name, row.customer_email, row.order_numbers) == (
        "Alice Example",
        "alice@example.com",
        ["A1001"],
    )
    assert row.preview == "It is on its way and should arrive tomorrow."
    assert (row.last_author, row.message_count, row.tags) == ("assistant", 2, ["late"])
    assert "Assistant:</span> It is on its way" in html
    assert f">{threads['alice'].public_id}<" not in html


def test_a_long_message_is_previewed_on_one_line_cut_at_a_word(assistant, agent):
    thread = conversation(assistant, "word " * 100 + "\n\nend")
    (row,) = inbox.rows(list(inbox.conversations().filter(pk=thread.pk)))

    assert row.preview.endswith("word…") and len(row.preview) <= inbox.PREVIEW_CHARS + 1
    assert "\n" not in row.preview


def test_a_preview_shows_the_words_not_the_markdown(assistant, agent):
    thread = conversation(
        assistant, "Order **A1001**: *Delivered*. See [our returns page](https://shop.example/returns) or `A1002`."
    )
    (row,) = inbox.rows(list(inbox.conversations().filter(pk=thread.pk)))

    assert row.preview == "Order A1001: Delivered. See our returns page or A1002."


def test_the_assignee_is_shown_by_name(agent_client, agent, threads):
    escalation = escalate(thread=threads["alice"], trigger="customer_request", reason="Asked for a person.")
    claim(escalation=escalation, agent=agent)

    (row,) = [r for r in agent_client.get(URL).context["rows"] if r.thread == threads["alice"]]
    assert row.assignee == "Ann"
    # The queue's live rows and the conversation page's header read the name too.
    assert escalation_view(Escalation.objects.get(pk=escalation.pk))["assigned_to_name"] == "Ann"
    assert (
        "with Ann</span>" in agent_client.get(f"/console/conversations/{threads['alice'].public_id}/").content.decode()
    )


def test_it_pages_by_25_keeping_the_filters(agent_client, assistant):
    for n in range(30):
        conversation(assistant, f"Question number {n} about socks")

    first = agent_client.get(URL, {"q": "socks"})
    second = agent_client.get(URL, {"q": "socks", "page": 2})

    assert len(first.context["rows"]) == 25 and len(second.context["rows"]) == 5
    assert "?q=socks&amp;page=2" in first.content.decode()
    assert agent_client.get(URL, {"q": "socks", "page": "999"}).context["results"].number == 2


def test_a_page_costs_the_same_queries_whatever_its_size(agent_client, assistant, agent):
    for n in range(3):
        conversation(assistant, f"Hello {n}")
    with CaptureQueriesContext(connection) as few:
        agent_client.get(URL)
    for n in range(20):
        thread = conversation(assistant, f"Hello again {n}")
        ConversationTag.objects.create(thread=thread, name="again", added_by=agent)
    with CaptureQueriesContext(connection) as many:
        agent_client.get(URL)

    assert len(many) == len(few)


@pytest.mark.parametrize(
    "params",
    [{"q": "x" * 201}, {"mode": "nonsense"}, {"assignee": "everyone"}, {"assignee": "9" * 12}, {"waiting": "1y"}],
    ids=["too-long", "unknown-mode", "unknown-assignee", "huge-assignee-id", "unknown-waiting"],
)
def test_bad_input_is_refused_with_a_message_and_the_unfiltered_list(agent_client, threads, params):
    response = agent_client.get(URL, params)

    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]]
    assert len(response.context["rows"]) == 3


def test_a_nul_byte_in_the_search_is_refused_before_any_query(agent_client, threads):
    response = agent_client.get(URL, {"q": "a\x00b"})

    assert response.status_code == 400


def test_an_unknown_agent_id_finds_nobody(agent_client, threads):
    assert listed(agent_client, assignee="987654") == []


def test_analyst_threads_are_left_out(agent_client, assistant, threads):
    analyst = Thread.objects.create(assistant=assistant, metadata={"channel": "analyst"})
    says(analyst, "count escalations")

    assert analyst.public_id not in listed(agent_client, q="escalations")


def test_the_customer_card_lists_their_other_conversations(agent_client, assistant, alice, threads):
    earlier = conversation(assistant, "Do you sell tea cosies?", customer=alice, ago=timedelta(days=3))
    response = agent_client.get(f"/console/conversations/{threads['alice'].public_id}/")
    others = response.context["others"]

    assert [row.thread for row in others] == [earlier]
    assert "Do you sell tea cosies?" in response.content.decode()
    mallorys = agent_client.get(f"/console/conversations/{threads['mallory'].public_id}/").context["others"]
    assert mallorys == []


def test_an_anonymous_visitor_has_no_other_conversations(agent_client, threads):
    response = agent_client.get(f"/console/conversations/{threads['visitor'].public_id}/")

    assert response.context["others"] == []


def test_search_stays_correct_with_several_customers_alike(agent_client, assistant):
    for n in range(5):
        conversation(assistant, "hello", customer=CustomerFactory(name=f"Sam Smith {n}", email=f"sam{n}@example.com"))

    assert len(listed(agent_client, q="sam smith")) == 5
    assert len(listed(agent_client, q="sam3@")) == 1
