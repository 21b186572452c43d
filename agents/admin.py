"""Django admin for the human side: canned replies are edited here; the rest is read-only.

Escalations, notes and approvals change only through agents.services (from the console), which
checks rights, keeps the thread's mode in step and tells the widget and the consoles.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from agents.models import AssistantChange, CannedReply, ConversationTag, Escalation, InternalNote
from common.admin import ReadOnlyAdmin
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

    @admin.display(description="Conversation")
    def conversation(self, obj: Escalation) -> str:
        return console_link(obj.thread)


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
