"""The console's websocket, inside one process: channels' WebsocketCommunicator with a real session."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from agents.services import escalate
from runtime import events, runs
from runtime.models import Thread
from tests.agents.conftest import console_socket, receive_until, staff_member

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_socket_without_a_session_is_refused(db):
    _, connected, code = await console_socket(None)
    assert not connected and code == 4001


async def test_staff_outside_the_support_groups_are_refused(db):
    outsider = await database_sync_to_async(staff_member)("carol", group=None)
    _, connected, code = await console_socket(outsider)
    assert not connected and code == 4003


async def test_a_page_on_another_site_cannot_open_the_console_socket(agent):
    _, connected, _ = await console_socket(agent, origin=b"https://evil.example")
    assert not connected


async def test_an_agent_gets_the_queue_on_connect(agent, escalated):
    comm, connected, _ = await console_socket(agent)
    assert connected
    hello = await comm.receive_json_from()
    assert hello["type"] == "hello"
    assert [e["id"] for e in hello["queue"]] == [escalated.pk]
    assert hello["queue"][0]["status"] == "waiting"
    await comm.disconnect()


async def test_a_new_escalation_appears_in_the_queue_live(agent, assistant, alice):
    comm, _, _ = await console_socket(agent)
    assert (await comm.receive_json_from())["queue"] == []

    thread = await database_sync_to_async(Thread.objects.create)(assistant=assistant, customer=alice)
    escalation = await database_sync_to_async(escalate)(
        thread=thread, trigger="frustration", reason="The customer sounds frustrated.", priority="high"
    )

    created = await receive_until(comm, lambda m: m.get("event") == "escalation.created")
    assert created["type"] == "staff"
    assert created["data"]["id"] == escalation.pk
    assert created["data"]["thread_id"] == thread.public_id
    assert created["data"]["priority"] == "high" and created["data"]["customer"] == "Alice Example"
    assert created["data"]["sla_due_at"] > created["data"]["created_at"]
    # The summary task runs in the background and updates the row's headline when it is written.
    summarized = await receive_until(comm, lambda m: m.get("event") == "escalation.summary")
    assert summarized["data"]["headline"] and summarized["data"]["id"] == escalation.pk
    await comm.disconnect()


async def test_watching_a_conversation_shows_the_customer_typing_and_writing(agent, escalated, thread):
    comm, _, _ = await console_socket(agent)
    await comm.receive_json_from()
    await comm.send_json_to({"type": "watch", "thread_id": thread.public_id})
    watching = await receive_until(comm, lambda m: m.get("type") == "watching")
    assert watching["thread_id"] == thread.public_id and watching["mode"] == "waiting_human"

    # What the customer's socket publishes when they type, then send.
    await database_sync_to_async(events.publish)(
        thread.public_id, "typing", {"who": "customer", "thread_id": thread.public_id}
    )
    typing = await receive_until(comm, lambda m: m.get("type") == "typing")
    assert typing == {"type": "typing", "thread_id": thread.public_id, "who": "customer"}

    await database_sync_to_async(runs.message_create)(
        thread=thread, role="user", content="Is anyone there?", author="customer", author_name="Alice Example"
    )
    message = await receive_until(comm, lambda m: m.get("type") == "message")
    assert message["thread_id"] == thread.public_id
    assert message["message"]["text"] == "Is anyone there?" and message["message"]["author"] == "customer"
    await comm.disconnect()


async def test_an_unwatched_conversation_sends_nothing(agent, escalated, thread):
    comm, _, _ = await console_socket(agent)
    await comm.receive_json_from()
    await comm.send_json_to({"type": "watch", "thread_id": thread.public_id})
    await receive_until(comm, lambda m: m.get("type") == "watching")
    await comm.send_json_to({"type": "unwatch", "thread_id": thread.public_id})
    await comm.send_json_to({"type": "ping"})
    assert (await comm.receive_json_from())["type"] == "pong"

    await database_sync_to_async(events.publish)(thread.public_id, "typing", {"who": "customer"})
    await database_sync_to_async(events.flush)()
    assert await comm.receive_nothing(timeout=0.3)
    await comm.disconnect()


async def test_watching_an_unknown_conversation_is_an_error(agent):
    comm, _, _ = await console_socket(agent)
    await comm.receive_json_from()
    await comm.send_json_to({"type": "watch", "thread_id": "thread_nope"})
    error = await comm.receive_json_from()
    assert error["type"] == "error" and error["code"] == "not_found"
    await comm.disconnect()


async def test_notes_and_claims_reach_every_console(agent, colleague, escalated, thread):
    from agents.services import add_note, claim

    comm, _, _ = await console_socket(colleague)
    await comm.receive_json_from()
    await database_sync_to_async(add_note)(thread=thread, author=agent, text="On it")
    note = await receive_until(comm, lambda m: m.get("event") == "note.added")
    assert note["data"]["text"] == "On it" and note["data"]["author"] == "Ann"

    await database_sync_to_async(claim)(escalation=escalated, agent=agent)
    updated = await receive_until(comm, lambda m: m.get("event") == "escalation.updated")
    assert updated["data"]["status"] == "assigned" and updated["data"]["assigned_to"] == "ann"
    await comm.disconnect()


async def test_a_tool_call_waiting_for_approval_appears_in_every_console(agent, thread):
    from runtime.models import Run, RunStep, ToolApproval, ToolCall

    comm, _, _ = await console_socket(agent)
    assert (await comm.receive_json_from())["approvals"] == []

    def a_call_waits_for_approval() -> ToolApproval:
        run = Run.objects.create(thread=thread, assistant=thread.assistant, model="m", status="requires_action")
        step = RunStep.objects.create(run=run, type="tool_calls")
        call = ToolCall.objects.create(step=step, index=0, call_id="call_1", name="initiate_return", side="approval")
        approval = ToolApproval.objects.create(
            call=call, thread=thread, kind="return", summary="Return 1 × Headphones: refund 249.00 USD"
        )
        events.notify_staff("approval.requested", {"thread_id": thread.public_id})  # as the engine does
        return approval

    approval = await database_sync_to_async(a_call_waits_for_approval)()
    requested = await receive_until(comm, lambda m: m.get("event") == "approval.requested")
    assert [(a["id"], a["summary"], a["thread_id"]) for a in requested["approvals"]] == [
        (approval.pk, "Return 1 × Headphones: refund 249.00 USD", thread.public_id)
    ]
    await comm.disconnect()


async def test_a_built_in_tool_call_shows_by_its_type_without_closing_the_socket(agent, escalated, thread):
    comm, _, _ = await console_socket(agent)
    await comm.receive_json_from()
    await comm.send_json_to({"type": "watch", "thread_id": thread.public_id})
    await receive_until(comm, lambda m: m.get("type") == "watching")
    step = {
        "thread_id": thread.public_id,
        "step_details": {
            "type": "tool_calls",
            "tool_calls": [
                {"id": "call_1", "type": "file_search", "file_search": {"results": [{"file_name": "returns.md"}]}},
                {"id": "call_2", "type": "code_interpreter", "code_interpreter": {"input": "print(1)", "outputs": []}},
            ],
        },
    }

    await database_sync_to_async(events.publish)(thread.public_id, "thread.run.step.completed", step)

    shown = await receive_until(comm, lambda m: m.get("type") == "tool_calls")
    assert [(c["name"], c["arguments"]) for c in shown["calls"]] == [
        ("file_search", ""),
        ("code_interpreter", "print(1)"),
    ]
    assert "returns.md" in shown["calls"][0]["output"]
    await comm.send_json_to({"type": "ping"})
    assert (await receive_until(comm, lambda m: m.get("type") == "pong"))["type"] == "pong"
    await comm.disconnect()
