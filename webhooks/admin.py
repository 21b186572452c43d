"""Django admin for webhooks: endpoints (a secret shown once, rotation), the delivery log, redelivery.

Deliveries, attempts and events are a log: nobody edits them here. Redelivering goes through
webhooks.deliveries, like the retries do.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html

from webhooks import deliveries, endpoints
from webhooks.forms import EndpointForm
from webhooks.models import Delivery, DeliveryAttempt, Endpoint, Event
from webhooks.signing import new_secret


class LogInline(admin.TabularInline):
    """Rows of the log, shown and never changed."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["name", "url", "is_active", "subscriptions", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "url"]
    readonly_fields = ["secret_hint", "disabled_reason", "created_at", "updated_at"]
    actions = ["rotate_secret"]

    @admin.display(description="Events")
    def subscriptions(self, endpoint: Endpoint) -> str:
        return ", ".join(endpoint.event_types or [])

    @admin.display(description="Signing secret")
    def secret_hint(self, endpoint: Endpoint) -> str:
        if not endpoint.secret:
            return "Made when the endpoint is saved, and shown once then."
        return f"{endpoint.secret[:10]}… (shown once, when it was made; rotate it to get a new one)"

    def save_model(self, request: HttpRequest, obj: Endpoint, form, change: bool) -> None:
        if not change:
            obj.secret = new_secret()
        if obj.is_active:
            obj.disabled_reason = ""  # turned on again by a person
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: Endpoint, post_url_continue=None) -> HttpResponse:
        return self.show_secrets(request, [(obj, obj.secret)], made="created")

    @admin.action(description="Rotate the signing secret of the selected endpoints", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        rotated = [endpoints.rotate_secret(pk) for pk in queryset.values_list("pk", flat=True)]
        return self.show_secrets(request, rotated, made="rotated")

    def show_secrets(self, request: HttpRequest, secrets: list[tuple[Endpoint, str]], *, made: str) -> HttpResponse:
        """The only page that ever shows a secret: never cached, never stored in a message or a cookie."""
        context = {
            **self.admin_site.each_context(request),
            "title": "Copy the signing secret now",
            "opts": self.model._meta,
            "secrets": secrets,
            "made": made,
        }
        response = TemplateResponse(request, "admin/webhooks/endpoint/secrets.html", context)
        add_never_cache_headers(response)
        return response


class AttemptInline(LogInline):
    model = DeliveryAttempt
    fields = readonly_fields = [
        "number",
        "started_at",
        "duration_ms",
        "status_code",
        "error",
        "response_excerpt",
        "redelivered_by",
    ]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "event__type", "endpoint"]
    search_fields = ["=public_id", "=event__public_id"]
    list_select_related = ["event", "endpoint"]
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
    actions = ["redeliver"]
    fields = readonly_fields = [
        "public_id",
        "event_link",
        "endpoint",
        "status",
        "attempts",
        "attempt_limit",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "created_at",
        "payload",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Event", ordering="event__type")
    def event_type(self, delivery: Delivery) -> str:
        return delivery.event.type

    @admin.display(description="Event")
    def event_link(self, delivery: Delivery) -> str:
        return format_html("{} ({})", delivery.event.public_id, delivery.event.type)

    @admin.display(description="Body")
    def payload(self, delivery: Delivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(json.loads(delivery.event.body), indent=2, ensure_ascii=False))

    @admin.action(description="Redeliver the selected deliveries", permissions=["change"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet) -> None:
        chosen = list(queryset.values_list("pk", flat=True))
        queued = deliveries.redeliver(chosen, by=request.user.get_username())
        if queued:
            self.message_user(request, f"{queued} queued for another attempt, with the same id and body.")
        if queued < len(chosen):
            self.message_user(
                request, f"{len(chosen) - queued} being sent right now, left alone.", level=messages.WARNING
            )


class DeliveryInline(LogInline):
    model = Delivery
    fields = readonly_fields = ["public_id", "endpoint", "status", "attempts", "last_status_code", "delivered_at"]
    show_change_link = True


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["public_id", "type", "created_at"]
    list_filter = ["type"]
    search_fields = ["=public_id"]
    date_hierarchy = "created_at"
    fields = readonly_fields = ["public_id", "type", "created_at", "pretty_body"]
    inlines = [DeliveryInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Body")
    def pretty_body(self, event: Event) -> str:
        return format_html("<pre>{}</pre>", json.dumps(json.loads(event.body), indent=2, ensure_ascii=False))
