"""What an agent does in the console, through its HTTP actions, and what the customer and the
database see as a result."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.utils.html import escape

from agents.models import CannedReply, Escalation, InternalNote
from config.asgi import application
from orders.models import OrderEvent, Return
from runtime import runs
from runtime.engine import runner
from runtime.models import Message, Run, Thread
from tests.agents.conftest import console_socket, console_url, receive_until
from tests.factories import ReturnFactory, delivered_order
from widget import sessions
from widget.consumers import ChatConsumer

pytestmark = pytest.mark.django_db(transaction=True)

JSON = {"HTTP_ACCEPT": "application/json"}


def test_claiming_gives_the_agent_the_thread_and_tells_the_widget(agent_client, agent, escalated, thread, tap):
    listener = tap(thread.public_id)
    response = agent_client.post(console_url(thread, "claim"), {"escalation": escalated.pk}, **JSON)

    assert response.status_code == 200, response.content
    escalated.refresh_from_db()
    thread.refresh_from_db()
    assert (escalated.status, escalated.assigned_to) == (Escalation.Status.ASSIGNED, agent)
    assert thread.mode == Thread.Mode.HUMAN
    joined = [m for m in listener.drain() if m["event"] == "agent.joined"]
    assert [m["data"]["name"] for m in joined] == ["Ann"]


def test_a_plain_form_claim_redirects_back_with_a_message(agent_client, escalated, thread):
    here = console_url(thread)
    response = agent_client.post(console_url(thread, "claim"), {"next": here}, follow=True)
    assert response.redirect_chain[-1] == (here, 302)
    assert "You have this conversation now." in response.content.decode()


def test_a_claim_for_an_escalation_that_moved_on_is_refused(agent_client, escalated, thread):
    response = agent_client.post(console_url(thread, "claim"), {"escalation": escalated.pk + 1}, **JSON)
    assert response.status_code == 409
    assert response.json()["error"]["message"].startswith("This conversation changed")


def widget_session_for(thread) -> str:
    """A ticket for the customer's widget on `thread` (as /chat/session/ issues for a returning visitor)."""
    session = sessions.WidgetSession(visitor="v-test", thread_id=thread.public_id, customer_id=thread.customer_id)
    return sessions.issue_ticket(session)


def test_a_reply_reaches_the_customers_widget_live(agent_client, agent, escalated, thread):
    agent_client.post(console_url(thread, "claim"), **JSON)
    ticket = widget_session_for(thread)

    def agent_replies():
        try:
            return agent_client.post(
                console_url(thread, "reply"), {"text": "Hi Alice, <b>Ann</b> here.", "escalation": escalated.pk}, **JSON
            )
        finally:
            connection.close()  # this thread's own connection (the test client keeps it open)

    async def customer_sees_the_reply():
        comm = WebsocketCommunicator(
            application,
            f"/ws/chat/?ticket={ticket}",
            headers=[(b"origin", b"http://testserver"), (b"host", b"testserver")],
        )
        connected, _ = await comm.connect(timeout=5)
        assert connected
        hello = await comm.receive_json_from()
        assert hello["mode"] == "human"
        reply = asyncio.get_running_loop().run_in_executor(None, agent_replies)
        message = await receive_until(comm, lambda m: m.get("type") == "message")
        response = await reply
        await comm.disconnect()
        return message, response

    message, response = async_to_sync(customer_sees_the_reply)()
    assert response.status_code == 200, response.content
    assert message["message"]["author"] == "agent"
    assert message["message"]["author_name"] == "Ann"
    assert message["message"]["text"] == "Hi Alice, <b>Ann</b> here."  # as typed; the widget shows it as text
    stored = Message.objects.get(thread=thread, author=Message.Author.AGENT)
    assert stored.text == "Hi Alice, <b>Ann</b> here."
    escalated.refresh_from_db()
    assert escalated.first_human_reply_at == stored.created_at


def test_an_agent_who_has_not_claimed_cannot_reply(agent_client, escalated, thread):
    response = agent_client.post(console_url(thread, "reply"), {"text": "hello"}, **JSON)
    assert response.status_code == 403
    assert not Message.objects.filter(thread=thread, author=Message.Author.AGENT).exists()


def test_an_empty_reply_is_refused(agent_client, escalated, thread):
    agent_client.post(console_url(thread, "claim"), **JSON)
    response = agent_client.post(console_url(thread, "reply"), {"text": "   "}, **JSON)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "empty_reply"


def test_agent_typing_reaches_the_widget_as_the_agents_name(agent, escalated, thread, tap):
    """The console socket publishes typing on the thread's group; the widget maps it to who=agent."""
    listener = tap(thread.public_id)

    async def type_something():
        comm, _, _ = await console_socket(agent)
        await comm.receive_json_from()  # hello
        await comm.send_json_to({"type": "watch", "thread_id": thread.public_id})
        await comm.receive_json_from()  # watching
        await comm.send_json_to({"type": "typing", "thread_id": thread.public_id})
        await asyncio.sleep(0.2)
        await comm.disconnect()

    async_to_sync(type_something)()
    typing = [m for m in listener.drain() if m["event"] == "typing"]
    assert len(typing) == 1 and typing[0]["data"]["who"] == "agent"
    shown = ChatConsumer()._view("typing", typing[0]["data"], typing[0]["seq"])
    assert shown == {"type": "typing", "who": "agent", "name": "Ann"}


def test_notes_are_stored_shown_to_agents_and_never_sent_to_the_customer(agent_client, agent, escalated, thread, tap):
    listener = tap(thread.public_id)
    response = agent_client.post(console_url(thread, "notes"), {"text": "VIP <script>alert(1)</script>"}, **JSON)

    assert response.status_code == 200
    note = InternalNote.objects.get(thread=thread)
    assert (note.author, note.text) == (agent, "VIP <script>alert(1)</script>")
    page = agent_client.get(console_url(thread)).content.decode()
    assert "VIP &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert not [m for m in listener.drain() if "note" in m["event"]]


def test_canned_replies_are_offered_with_the_customer_and_agent_names_filled_in(agent_client, escalated, thread):
    CannedReply.objects.create(title="Hello", text="Hi {customer_name}, {agent_name} here & happy to help.")
    agent_client.post(console_url(thread, "claim"), **JSON)

    page = agent_client.get(console_url(thread)).content.decode()

    assert 'data-text="Hi Alice, Ann here &amp; happy to help."' in page
    assert ">Hello</option>" in page


def test_suggest_drafts_a_reply_from_the_conversation_through_the_model(agent_client, escalated, thread, monkeypatch):
    from agents import services

    runs.message_create(thread=thread, role="user", content="Where is order A1001?", author="customer")
    requests = []
    real_call = services.call_model

    def recording(request, *args, **kwargs):
        requests.append(request)
        return real_call(request, *args, **kwargs)

    monkeypatch.setattr(services, "call_model", recording)
    response = agent_client.post(console_url(thread, "suggest"), **JSON)

    assert response.status_code == 200
    assert response.json()["text"].strip()
    [request] = requests
    assert request["messages"][0]["role"] == "system" and "draft" in request["messages"][0]["content"]
    assert {"role": "user", "content": "Where is order A1001?"} in request["messages"]


def test_suggest_asks_the_model_once_and_says_when_it_cannot(agent_client, escalated, thread, scripted, settings):
    settings.MODEL_RETRY_BASE_SECONDS = 5  # a retry would show as a wait of seconds
    scripted.status(503)
    started = time.monotonic()

    response = agent_client.post(console_url(thread, "suggest"), **JSON)

    assert response.status_code == 503
    assert response.json()["error"]["message"] == "No suggestion right now; try again."
    assert len(scripted.requests) == 1 and time.monotonic() - started < 2


@pytest.fixture
def requested_return(escalated, alice):
    order = delivered_order(customer=alice, number="A2002")
    return ReturnFactory(item=order.items.get(), order=order)


@pytest.mark.parametrize(("decision", "status"), [("approve", "approved"), ("reject", "rejected")])
def test_an_agent_decides_a_requested_return_through_the_orders_service(
    agent_client, thread, requested_return, decision, status
):
    url = console_url(thread, f"returns/{requested_return.pk}/{decision}")
    response = agent_client.post(url, {"note": "checked photos"}, **JSON)

    assert response.status_code == 200, response.content
    requested_return.refresh_from_db()
    assert (requested_return.status, requested_return.decision_note) == (status, "checked photos")
    event = OrderEvent.objects.get(order=requested_return.order, kind=f"return_{status}")
    assert event.actor == "staff:ann"


def test_a_return_outside_the_conversation_cannot_be_decided_from_it(agent_client, thread, escalated, mallory):
    other = ReturnFactory(item=delivered_order(customer=mallory).items.get())
    response = agent_client.post(console_url(thread, f"returns/{other.pk}/approve"), **JSON)
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.status == Return.Status.REQUESTED


def test_a_return_decided_twice_is_refused_with_the_reason(agent_client, thread, requested_return):
    agent_client.post(console_url(thread, f"returns/{requested_return.pk}/approve"), **JSON)
    response = agent_client.post(console_url(thread, f"returns/{requested_return.pk}/reject"), **JSON)
    assert response.status_code == 409
    assert "approved" in response.json()["error"]["message"]


def test_after_hand_back_the_assistant_answers_with_the_agents_turn_in_its_prompt(
    agent_client, escalated, thread, alice_order, monkeypatch
):
    agent_client.post(console_url(thread, "claim"), **JSON)
    agent_client.post(console_url(thread, "reply"), {"text": "I've checked your parcel, all good."}, **JSON)
    response = agent_client.post(console_url(thread, "hand-back"), **JSON)
    assert response.status_code == 200
    escalated.refresh_from_db()
    thread.refresh_from_db()
    assert escalated.status == Escalation.Status.HANDED_BACK and thread.mode == Thread.Mode.ASSISTANT

    prompts = []
    real_call = runner.call_model

    def recording(request, *args, **kwargs):
        prompts.append(request["messages"])
        return real_call(request, *args, **kwargs)

    monkeypatch.setattr(runner, "call_model", recording)
    runs.message_create(
        thread=thread, role="user", content="What's the status of A1001? alice@example.com", author="customer"
    )
    run = runs.run_create(thread=thread, assistant=thread.assistant)

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED
    assert {
        "role": "assistant",
        "content": "[Ann, a human support agent, wrote:] I've checked your parcel, all good.",
    } in (prompts[0])
    answer = thread.messages.filter(author=Message.Author.ASSISTANT).last()
    assert "A1001" in answer.text


def test_resolving_closes_the_conversation_and_tells_the_widget(agent_client, escalated, thread, tap):
    agent_client.post(console_url(thread, "claim"), **JSON)
    listener = tap(thread.public_id)
    response = agent_client.post(console_url(thread, "resolve"), **JSON)

    assert response.status_code == 200
    escalated.refresh_from_db()
    thread.refresh_from_db()
    assert escalated.status == Escalation.Status.RESOLVED and escalated.resolved_at is not None
    assert thread.mode == Thread.Mode.CLOSED
    modes = [m["data"]["mode"] for m in listener.drain() if m["event"] == "conversation.mode"]
    assert modes == ["closed"]


def test_a_supervisor_assigns_the_conversation_to_a_colleague(supervisor_client, colleague, escalated, thread, tap):
    listener = tap(thread.public_id)
    response = supervisor_client.post(console_url(thread, "assign"), {"agent": colleague.pk}, **JSON)
    assert response.status_code == 200
    escalated.refresh_from_db()
    assert escalated.assigned_to == colleague
    assert [m["data"]["name"] for m in listener.drain() if m["event"] == "agent.joined"] == ["Bob"]


def test_the_conversation_page_shows_transcript_tool_calls_summary_orders_and_notes(
    agent_client, agent, escalated, thread, alice_order
):
    from agents.services import add_note
    from runtime.models import RunStep, ToolCall

    runs.message_create(thread=thread, role="user", content="Where is <i>A1001</i>?", author="customer")
    run = Run.objects.create(thread=thread, assistant=thread.assistant, model="m", status=Run.Status.COMPLETED)
    step = RunStep.objects.create(run=run, type=RunStep.Type.TOOL_CALLS, status=RunStep.Status.COMPLETED)
    ToolCall.objects.create(
        step=step,
        index=0,
        call_id="call_1",
        name="get_order_status",
        arguments='{"order_number": "A1001"}',
        side="server",
        status="failed",
        output='{"error": {"code": "not_found", "message": "No order"}}',
        error_code="not_found",
        duration_ms=42,
    )
    ReturnFactory(item=alice_order.items.get(), order=alice_order)
    add_note(thread=thread, author=agent, text="Called her yesterday")
    from agents.tasks import write_summary

    write_summary(escalated.pk)

    page = agent_client.get(console_url(thread)).content.decode()

    assert "Where is &lt;i&gt;A1001&lt;/i&gt;?" in page
    assert "get_order_status" in page and "failed: not_found" in page and "42 ms" in page
    assert "&quot;order_number&quot;: &quot;A1001&quot;" in page  # the arguments, pretty-printed
    escalated.refresh_from_db()
    for field in ("headline", "problem", "customer", "mood", "suggested_next_step"):
        assert escape(escalated.summary[field]) in page
    assert "A1001" in page and "Ceramic Mug" in page and "Approve return" in page
    assert "Called her yesterday" in page


def test_the_queue_page_lists_open_escalations_with_their_state(agent_client, escalated):
    response = agent_client.get("/console/")
    assert response.status_code == 200
    state = response.context["state"]
    assert [e["id"] for e in state["queue"]] == [escalated.pk]
    assert state["queue"][0]["thread_id"] == escalated.thread.public_id
