"""Who may open a console page or act, and how an action answers (JSON for the console's script,
a redirect with a message for a plain form).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from agents.analyst.threads import without_analyst_threads
from agents.permissions import is_agent, is_supervisor
from common.errors import DomainError, InvalidInput
from runtime.models import Thread


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "") or request.content_type == "application/json"


def _refuse(request: HttpRequest, message: str) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"error": {"code": "permission_denied", "message": message}}, status=403)
    return render(request, "console/forbidden.html", {"message": message}, status=403)


def console_access(*, supervisor: bool = False) -> Callable:
    """Signed-in staff in the Agents group (or Supervisors, with `supervisor`); others get a 403.

    Anonymous visitors go to the console's login page (JSON callers get a 401).
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                if wants_json(request):
                    return JsonResponse(
                        {"error": {"code": "not_authenticated", "message": "Sign in to the console."}}, status=401
                    )
                return redirect_to_login(request.get_full_path(), reverse("console:login"))
            if not is_agent(user):
                return _refuse(request, "The console is for support agents and supervisors.")
            if supervisor and not is_supervisor(user):
                return _refuse(request, "Only supervisors can see this.")
            if request.method == "POST":
                try:
                    request.console_fields = _fields(request)
                except InvalidInput as error:
                    return JsonResponse({"error": {"code": error.code, "message": error.message}}, status=400)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


agent_required = console_access()
supervisor_required = console_access(supervisor=True)


def posted(request: HttpRequest) -> dict[str, str]:
    """The action's fields, from a form post or a JSON body (read and checked by console_access)."""
    return request.console_fields


def _fields(request: HttpRequest) -> dict[str, str]:
    """A form's fields, or a JSON object's, as text: a JSON value must be a string or a number."""
    if request.content_type != "application/json":
        return request.POST.dict()
    try:
        body = json.loads(request.body or b"{}")  # UTF-8 and storable text: config.middleware saw to it
    except json.JSONDecodeError:
        raise InvalidInput("Send a JSON object.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidInput("Send a JSON object.", code="invalid_json")
    for name, value in body.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float | None):
            raise InvalidInput(f"'{name}' must be a string.", param=name)
    return {name: "" if value is None else str(value) for name, value in body.items()}


def access_thread(thread_id: str) -> Thread:
    """A customer conversation by its public id; the Analyst's threads are not conversations (404)."""
    threads = without_analyst_threads(Thread.objects.select_related("customer", "assistant"))
    return get_object_or_404(threads, public_id=thread_id)


def back_to(request: HttpRequest, fallback: str) -> str:
    """Where a plain form returns to: its `next` field when it is one of ours, else `fallback`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


def done(request: HttpRequest, *, message: str, fallback: str, data: dict | None = None) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"ok": True, "message": message, **(data or {})})
    messages.success(request, message)
    return redirect(back_to(request, fallback))


def failed(request: HttpRequest, error: DomainError, *, fallback: str) -> HttpResponse:
    if wants_json(request):
        body = {"code": error.code, "message": error.message, **({"param": error.param} if error.param else {})}
        return JsonResponse({"error": body}, status=error.http_status)
    if error.http_status == 403:
        return render(request, "console/forbidden.html", {"message": error.message}, status=403)
    messages.error(request, error.message)
    return redirect(back_to(request, fallback))
