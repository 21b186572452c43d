"""A shop developer's own functions whose arguments are not orders, answered by the offline model
through the engine: the run waits for the function's output (requires_action), then the model answers.

The model fills a function's required parameters from the values the customer's message holds, matched
by each parameter's name (a tracking number, an email, an order number, an id); it asks for a missing
one in the words of the parameter's description.
"""

from __future__ import annotations

import json

import pytest

from runtime import runs
from runtime.models import Assistant, Message, Run, Thread

pytestmark = pytest.mark.django_db(transaction=True)


def function(name: str, description: str, properties: dict, required: list[str]) -> dict:
    parameters = {"type": "object", "properties": properties, "required": required}
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


LOOKUP_PARCEL = function(
    "lookup_parcel",
    "Look up a parcel with the carrier",
    {"tracking_number": {"type": "string", "description": "The carrier's tracking number, e.g. 1Z999AA10123456784"}},
    ["tracking_number"],
)
PARCEL = {
    "tracking_number": "1Z999AA10123456784",
    "carrier": "UPS",
    "status": "out_for_delivery",
    "status_label": "Out for delivery",
    "estimated_delivery": "2026-12-08",
}
GET_TICKET = function(
    "get_ticket",
    "Fetch a support ticket",
    {
        "ticket_id": {"type": "string", "description": "The ticket's id, like T-4821"},
        "email": {"type": "string", "description": "The email address the ticket was opened with"},
    },
    ["ticket_id", "email"],
)


def shop_assistant(*tools: dict) -> Assistant:
    return Assistant.objects.create(name="Shop backend", model="gpt-4o-mini", tools=list(tools))


def ask(assistant: Assistant, thread: Thread, text: str) -> Run:
    runs.message_create(thread=thread, role="user", content=text, author=Message.Author.CUSTOMER)
    run = runs.run_create(thread=thread, assistant=assistant)
    run.refresh_from_db()
    return run


def required_calls(run: Run) -> list[tuple[str, dict]]:
    assert run.status == Run.Status.REQUIRES_ACTION, (run.status, run.last_error)
    calls = run.required_action["submit_tool_outputs"]["tool_calls"]
    return [(call["function"]["name"], json.loads(call["function"]["arguments"])) for call in calls]


def answer(run: Run, output: dict) -> str:
    """Submit `output` for the run's one call; the model's answer once the run completed."""
    (call,) = run.required_action["submit_tool_outputs"]["tool_calls"]
    runs.run_submit_tool_outputs(run, [{"tool_call_id": call["id"], "output": json.dumps(output)}])
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED, run.last_error
    return run.thread.messages.filter(role=Message.Role.ASSISTANT).order_by("id").last().text


@pytest.fixture
def thread(db) -> Thread:
    return Thread.objects.create()


def test_a_tracking_number_in_the_message_calls_the_parcel_function_with_it(thread):
    assistant = shop_assistant(LOOKUP_PARCEL)

    run = ask(assistant, thread, "Tracking number 1Z999AA10123456784")

    assert required_calls(run) == [("lookup_parcel", {"tracking_number": "1Z999AA10123456784"})]
    said = answer(run, PARCEL)
    assert "1Z999AA10123456784" in said and "Out for delivery" in said and "8 Dec 2026" in said


def test_without_the_tracking_number_the_model_asks_for_it_by_its_description_then_calls(thread):
    assistant = shop_assistant(LOOKUP_PARCEL)

    asked = ask(assistant, thread, "Where is my parcel?")

    assert asked.status == Run.Status.COMPLETED
    question = thread.messages.filter(role=Message.Role.ASSISTANT).last().text
    assert "tracking number" in question and "order number" not in question
    run = ask(assistant, thread, "it's 1z999aa10123456784")
    assert required_calls(run) == [("lookup_parcel", {"tracking_number": "1Z999AA10123456784"})]


def test_a_function_is_called_once_every_required_value_is_in_the_conversation(thread):
    assistant = shop_assistant(GET_TICKET)

    first = ask(assistant, thread, "Can you look at ticket T-4821?")
    assert first.status == Run.Status.COMPLETED
    assert "email" in thread.messages.filter(role=Message.Role.ASSISTANT).last().text

    run = ask(assistant, thread, "sure, it's bob@example.com")
    assert required_calls(run) == [("get_ticket", {"ticket_id": "T-4821", "email": "bob@example.com"})]
    said = answer(run, {"ticket_id": "T-4821", "status": "waiting_on_customer", "subject": "Broken zip"})
    assert "Waiting on customer" in said and "Broken zip" in said
