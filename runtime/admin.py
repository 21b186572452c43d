"""Django admin for the assistant runtime: assistants, threads, messages, runs, steps, tool calls,
and the customers' ratings of their conversations.

Engine-owned state, so read-only: the admin never moves a run or a thread around the runtime's
rules. The one change offered is cancelling runs, through runtime.runs as /v1 cancels them.
Assistants are edited through /v1/assistants (and the console's settings page, which audits it).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from common.admin import ReadOnlyAdmin
from common.errors import DomainError
from runtime import runs
from runtime.models import Assistant, ConversationRating, Message, Run, RunStep, Thread, ToolCall


@admin.register(Assistant)
class AssistantAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "name", "model", "owner", "created_at"]
    list_filter = ["model"]
    search_fields = ["public_id", "name"]


@admin.register(Thread)
class ThreadAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "customer", "mode", "assistant", "created_at", "updated_at"]
    list_filter = ["mode", "assistant", "created_at"]
    list_select_related = ["customer", "assistant"]
    # By the customer's email, an order the conversation proved (the shop's VerifiedOrder rows point
    # here: looked up by name, the runtime imports nothing of the shop), or the thread's id.
    search_fields = ["=public_id", "customer__email", "=verified_orders__order__number"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "thread", "role", "author", "author_name", "status", "created_at"]
    list_filter = ["role", "author", "status"]
    list_select_related = ["thread"]
    search_fields = ["=public_id", "=thread__public_id"]
    show_full_result_count = False


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "thread", "assistant", "status", "model", "created_at", "completed_at"]
    list_filter = ["status", "assistant", "model"]
    list_select_related = ["thread", "assistant"]
    search_fields = ["=public_id", "=thread__public_id", "claimed_by"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["cancel"]

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # The list's actions need it; the form stays read-only (every field is read-only).
        return obj is None and request.user.has_perm("runtime.change_run")

    @admin.action(description="Cancel the selected runs", permissions=["change"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        cancelled = refused = 0
        for run in queryset.exclude(status__in=Run.TERMINAL):
            try:
                runs.run_cancel(run)
                cancelled += 1
            except DomainError:
                refused += 1
        self.message_user(request, f"{cancelled} run(s) cancelled or cancelling.", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{refused} had ended meanwhile.", messages.WARNING)


@admin.register(RunStep)
class RunStepAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "run", "type", "status", "created_at", "completed_at"]
    list_filter = ["type", "status"]
    list_select_related = ["run"]
    search_fields = ["=public_id", "=run__public_id"]
    show_full_result_count = False


@admin.register(ToolCall)
class ToolCallAdmin(ReadOnlyAdmin):
    list_display = ["call_id", "name", "side", "status", "error_code", "duration_ms", "finished_at"]
    list_filter = ["name", "status", "side", "error_code"]
    search_fields = ["=call_id", "=step__run__public_id"]
    show_full_result_count = False


@admin.register(ConversationRating)
class ConversationRatingAdmin(ReadOnlyAdmin):
    list_display = ["thread", "score", "comment", "created_at"]
    list_filter = ["score", "created_at"]
    list_select_related = ["thread"]
    search_fields = ["=thread__public_id", "comment"]
    date_hierarchy = "created_at"
