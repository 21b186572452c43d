"""Who may open the console and do what in it: agents handle conversations; supervisors also assign,
pick conversations for a person and see metrics; everyone else is kept out. Actions need CSRF."""

from __future__ import annotations

import pytest
from django.test import Client

from agents.models import Escalation
from tests.agents.conftest import console_url, signed_in, staff_member

pytestmark = pytest.mark.django_db(transaction=True)

JSON = {"HTTP_ACCEPT": "application/json"}
PAGES = ["/console/", "/console/metrics/", "/console/conversations/", "/console/settings/"]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_the_console_login(url):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/console/login/?next={url}"


def test_the_login_page_signs_an_agent_in_and_returns_to_the_queue(agent):
    client = Client()
    assert client.get("/console/login/").status_code == 200
    response = client.post("/console/login/", {"username": "ann", "password": "pw", "next": "/console/"})
    assert response.status_code == 302 and response["Location"] == "/console/"
    assert client.get("/console/").status_code == 200


def test_anonymous_json_callers_get_401(escalated, thread):
    response = Client().post(console_url(thread, "claim"), **JSON)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("username", "group", "is_staff"),
    [("carol", None, True), ("dave", "Agents", False), ("erin", "Supervisors", False)],
    ids=["staff-in-no-group", "agent-without-staff-flag", "supervisor-without-staff-flag"],
)
def test_users_who_are_not_console_staff_get_403_everywhere(username, group, is_staff, escalated, thread):
    client = signed_in(staff_member(username, group=group, is_staff=is_staff))
    for url in [*PAGES, console_url(thread)]:
        assert client.get(url).status_code == 403, url
    assert client.post(console_url(thread, "claim")).status_code == 403
    escalated.refresh_from_db()
    assert escalated.status == Escalation.Status.WAITING


def test_an_agent_works_and_searches_conversations_but_cannot_see_metrics_or_settings(agent_client, escalated, thread):
    assert agent_client.get("/console/").status_code == 200
    assert agent_client.get(console_url(thread)).status_code == 200
    assert agent_client.get("/console/conversations/").status_code == 200
    assert agent_client.get("/console/metrics/").status_code == 403
    assert agent_client.get("/console/settings/").status_code == 403


def test_an_agent_cannot_assign_a_conversation_to_someone_else(agent_client, colleague, escalated, thread):
    response = agent_client.post(console_url(thread, "assign"), {"agent": colleague.pk}, **JSON)
    assert response.status_code == 403
    escalated.refresh_from_db()
    assert escalated.assigned_to is None


def test_an_agent_cannot_take_a_conversation_a_colleague_holds(agent_client, colleague, escalated, thread):
    from agents.services import claim

    claim(escalation=escalated, agent=colleague)
    response = agent_client.post(console_url(thread, "claim"), **JSON)
    assert response.status_code == 403
    escalated.refresh_from_db()
    assert escalated.assigned_to == colleague
    # Nor act on it: reply, hand back, resolve are the holder's (or a supervisor's).
    for action in ["reply", "hand-back", "resolve"]:
        assert agent_client.post(console_url(thread, action), {"text": "hi"}, **JSON).status_code == 403, action
    escalated.refresh_from_db()
    assert escalated.status == Escalation.Status.ASSIGNED


def test_an_agent_cannot_pick_a_conversation_for_a_person(agent_client, thread):
    response = agent_client.post(console_url(thread, "escalate"), {"reason": "looks bad"}, **JSON)
    assert response.status_code == 403
    assert not thread.escalations.exists()


def test_a_supervisor_sees_metrics_and_conversations_and_assigns(supervisor_client, colleague, escalated, thread):
    assert supervisor_client.get("/console/metrics/").status_code == 200
    assert supervisor_client.get("/console/conversations/").status_code == 200
    response = supervisor_client.post(console_url(thread, "assign"), {"agent": colleague.pk}, **JSON)
    assert response.status_code == 200
    escalated.refresh_from_db()
    assert escalated.assigned_to == colleague


def test_a_superuser_is_a_supervisor(escalated):
    admin = staff_member("root", group=None)
    admin.is_superuser = True
    admin.save()
    assert signed_in(admin).get("/console/metrics/").status_code == 200


def test_actions_refuse_a_post_without_the_csrf_token(agent, escalated, thread):
    client = signed_in(agent, enforce_csrf_checks=True)
    response = client.post(console_url(thread, "claim"), {"escalation": escalated.pk})
    assert response.status_code == 403
    escalated.refresh_from_db()
    assert escalated.status == Escalation.Status.WAITING


def test_actions_accept_the_csrf_header_the_console_script_sends(agent, escalated, thread):
    client = signed_in(agent, enforce_csrf_checks=True)
    client.get(console_url(thread))  # sets the csrftoken cookie, as the page does
    token = client.cookies["csrftoken"].value
    response = client.post(console_url(thread, "claim"), HTTP_X_CSRFTOKEN=token, **JSON)
    assert response.status_code == 200
    escalated.refresh_from_db()
    assert escalated.status == Escalation.Status.ASSIGNED


def test_actions_only_answer_posts(agent_client, escalated, thread):
    assert agent_client.get(console_url(thread, "claim")).status_code == 405
