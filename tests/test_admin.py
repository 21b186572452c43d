"""The Django admin covers every model, lets staff find a conversation the ways they ask for it,
and changes engine-owned state only through the runtime's own services."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from agents import services as agents
from orders.models import VerifiedOrder
from runtime.models import Assistant, Message, Run, Thread

pytestmark = pytest.mark.django_db

PROJECT_APPS = {"accounts", "orders", "support", "knowledge", "agents", "webhooks", "sandbox", "widget", "ops"}


def test_every_model_of_the_project_has_an_admin():
    """Its own page, or a place inline on its parent's (a webhook delivery's attempts)."""
    inline = {inline.model for model_admin in admin.site._registry.values() for inline in model_admin.inlines}
    models = [m for m in apps.get_models() if m._meta.app_label in PROJECT_APPS]
    missing = [m._meta.label for m in models if not admin.site.is_registered(m) and m not in inline]
    assert len(models) > 30
    assert not missing


@pytest.fixture
def staff(admin_client):
    return admin_client


@pytest.fixture
def conversation(alice_order):
    assistant = Assistant.objects.create(name="Support", model="m")
    thread = Thread.objects.create(assistant=assistant, customer=alice_order.customer)
    VerifiedOrder.objects.create(thread=thread, order=alice_order)
    Thread.objects.create(assistant=assistant)  # someone else's, which no search below should find
    return thread


@pytest.mark.parametrize("query", ["alice@example.com", "A1001", "thread id"])
def test_a_conversation_is_found_by_email_order_number_or_id(staff, conversation, query):
    query = conversation.public_id if query == "thread id" else query
    response = staff.get(reverse("admin:support_thread_changelist"), {"q": query})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [conversation]


def test_engine_state_is_read_only(staff, conversation):
    run = Run.objects.create(thread=conversation, assistant=conversation.assistant, model="m", status="completed")
    message = Message.objects.create(thread=conversation, role="user", author="customer", content=[])
    for model, obj in [(Run, run), (Message, message), (Thread, conversation)]:
        url = reverse(f"admin:support_{model._meta.model_name}_change", args=[obj.pk])
        page = staff.get(url)
        assert page.status_code == 200
        assert b'name="_save"' not in page.content  # shown, not editable
        assert staff.post(url, {}).status_code == 403
        assert staff.get(reverse(f"admin:support_{model._meta.model_name}_add")).status_code == 403
        delete = reverse(f"admin:support_{model._meta.model_name}_delete", args=[obj.pk])
        assert staff.post(delete, {"post": "yes"}).status_code == 403


def test_cancelling_runs_goes_through_the_runtime(staff, conversation):
    queued = Run.objects.create(thread=conversation, assistant=conversation.assistant, model="m", status="queued")
    done = Run.objects.create(thread=conversation, assistant=conversation.assistant, model="m", status="completed")
    response = staff.post(
        reverse("admin:support_run_changelist"),
        {"action": "cancel", "_selected_action": [queued.pk, done.pk]},
        follow=True,
    )
    assert response.status_code == 200
    queued.refresh_from_db()
    done.refresh_from_db()
    assert queued.status == "cancelled" and queued.cancelled_at is not None
    assert done.status == "completed"


def test_resolving_from_the_admin_goes_through_the_consoles_service(staff, conversation):
    escalation = agents.escalate(thread=conversation, trigger="customer_request", reason="wants a person")
    response = staff.post(
        reverse("admin:agents_escalation_changelist"),
        {"action": "resolve", "_selected_action": [escalation.pk]},
        follow=True,
    )
    assert response.status_code == 200
    escalation.refresh_from_db()
    conversation.refresh_from_db()
    assert escalation.status == "resolved" and escalation.resolved_at is not None
    assert conversation.mode == "closed"  # as the console's Resolve leaves it
    page = staff.get(reverse("admin:agents_escalation_change", args=[escalation.pk]))
    assert b'name="_save"' not in page.content
