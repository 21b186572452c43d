"""Ordinary requests as a newcomer writes them, through the real path: the customer's message, the
engine, the offline model over the openai SDK, the shop's own tools, and the rows they leave.

Alice is signed in (the shop vouches for her); her order A1001 was delivered with two Ceramic Mugs and
one set of Linen Napkins.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from orders.assistant.persona import ensure_demo_assistant
from orders.models import Return
from runtime import runs
from runtime.models import Message, Run, Thread, ToolCall
from tests.factories import ProductFactory, delivered_order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def a1001(alice, mug):
    napkins = ProductFactory(sku="NAP-4", name="Linen Napkins", price=Decimal("9.00"))
    return delivered_order(customer=alice, number="A1001", items=[(2, mug), (1, napkins)])


@pytest.fixture
def alice_chat(alice, a1001) -> Thread:
    """The shop's own assistant (its tools and instructions as `make demo` has them), Alice signed in."""
    assistant, _ = ensure_demo_assistant()
    return Thread.objects.create(assistant=assistant, customer=alice)


@pytest.fixture
def visitor_chat(a1001) -> Thread:
    assistant, _ = ensure_demo_assistant()
    return Thread.objects.create(assistant=assistant)


def says(thread: Thread, text: str) -> str:
    """The customer writes `text`; the run goes through the engine; returns what the assistant answered."""
    runs.message_create(thread=thread, role="user", content=text, author=Message.Author.CUSTOMER)
    run = runs.run_create(thread=thread, assistant=thread.assistant)
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED, run.last_error
    return thread.messages.filter(role=Message.Role.ASSISTANT).order_by("id").last().text


def calls(thread: Thread, name: str) -> list[dict]:
    """The arguments of each call of tool `name` made in the conversation, in order."""
    made = ToolCall.objects.filter(step__run__thread=thread, name=name).order_by("id")
    return [json.loads(call.arguments) for call in made]


def a_return(thread: Thread, *opening: str) -> str:
    """Alice opens a return conversation; the answer to the last of `opening`."""
    answer = ""
    for text in opening:
        answer = says(thread, text)
    return answer


# --- 1. a confirmation is no reason -----------------------------------------------------------------


@pytest.mark.parametrize("yes", ["Yes, please go ahead", "yes", "sure, do it", "ok go ahead"])
def test_a_yes_to_the_reason_question_is_not_taken_as_the_reason(alice_chat, yes):
    asked = a_return(alice_chat, "I want to return the napkins from order A1001")
    assert "reason for the return" in asked

    again = says(alice_chat, yes)

    assert "reason for the return" in again
    assert "Shall I open a return" not in again
    assert calls(alice_chat, "initiate_return") == []
    assert not Return.objects.exists()


def test_after_a_yes_to_the_reason_question_the_reason_given_next_is_the_one_used(alice_chat):
    a_return(alice_chat, "I want to return the napkins from order A1001", "Yes, please go ahead")

    confirm = says(alice_chat, "they arrived damaged")
    assert "(reason: defective)" in confirm
    says(alice_chat, "yes")

    opened = Return.objects.get()
    assert (opened.item.name, opened.reason, opened.quantity) == ("Linen Napkins", "defective", 1)


def test_a_reason_given_before_the_question_is_used_and_a_yes_confirms(alice_chat):
    confirm = a_return(alice_chat, "The napkins from A1001 arrived torn, I want to return them")
    assert "(reason: defective)" in confirm

    says(alice_chat, "Yes, please go ahead")

    assert calls(alice_chat, "initiate_return") == [
        {
            "order_number": "A1001",
            "item": "NAP-4",
            "reason": "defective",
            "quantity": 1,
            "note": "The napkins from A1001 arrived torn",
        }
    ]


# --- 2. how many -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "conversation",
    [
        ["I'd like to return the mugs from order A1001"],
        ["I'd like to return something from order A1001", "the mugs"],
        ["I'd like to return something from order A1001", "both mugs"],
        ["I'd like to return the mug from order A1001, all of them"],
    ],
)
def test_the_mugs_in_the_plural_return_every_mug_ordered(alice_chat, conversation):
    a_return(alice_chat, *conversation)
    confirm = says(alice_chat, "they're chipped")
    assert "**2 \N{MULTIPLICATION SIGN} Ceramic Mug**" in confirm

    says(alice_chat, "yes")

    opened = Return.objects.get()
    assert (opened.item.name, opened.quantity, opened.reason) == ("Ceramic Mug", 2, "defective")


def test_no_all_of_them_to_a_return_of_one_mug_asks_again_for_both(alice_chat):
    a_return(alice_chat, "I want to return the mug from A1001", "it's chipped")

    corrected = says(alice_chat, "no, all of them")

    assert "**2 \N{MULTIPLICATION SIGN} Ceramic Mug**" in corrected and "Shall I open a return" in corrected
    says(alice_chat, "yes")
    assert Return.objects.get().quantity == 2


def test_one_of_the_mugs_returns_one(alice_chat):
    a_return(alice_chat, "I want to return one of the mugs from A1001")
    says(alice_chat, "it's chipped")
    says(alice_chat, "yes")

    assert Return.objects.get().quantity == 1


# --- 3. the reason the customer gave -----------------------------------------------------------------


def test_wrong_size_opens_a_return_for_other_with_the_customers_words_as_its_note(alice_chat):
    a_return(alice_chat, "I want to return the napkins from order A1001")

    confirm = says(alice_chat, "wrong size")
    assert "(reason: wrong size)" in confirm
    assert "not needed" not in confirm
    says(alice_chat, "yes")

    opened = Return.objects.get()
    assert (opened.reason, opened.note) == (Return.Reason.OTHER, "wrong size")


@pytest.mark.parametrize(
    ("words", "reason"),
    [
        ("it arrived damaged", Return.Reason.DEFECTIVE),
        ("they're broken", Return.Reason.DEFECTIVE),
        ("one corner is cracked", Return.Reason.DEFECTIVE),
        ("I changed my mind", Return.Reason.NOT_NEEDED),
        ("not needed anymore", Return.Reason.NOT_NEEDED),
        ("that's not what I ordered", Return.Reason.WRONG_ITEM),
        ("my aunt gave me the same ones", Return.Reason.OTHER),
    ],
)
def test_the_reason_in_the_customers_words_opens_the_return_for_that_reason(alice_chat, words, reason):
    a_return(alice_chat, "I want to return the napkins from order A1001", words, "yes")

    opened = Return.objects.get()
    assert (opened.reason, opened.note) == (reason, words)


# --- 4. an item the order does not have ---------------------------------------------------------------


def test_an_item_the_order_does_not_have_is_answered_with_the_orders_items(alice_chat):
    says(alice_chat, "What have I ordered?")  # her orders, listed without their items

    answer = says(alice_chat, "I'd like to return the teapot from A1001")

    assert "double-check" not in answer and "email" not in answer
    assert "teapot" in answer
    assert "**Ceramic Mug**" in answer and "**Linen Napkins**" in answer and "Which item" in answer
    assert calls(alice_chat, "initiate_return") == []
    assert "reason for the return of the Linen Napkins" in says(alice_chat, "the napkins then")


def test_an_unmatched_item_answer_lists_the_items_again_for_a_signed_in_customer(alice_chat):
    asked = a_return(alice_chat, "I want to return something from A1001")
    assert "Which item" in asked

    answer = says(alice_chat, "the teapot")

    assert "double-check" not in answer and "email" not in answer
    assert "**Ceramic Mug**" in answer and "**Linen Napkins**" in answer


def test_an_order_a_signed_in_customer_does_not_have_is_not_blamed_on_an_email(alice_chat):
    answer = says(alice_chat, "Where is order A1009?")

    assert "No order A1009 was found among your orders" in answer
    assert "double-check the order number?" in answer and "email address" not in answer


# --- 5. a new question after a failed lookup ----------------------------------------------------------


def test_a_question_after_a_failed_lookup_is_the_new_question_not_the_lookup_again(visitor_chat):
    failed = says(visitor_chat, "Where is order A1009? alice@example.com")
    assert "No order A1009 was found" in failed

    answer = says(visitor_chat, "Do you sell gift wrapping?")

    assert len(calls(visitor_chat, "get_order_status")) == 1
    assert "A1009" not in answer
    assert "don't know" in answer and "connect you with a person" in answer
