"""The console's actions: thin adapters onto agents.services, orders.services and knowledge.services.

Each is a POST (CSRF-protected: a form's token or the X-CSRFToken header), checks the user is
console staff, calls the one service that makes the change (which checks the finer rights and
tells the widget and every console), and answers JSON or redirects back with a message.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from agents import services
from agents.assistant_settings import assistant_settings_update, editable_assistant
from agents.models import Escalation
from agents.selectors import conversation_orders
from agents.views.access import access_thread, agent_required, done, failed, posted, supervisor_required
from common.actors import Actor
from common.errors import DomainError, InvalidInput, InvalidState, NotFound
from knowledge import services as knowledge_services
from knowledge.help_centre import ensure_help_centre, help_centre_store
from knowledge.models import File, VectorStoreFile
from orders import services as order_services
from orders.models import Return
from runtime.models import Thread, ToolApproval
from runtime.serializers import conversation_message


def _conversation_url(thread: Thread) -> str:
    return reverse("console:conversation", args=[thread.public_id])


def _open_escalation(thread: Thread, data: dict) -> Escalation:
    """The conversation's open escalation; the one the page showed, if it says which."""
    escalation = services.open_escalation(thread)
    if escalation is None:
        raise InvalidState("This conversation is not waiting for or held by a person.", code="not_escalated")
    shown = str(data.get("escalation") or "")
    if shown and shown != str(escalation.pk):
        raise InvalidState("This conversation changed since you opened it. Reload to see where it stands.")
    return escalation


@require_POST
@agent_required
def claim(request: HttpRequest, thread_id: str) -> HttpResponse:
    thread = access_thread(thread_id)
    try:
        escalation = services.claim(escalation=_open_escalation(thread, posted(request)), agent=request.user)
    except DomainError as error:
        return failed(request, error, fallback=_conversation_url(thread))
    return done(
        request,
        message="You have this conversation now.",
        fallback=_conversation_url(thread),
        data={"escalation": services.escalation_view(escalation)},
    )


@require_POST
@agent_required
def assign(request: HttpRequest, thread_id: str) -> HttpResponse:
    thread = access_thread(thread_id)
    data = posted(request)
    try:
        agent_id = str(data.get("agent") or "")
        agent = get_user_model().objects.filter(pk=int(agent_id)).first() if agent_id.isdigit() else None
        if agent is None:
            raise InvalidInput("Choose who should take this conversation.", param="agent")
        escalation = services.assign(escalation=_open_escalation(thread, data), agent=agent, by=request.user)
    except DomainError as error:
        return failed(request, error, fallback=_conversation_url(thread))
    return done(
        request,
        message=f"Assigned to {agent.get_full_name() or agent.get_username()}.",
        fallback=_conversation_url(thread),
        data={"escalation": services.escalation_view(escalation)},
    )


@require_POST
@agent_required
def reply(request: HttpRequest, thread_id: str) -> HttpResponse:
    thread = access_thread(thread_id)
    data = posted(request)
    text = data.get("text", "")
    try:
        message = services.agent_reply(escalation=_open_escalation(thread, data), agent=request.user, text=text)
    except DomainError as error:
        return failed(request, error, fallback=_conversation_url(thread))
    return done(
        request, message="Sent.", fallback=_conversation_url(thread), data={"message": conversation_message(message)}
    )


@require_POST
@agent_required
def add_note(request: HttpRequest, thread_id: str) -> HttpResponse:
    thread = access_thread(thread_id)
    try:
        note = services.add_note(thread=thread, author=request.user, text=posted(request).get("text", ""))
    except DomainError as error:
        return failed(request, error, fallback=_conversation_url(thread))
    return done(
        request,
        message="Note added.",
        fallback=_conversation_url(thread),
        data={"note": {"id": note.pk, "author": services.display_name(request.user), "text": note.text}},
    )


@require_POST
@agent_required
def add_tag(request: HttpRequest, thread_id: str) -> HttpResponse:
    thread = access_thread(thread_id)
    try:
        tag = services.tag_add(thread=thread, agent=request.user, text=posted(request).get("tag", ""))
    except DomainError as error:
        return failed(request, error, fallback=_conversation_url(thread))
    return done(request, message=f"Tagged “{tag.name}”.", fallback=_conversation_url(thread), data={"tag": tag.name})


@require_POST
@agent_required
def remove_tag(request: HttpRequest, thread_id: str) -> HttpResponse:
    thread = access_thread(thread_id)
    try:
        name = services.tag_name(posted(request).get("tag", ""))
        services.tag_remove(thread=thread, agent=request.user, text=name)
    except DomainError as error:
        return failed(request, error, fallback=_conversation_url(thread))
    return done(request, message=f"Removed the tag “{name}”.", fallback=_conversation_url(thread), data={"tag": name})


@require_POST
@agent_required
def hand_back(request: HttpRequest, thread_id: str) -> HttpResponse:
    thread = access_thread(thread_id)
    try:
        services.hand_back(escalation=_open_escalation(thread, posted(request)), agent=request.user)
    except DomainError as error:
        return failed(request, error, fallback=_conversation_url(thread))
    return done(request, message="Handed back to the assistant.", fallback=_conversation_url(thread))


@require_POST
@agent_required
def resolve(request: HttpRequest, thread_id: str) -> HttpResponse:
    thread = access_thread(thread_id)
    try:
        services.resolve(escalation=_open_escalation(thread, posted(request)), agent=request.user)
    except DomainError as error:
        return failed(request, error, fallback=_conversation_url(thread))
    return done(request, message="Resolved; the conversation is closed.", fallback=reverse("console:queue"))


@require_POST
@supervisor_required
def escalate(request: HttpRequest, thread_id: str) -> HttpResponse:
    thread = access_thread(thread_id)
    data = posted(request)
    reason = str(data.get("reason") or "").strip() or "A supervisor picked this conversation for a person."
    try:
        services.supervisor_escalate(
            thread=thread, supervisor=request.user, reason=reason, priority=str(data.get("priority") or "normal")
        )
    except DomainError as error:
        return failed(request, error, fallback=_conversation_url(thread))
    return done(request, message="Queued for a person.", fallback=_conversation_url(thread))


@require_POST
@agent_required
def decide_return(request: HttpRequest, thread_id: str, return_id: int, decision: str) -> HttpResponse:
    """Approve or reject a requested return of an order shown beside this conversation."""
    thread = access_thread(thread_id)
    note = posted(request).get("note", "").strip()
    actor = Actor.staff(request.user.get_username())
    try:
        services.check_length(note, limit=services.MAX_DECISION_NOTE_CHARS, what="the note", param="note")
        orders = {order.pk for order in conversation_orders(thread)}
        if not Return.objects.filter(pk=return_id, order_id__in=orders).exists():
            raise NotFound(f"No return {return_id} was found in this conversation.")
        if decision == "approve":
            ret = order_services.return_approve(actor=actor, return_id=return_id, note=note)
        else:
            ret = order_services.return_reject(actor=actor, return_id=return_id, note=note)
    except DomainError as error:
        return failed(request, error, fallback=_conversation_url(thread))
    return done(
        request,
        message=f"Return #{ret.pk} {ret.get_status_display().lower()}.",
        fallback=_conversation_url(thread),
        data={"return": {"id": ret.pk, "status": ret.status}},
    )


@require_POST
@agent_required
def decide_approval(request: HttpRequest, approval_id: int) -> HttpResponse:
    """Approve or decline a request the assistant asked a person to approve; the customer is told in their chat."""
    approval = ToolApproval.objects.select_related("thread").filter(pk=approval_id).first()
    fallback = reverse("console:queue") if approval is None else _conversation_url(approval.thread)
    data = posted(request)
    decision = str(data.get("decision") or "")
    try:
        if approval is None:
            raise NotFound(f"No approval request {approval_id} was found.")
        if decision not in ("approve", "decline"):
            raise InvalidInput("Approve or decline the request.", param="decision")
        decided = services.decide_approval(
            approval=approval,
            agent=request.user,
            approve=decision == "approve",
            note=str(data.get("note") or "").strip(),
        )
    except DomainError as error:
        return failed(request, error, fallback=fallback)
    return done(
        request,
        message=f"{decided.get_status_display()}: {decided.summary}. The customer was told in their chat.",
        fallback=fallback,
        data={"approval": {"id": decided.pk, "status": decided.status}},
    )


@require_POST
@agent_required
def suggest(request: HttpRequest, thread_id: str) -> JsonResponse:
    """An AI draft of the agent's next reply (the offline model answers when no provider is set)."""
    thread = access_thread(thread_id)
    try:
        text = services.suggest_reply(thread=thread, agent=request.user)
    except DomainError as error:
        return JsonResponse({"error": {"code": error.code, "message": error.message}}, status=error.http_status)
    return JsonResponse({"text": text})


# --- The assistant's settings ---------------------------------------------------------------------


@require_POST
@supervisor_required
def save_assistant_settings(request: HttpRequest) -> HttpResponse:
    """The settings page's form: the instructions, the tools ticked (repeated `tools` fields) and the
    version of the settings the page showed."""
    fallback = reverse("console:settings")
    data = posted(request)
    assistant = editable_assistant()
    try:
        if assistant is None:
            raise NotFound("There is no shop assistant to configure yet (manage.py seed_demo creates it).")
        changes = assistant_settings_update(
            assistant=assistant,
            supervisor=request.user,
            instructions=data.get("instructions", ""),
            tools=request.POST.getlist("tools"),
            version=data.get("version", ""),
        )
    except DomainError as error:
        return failed(request, error, fallback=fallback)
    saved = " and ".join(change.get_field_display().lower() for change in changes)
    message = f"Saved the assistant's {saved}." if changes else "Nothing changed."
    return done(request, message=message, fallback=fallback, data={"changes": len(changes)})


# --- The knowledge base -----------------------------------------------------------------------------


@require_POST
@supervisor_required
def knowledge_upload(request: HttpRequest) -> HttpResponse:
    """A file for the help centre (its store made on first use), read in the background; with
    "publish", also a help article (Markdown or plain text) that answers citing it link to."""
    fallback = reverse("console:knowledge")
    data = posted(request)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise InvalidInput("Choose a file to upload.", param="file")
        store, _assistants = ensure_help_centre()
        store_file = knowledge_services.help_file_add(
            store, upload=upload, publish=data.get("publish") in ("on", "1", "true"), title=data.get("title", "")
        )
    except DomainError as error:
        return failed(request, error, fallback=fallback)
    store_file.refresh_from_db()  # ingested already when dispatch is inline
    name = store_file.file.filename
    if store_file.status == VectorStoreFile.Status.COMPLETED:
        message = f"{name} is uploaded and searchable."
    elif store_file.status == VectorStoreFile.Status.FAILED:
        message = f"{name} is uploaded but could not be read: {(store_file.last_error or {}).get('message', '')}"
    else:
        message = f"{name} is uploaded and being read; the list shows when it is searchable."
    if store_file.file.help_slug:
        message += f" Published at {reverse('help-article', args=[store_file.file.help_slug])}."
    return done(request, message=message, fallback=fallback, data={"file_id": store_file.file.public_id})


@require_POST
@supervisor_required
def knowledge_remove(request: HttpRequest, file_id: str) -> HttpResponse:
    """Delete a help-centre file (and its article): searches stop finding it at once."""
    fallback = reverse("console:knowledge")
    store = help_centre_store()
    file = (
        File.objects.filter(owner=None, public_id=file_id, store_files__vector_store=store).first() if store else None
    )
    if file is None:
        return failed(request, NotFound(f"No help-centre file {file_id} was found."), fallback=fallback)
    knowledge_services.file_delete(file)
    return done(request, message=f"{file.filename} is removed.", fallback=fallback)
