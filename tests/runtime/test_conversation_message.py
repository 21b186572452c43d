"""A message reads the same in the widget and the console whether it arrived live (its API shape, in
an event) or was read back after a reload (the stored row): same author, same name."""

from __future__ import annotations

import pytest

from runtime import runs
from runtime.models import Message
from runtime.serializers import conversation_message, message_obj

pytestmark = pytest.mark.django_db

WHO = ("author", "author_name")


def seen(message: dict) -> tuple:
    return tuple(message[key] for key in WHO)


def test_a_signed_in_customers_message_names_them_live_as_after_a_reload(thread):
    message, _run = runs.customer_message_create(thread=thread, text="Hi", author_name="Alice Example")

    live = conversation_message(message_obj(message))
    assert seen(live) == ("customer", "Alice Example")
    assert seen(live) == seen(conversation_message(message))


def test_the_assistant_is_the_assistant_live_as_after_a_reload(thread):
    message = runs.message_create(
        thread=thread,
        role="assistant",
        content="Hello!",
        author=Message.Author.ASSISTANT,
        author_name="Order Support Agent",
    )

    assert seen(conversation_message(message)) == seen(conversation_message(message_obj(message))) == ("assistant", "")
