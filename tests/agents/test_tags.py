"""Tags on a conversation: agents add and remove them from the conversation page; the inbox shows
them and filters by them."""

from __future__ import annotations

import pytest

from agents.models import ConversationTag
from agents.services import MAX_TAGS_PER_CONVERSATION
from runtime import runs
from tests.agents.conftest import console_url, signed_in, staff_member

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}


def tags_of(thread) -> list[str]:
    return sorted(ConversationTag.objects.filter(thread=thread).values_list("name", flat=True))


def test_an_agent_tags_a_conversation_and_the_name_is_normalized(agent_client, agent, thread):
    response = agent_client.post(console_url(thread, "tags"), {"tag": "  Refund   Request "}, **JSON)

    assert response.status_code == 200 and response.json()["tag"] == "refund request"
    assert tags_of(thread) == ["refund request"]
    assert ConversationTag.objects.get(thread=thread).added_by == agent


def test_tagging_twice_keeps_one_tag(agent_client, thread):
    for name in ("VIP", "vip"):
        assert agent_client.post(console_url(thread, "tags"), {"tag": name}, **JSON).status_code == 200

    assert tags_of(thread) == ["vip"]


def test_a_plain_form_tags_and_returns_to_the_conversation(agent_client, thread):
    response = agent_client.post(console_url(thread, "tags"), {"tag": "late", "next": console_url(thread)})

    assert response.status_code == 302 and response["Location"] == console_url(thread)
    page = agent_client.get(console_url(thread)).content.decode()
    assert 'data-tag="late"' in page


def test_an_agent_removes_a_tag(agent_client, agent, thread):
    ConversationTag.objects.create(thread=thread, name="late", added_by=agent)

    response = agent_client.post(console_url(thread, "tags/remove"), {"tag": "Late"}, **JSON)

    assert response.status_code == 200
    assert tags_of(thread) == []


@pytest.mark.parametrize(
    ("tag", "code"),
    [("", "invalid_request"), ("x" * 41, "invalid_request"), ("<b>bold</b>", "invalid_request"), ("a\tb", None)],
    ids=["empty", "too-long", "markup", "tab-collapsed"],
)
def test_a_tag_that_is_not_a_plain_label_is_refused(agent_client, thread, tag, code):
    response = agent_client.post(console_url(thread, "tags"), {"tag": tag}, **JSON)

    if code is None:  # whitespace inside is collapsed to one space, not refused
        assert response.status_code == 200 and tags_of(thread) == ["a b"]
    else:
        assert response.status_code == 400 and response.json()["error"]["code"] == code
        assert tags_of(thread) == []


def test_a_conversation_has_a_limited_number_of_tags(agent_client, agent, thread):
    for n in range(MAX_TAGS_PER_CONVERSATION):
        ConversationTag.objects.create(thread=thread, name=f"t{n}", added_by=agent)

    response = agent_client.post(console_url(thread, "tags"), {"tag": "one more"}, **JSON)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "too_many_tags"
    assert len(tags_of(thread)) == MAX_TAGS_PER_CONVERSATION


def test_staff_who_are_not_agents_cannot_tag(thread):
    client = signed_in(staff_member("carol", group=None))

    assert client.post(console_url(thread, "tags"), {"tag": "spam"}, **JSON).status_code == 403
    assert tags_of(thread) == []


def test_tagging_a_conversation_that_does_not_exist_is_a_404(agent_client):
    assert agent_client.post("/console/conversations/thread_nope/tags/", {"tag": "x"}, **JSON).status_code == 404


def test_the_inbox_shows_tags_and_filters_by_them(agent_client, agent, thread, alice):
    runs.message_create(thread=thread, role="user", content="Hello", author="customer", check_active_run=False)
    ConversationTag.objects.create(thread=thread, name="vip", added_by=agent)

    tagged = agent_client.get("/console/conversations/", {"tag": "vip"})
    other = agent_client.get("/console/conversations/", {"tag": "refund"})

    assert [row.tags for row in tagged.context["rows"]] == [["vip"]]
    assert 'class="tag-chip" href="?tag=vip"' in tagged.content.decode()
    assert other.context["rows"] == []
