"""The official openai Python SDK, unchanged, against a live Concierge: only base_url and the key differ.

Every call below is what code written for OpenAI's Assistants API does; the offline model answers.
"""

from __future__ import annotations

import json

import openai
import pytest
from openai import AssistantEventHandler, OpenAI
from openai.types.beta.threads import Text, TextDelta
from typing_extensions import override

from accounts.models import ApiKey
from tests.api import ORDER_SUPPORT
from tests.factories import CustomerFactory, UserFactory, delivered_order

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # the SDK marks the Assistants API deprecated
]

STATUS_QUESTION = "Hi! What's the status of my order ORD-12345? My email is jane@example.com"
SHIPPED = {"orderId": "ORD-12345", "status": "shipped", "carrier": "UPS", "estimatedDelivery": "2026-12-02"}


def sdk_client(base_url: str, username: str) -> OpenAI:
    _, raw = ApiKey.issue(owner=UserFactory(username=username), name="sdk test")
    return OpenAI(base_url=f"{base_url}/v1", api_key=raw, timeout=60)


@pytest.fixture
def client(live_server_url) -> OpenAI:
    return sdk_client(live_server_url, "sdk-owner")


@pytest.fixture
def order_support(client):
    return client.beta.assistants.create(**ORDER_SUPPORT)


def new_thread(client: OpenAI, text: str):
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content=text)
    return thread


def test_the_order_support_assistant_is_created_as_the_sdk_expects(client, order_support):
    assert order_support.id.startswith("asst_")
    assert [tool.function.name for tool in order_support.tools] == ["get_order_status", "initiate_return"]
    assert order_support.tools[1].function.parameters["properties"]["reason"]["enum"] == [
        "defective",
        "wrong_item",
        "not_needed",
        "other",
    ]
    assert client.beta.assistants.retrieve(order_support.id) == order_support
    renamed = client.beta.assistants.update(order_support.id, name="Order Support (EU)")
    assert renamed.name == "Order Support (EU)" and renamed.tools == order_support.tools
    assert order_support.id in [a.id for a in client.beta.assistants.list()]


def test_a_plain_question_completes_when_polled(client, order_support):
    thread = new_thread(client, "Hello! What can you help me with?")

    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=order_support.id)

    assert run.status == "completed" and run.usage.total_tokens > 0
    messages = client.beta.threads.messages.list(thread_id=thread.id)
    reply = messages.data[0]
    assert reply.role == "assistant" and reply.run_id == run.id
    assert reply.content[0].text.value and reply.content[0].text.annotations == []


def test_a_status_question_requires_action_with_arguments_from_the_conversation_and_can_be_cancelled(
    client, order_support
):
    thread = new_thread(client, STATUS_QUESTION)

    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=order_support.id)

    assert run.status == "requires_action"
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert call.function.name == "get_order_status"
    assert json.loads(call.function.arguments) == {"orderId": "ORD-12345", "email": "jane@example.com"}

    with pytest.raises(openai.BadRequestError) as busy:
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=order_support.id)
    assert busy.value.message.endswith(f"Thread {thread.id} already has an active run {run.id}.")
    assert busy.value.request_id.startswith("req_")
    with pytest.raises(openai.BadRequestError, match="call_wrong"):
        client.beta.threads.runs.submit_tool_outputs(
            thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": "call_wrong", "output": "{}"}]
        )

    cancelled = client.beta.threads.runs.cancel(thread_id=thread.id, run_id=run.id)
    assert cancelled.status == "cancelled"
    steps = client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id)
    assert [(s.type, s.status) for s in steps] == [("tool_calls", "cancelled")]


class TextCollector(AssistantEventHandler):
    """What an app does: show the text as it streams; answer client-side tool calls when asked."""

    def __init__(self, client: OpenAI, thread_id: str, outputs: dict[str, dict] | None = None) -> None:
        super().__init__()
        self.client, self.thread_id, self.outputs = client, thread_id, outputs or {}
        self.streamed = ""
        self.texts_done: list[str] = []
        self.calls: list[tuple[str, dict]] = []
        self.continuation: TextCollector | None = None

    @override
    def on_text_delta(self, delta: TextDelta, snapshot: Text) -> None:
        self.streamed += delta.value or ""

    @override
    def on_text_done(self, text: Text) -> None:
        self.texts_done.append(text.value)

    @override
    def on_event(self, event) -> None:
        if event.event == "thread.run.requires_action":
            run = event.data
            tool_outputs = []
            for call in run.required_action.submit_tool_outputs.tool_calls:
                self.calls.append((call.function.name, json.loads(call.function.arguments)))
                output = self.outputs[call.function.name]
                tool_outputs.append({"tool_call_id": call.id, "output": json.dumps(output)})
            # As OpenAI's examples do it: submitted from the handler, while this stream is still open.
            self.continuation = TextCollector(self.client, self.thread_id, self.outputs)
            with self.client.beta.threads.runs.submit_tool_outputs_stream(
                thread_id=self.thread_id, run_id=run.id, tool_outputs=tool_outputs, event_handler=self.continuation
            ) as stream:
                stream.until_done()


def test_a_streamed_answer_accumulates_to_the_final_message(client, order_support):
    thread = new_thread(client, "Hello! What can you help me with?")
    handler = TextCollector(client, thread.id)

    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=order_support.id, event_handler=handler
    ) as stream:
        stream.until_done()
        final_messages = stream.get_final_messages()
        final_run = stream.get_final_run()

    assert final_run.status == "completed"
    assert handler.streamed and handler.texts_done == [handler.streamed]
    assert final_messages[-1].content[0].text.value == handler.streamed
    stored = client.beta.threads.messages.retrieve(thread_id=thread.id, message_id=final_messages[-1].id)
    assert stored.content[0].text.value == handler.streamed


def test_a_client_function_is_answered_through_submit_tool_outputs_stream(client, order_support):
    thread = new_thread(client, STATUS_QUESTION)
    handler = TextCollector(client, thread.id, outputs={"get_order_status": SHIPPED})

    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=order_support.id, event_handler=handler
    ) as stream:
        stream.until_done()

    assert handler.calls == [("get_order_status", {"orderId": "ORD-12345", "email": "jane@example.com"})]
    assert handler.current_run.status == "requires_action"
    continuation = handler.continuation
    assert continuation.current_run.status == "completed"
    answer = continuation.streamed
    assert "shipped" in answer.lower() and "ORD-12345" in answer
    assert continuation.texts_done == [answer]
    latest = client.beta.threads.messages.list(thread_id=thread.id, limit=1).data[0]
    assert latest.content[0].text.value == answer


LOOKUP_PARCEL = {
    "type": "function",
    "function": {
        "name": "lookup_parcel",
        "description": "Look up a parcel with the carrier",
        "parameters": {
            "type": "object",
            "properties": {"tracking_number": {"type": "string", "description": "The carrier's tracking number"}},
            "required": ["tracking_number"],
        },
    },
}


def test_a_client_function_taking_a_tracking_number_is_called_with_the_one_the_customer_gave(client):
    parcels = client.beta.assistants.create(model="gpt-4o-mini", name="Parcels", tools=[LOOKUP_PARCEL])
    thread = new_thread(client, "Tracking number 1Z999AA10123456784")

    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=parcels.id)

    assert run.status == "requires_action"
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "lookup_parcel",
        {"tracking_number": "1Z999AA10123456784"},
    )
    parcel = {"tracking_number": "1Z999AA10123456784", "carrier": "UPS", "status_label": "Out for delivery"}
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": call.id, "output": json.dumps(parcel)}]
    )
    assert done.status == "completed"
    answer = client.beta.threads.messages.list(thread_id=thread.id, limit=1).data[0].content[0].text.value
    assert "Out for delivery" in answer and "1Z999AA10123456784" in answer


def test_create_and_run_polls_and_streams_starting_with_the_new_thread(client, order_support):
    polled = client.beta.threads.create_and_run_poll(
        assistant_id=order_support.id, thread={"messages": [{"role": "user", "content": "Hello there!"}]}
    )
    seen: list[str] = []

    class Recorder(AssistantEventHandler):
        @override
        def on_event(self, event) -> None:
            seen.append(event.event)

    with client.beta.threads.create_and_run_stream(
        assistant_id=order_support.id,
        thread={"messages": [{"role": "user", "content": "Hello again!"}]},
        event_handler=Recorder(),
    ) as stream:
        stream.until_done()
        streamed_run = stream.get_final_run()

    assert polled.status == "completed"
    assert client.beta.threads.messages.list(thread_id=polled.thread_id).data[0].role == "assistant"
    assert seen[0] == "thread.created" and seen[1] == "thread.run.created" and seen[-1] == "thread.run.completed"
    assert streamed_run.status == "completed" and streamed_run.thread_id != polled.thread_id


def test_server_tools_run_on_concierge_and_show_as_completed_steps(client):
    delivered_order(customer=CustomerFactory(email="alice@example.com"), number="A1001")
    shop = client.beta.assistants.create(
        model="gpt-4o-mini",
        name="Shop assistant",
        instructions="You help the shop's customers with their orders.",
        extra_body={"server_tools": ["get_order_status", "track_shipment"]},
    )
    assert shop.model_extra["server_tools"] == ["get_order_status", "track_shipment"]
    thread = new_thread(client, "What's the status of order A1001? My email is alice@example.com")

    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=shop.id)

    assert run.status == "completed"
    steps = list(client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id, order="asc"))
    assert [(s.type, s.status) for s in steps] == [("tool_calls", "completed"), ("message_creation", "completed")]
    call = steps[0].step_details.tool_calls[0]
    assert call.function.name == "get_order_status" and "delivered" in call.function.output
    reply = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id).data[0]
    assert "delivered" in reply.content[0].text.value.lower()


def test_auto_pagination_visits_every_message_once_in_both_orders(client):
    thread = client.beta.threads.create()
    created = [
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content=f"message {i}").id
        for i in range(25)
    ]

    # Iterating a page is the SDK's auto-pagination (it has no auto_paging_iter): after=<last id> until has_more
    # is false.
    first_page = client.beta.threads.messages.list(thread.id, limit=10, order="asc")
    ascending = [message.id for message in first_page]
    descending = [message.id for message in client.beta.threads.messages.list(thread.id, limit=10)]

    assert ascending == created
    assert descending == created[::-1]
    assert [len(page.data) for page in first_page.iter_pages()] == [10, 10, 5]


def test_errors_map_to_the_sdks_exceptions(live_server_url, client, order_support):
    thread = new_thread(client, "Hi")
    stranger = sdk_client(live_server_url, "stranger")

    with pytest.raises(openai.NotFoundError, match=f"No thread found with id '{thread.id}'"):
        stranger.beta.threads.retrieve(thread.id)
    with pytest.raises(openai.NotFoundError, match="No assistant found with id 'asst_unknown'"):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_unknown")
    with pytest.raises(openai.NotFoundError):
        stranger.beta.threads.runs.create(thread_id=thread.id, assistant_id=order_support.id)
    with pytest.raises(openai.AuthenticationError) as bad_key:
        OpenAI(base_url=f"{live_server_url}/v1", api_key="ck_wrong", max_retries=0).beta.assistants.list()
    assert bad_key.value.code == "invalid_api_key"
    with pytest.raises(openai.BadRequestError) as invalid:
        client.beta.assistants.create(model="gpt-4o", metadata={f"k{i}": "v" for i in range(17)})
    assert invalid.value.param == "metadata"
