"""The console's settings page: supervisors edit the shop assistant's instructions and tools, each
change audited (who, when, before and after) and shown; agents cannot."""

from __future__ import annotations

import pytest

from agents.assistant_settings import version_of
from agents.models import AssistantChange
from runtime.models import Assistant
from tests.agents.conftest import signed_in, staff_member

pytestmark = pytest.mark.django_db

PAGE = "/console/settings/"
SAVE = "/console/settings/assistant/"
JSON = {"HTTP_ACCEPT": "application/json"}


def form(assistant: Assistant, *, instructions: str | None = None, tools: list[str] | None = None) -> dict:
    tools = tools if tools is not None else sorted(assistant.server_tools)
    return {
        "instructions": assistant.instructions if instructions is None else instructions,
        "tools": tools,
        "version": version_of(assistant),
    }


def test_a_supervisor_sees_the_assistants_instructions_and_tools(supervisor_client, assistant):
    page = supervisor_client.get(PAGE)
    html = page.content.decode()

    assert page.status_code == 200
    assert "Verify the email first." in html
    assert 'name="tools" value="get_order_status" checked' in html
    assert 'name="tools" value="file_search">' in html  # registered, not enabled


def test_a_supervisor_changes_the_instructions_and_it_is_audited(supervisor_client, supervisor, assistant):
    before = assistant.instructions

    response = supervisor_client.post(SAVE, form(assistant, instructions="Be brief.\r\nAlways verify."), **JSON)

    assert response.status_code == 200 and response.json()["changes"] == 1
    assistant.refresh_from_db()
    assert assistant.instructions == "Be brief.\nAlways verify."
    change = AssistantChange.objects.get()
    assert (change.field, change.before, change.after) == ("instructions", before, "Be brief.\nAlways verify.")
    assert (change.changed_by, change.changed_by_name, change.assistant_public_id) == (
        supervisor,
        "Sue",
        assistant.public_id,
    )


def test_a_supervisor_changes_the_tools_server_and_built_in(supervisor_client, assistant):
    tools = [*[t for t in assistant.server_tools if t != "track_shipment"], "file_search"]
    before = sorted(assistant.server_tools)

    response = supervisor_client.post(SAVE, form(assistant, tools=tools), **JSON)

    assert response.status_code == 200
    assistant.refresh_from_db()
    assert "track_shipment" not in assistant.server_tools and "file_search" not in assistant.server_tools
    assert {"type": "file_search"} in assistant.tools
    change = AssistantChange.objects.get()
    assert (change.field, change.before, change.after) == ("tools", before, sorted(tools))
    html = supervisor_client.get(PAGE).content.decode()
    assert "+ file_search" in html and "− track_shipment" in html


def test_client_side_functions_of_the_assistant_are_kept(supervisor_client, assistant):
    function = {"type": "function", "function": {"name": "shop_lookup", "parameters": {"type": "object"}}}
    Assistant.objects.filter(pk=assistant.pk).update(tools=[function])
    assistant.refresh_from_db()

    supervisor_client.post(SAVE, form(assistant, tools=["code_interpreter"]), **JSON)

    assistant.refresh_from_db()
    assert assistant.tools == [function, {"type": "code_interpreter"}] and assistant.server_tools == []


def test_saving_without_a_change_writes_no_audit(supervisor_client, assistant):
    response = supervisor_client.post(SAVE, form(assistant), **JSON)

    assert response.json() == {"ok": True, "message": "Nothing changed.", "changes": 0}
    assert not AssistantChange.objects.exists()


def test_the_audit_is_shown_newest_first_with_before_and_after(supervisor_client, assistant):
    supervisor_client.post(SAVE, form(assistant, instructions="First version."), **JSON)
    assistant.refresh_from_db()
    supervisor_client.post(SAVE, form(assistant, instructions="Second version."), **JSON)

    html = supervisor_client.get(PAGE).content.decode()

    assert html.index("Second version.") < html.index("First version.")
    assert html.count('class="audit-entry"') == 2


def test_a_save_from_an_older_page_is_refused_and_loses_nothing(supervisor_client, assistant):
    stale = form(assistant, instructions="Mine.")
    supervisor_client.post(SAVE, form(assistant, instructions="Theirs."), **JSON)

    response = supervisor_client.post(SAVE, stale, **JSON)

    assert response.status_code == 409 and response.json()["error"]["code"] == "stale_settings"
    assistant.refresh_from_db()
    assert assistant.instructions == "Theirs."
    assert AssistantChange.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "param"),
    [({"tools": ["rm_rf"]}, "tools"), ({"instructions": "x" * 256_001}, "instructions")],
    ids=["unknown-tool", "too-long"],
)
def test_bad_settings_are_refused_and_nothing_changes(supervisor_client, assistant, fields, param):
    before = (assistant.instructions, assistant.server_tools)

    response = supervisor_client.post(SAVE, {**form(assistant), **fields}, **JSON)

    assert response.status_code == 400 and response.json()["error"]["param"] == param
    assistant.refresh_from_db()
    assert (assistant.instructions, assistant.server_tools) == before
    assert not AssistantChange.objects.exists()


def test_an_agent_who_is_not_a_supervisor_can_neither_see_nor_save(agent_client, assistant):
    before = assistant.instructions

    assert agent_client.get(PAGE).status_code == 403
    assert agent_client.post(SAVE, form(assistant, instructions="Say yes to everything."), **JSON).status_code == 403
    assistant.refresh_from_db()
    assert assistant.instructions == before
    assert not AssistantChange.objects.exists()


def test_staff_outside_the_console_cannot_save(assistant):
    client = signed_in(staff_member("carol", group=None))

    assert client.post(SAVE, form(assistant, instructions="Hijacked."), **JSON).status_code == 403
    assistant.refresh_from_db()
    assert assistant.instructions != "Hijacked."


def test_the_settings_link_is_shown_to_supervisors_only(supervisor_client, agent_client, assistant):
    assert 'href="/console/settings/"' in supervisor_client.get("/console/").content.decode()
    assert 'href="/console/settings/"' not in agent_client.get("/console/").content.decode()


def test_without_a_shop_assistant_the_page_says_how_to_make_one(supervisor_client, db):
    page = supervisor_client.get(PAGE)

    assert page.status_code == 200 and "seed_demo" in page.content.decode()
    assert supervisor_client.post(SAVE, {"instructions": "x", "version": ""}, **JSON).status_code == 404
