"""Django admin for the human side: canned replies are edited here; the rest is read-only.

Escalations, notes and approvals change only through agents.services (from the console), which
checks rights, keeps the thread's mode in step and tells the widget and the consoles.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from agents import services
from agents.models import AssistantChange, CannedReply, ConversationTag, Escalation, InternalNote
from common.admin import ReadOnlyAdmin
from common.errors import DomainError
from runtime.models import ToolApproval


def console_link(thread) -> str:
    return format_html(
        '<a href="{}">{}</a>', reverse("console:conversation", args=[thread.public_id]), thread.public_id
    )


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    list_display = ["id", "conversation", "trigger", "priority", "status", "assigned_to", "created_at", "sla_due_at"]
    list_filter = ["status", "trigger", "priority"]
    list_select_related = ["thread", "assigned_to"]
    search_fields = ["thread__public_id", "reason", "assigned_to__username"]
    date_hierarchy = "created_at"
    actions = ["resolve"]

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # The list's action needs it; an escalation's page stays read-only.
        return obj is None and request.user.has_perm("agents.change_escalation")

    @admin.display(description="Conversation")
    def conversation(self, obj: Escalation) -> str:
        return console_link(obj.thread)

    @admin.action(description="Resolve the selected conversations (as the console does)", permissions=["change"])
    def resolve(self, request: HttpRequest, queryset: QuerySet[Escalation]) -> None:
        """Through agents.services.resolve, as the console's Resolve: the customer is told, the
        rating offered, the webhook sent; only a supervisor may resolve another agent's."""
        resolved, refused = 0, []
        for escalation in queryset.filter(status__in=Escalation.OPEN):
            try:
                services.resolve(escalation=escalation, agent=request.user)
                resolved += 1
            except DomainError as error:
                refused.append(f"#{escalation.pk}: {error.message}")
        self.message_user(request, f"{resolved} conversation(s) resolved.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not resolved: " + "; ".join(refused), messages.WARNING)


@admin.register(InternalNote)
class InternalNoteAdmin(ReadOnlyAdmin):
    list_display = ["id", "conversation", "author", "text", "created_at"]
    list_select_related = ["thread", "author"]
    search_fields = ["thread__public_id", "text", "author__username"]

    @admin.display(description="Conversation")
    def conversation(self, obj: InternalNote) -> str:
        return console_link(obj.thread)


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["title", "text"]
    search_fields = ["title", "text"]


@admin.register(ToolApproval)
class ToolApprovalAdmin(ReadOnlyAdmin):
    list_display = ["id", "conversation", "kind", "summary", "amount", "currency", "status", "decided_by", "created_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["thread", "decided_by"]

    @admin.display(description="Conversation")
    def conversation(self, obj: ToolApproval) -> str:
        return console_link(obj.thread)


@admin.register(ConversationTag)
class ConversationTagAdmin(ReadOnlyAdmin):
    """Tags are added and removed by agents on the conversation page."""

    list_display = ["name", "conversation", "added_by", "created_at"]
    list_filter = ["name"]
    list_select_related = ["thread", "added_by"]
    search_fields = ["name", "=thread__public_id"]

    @admin.display(description="Conversation")
    def conversation(self, obj: ConversationTag) -> str:
        return console_link(obj.thread)


@admin.register(AssistantChange)
class AssistantChangeAdmin(ReadOnlyAdmin):
    """The audit of the assistant's settings page: never edited or deleted here."""

    list_display = ["changed_at", "assistant_public_id", "field", "changed_by_name"]
    list_filter = ["field"]
    search_fields = ["=assistant_public_id", "changed_by_name"]
    date_hierarchy = "changed_at"
