"""/v1 routes, exactly OpenAI's Assistants API v2 paths (no trailing slashes; modify is POST)."""

from django.urls import path, re_path

from runtime.api import assistants, messages, runs, threads
from runtime.api.base import unknown_endpoint

urlpatterns = [
    path("assistants", assistants.AssistantsView.as_view(), name="v1-assistants"),
    path("assistants/<str:assistant_id>", assistants.AssistantView.as_view(), name="v1-assistant"),
    path("threads", threads.ThreadsView.as_view(), name="v1-threads"),
    # Before threads/<thread_id>, which "runs" would otherwise match.
    path("threads/runs", runs.ThreadAndRunView.as_view(), name="v1-thread-and-run"),
    path("threads/<str:thread_id>", threads.ThreadView.as_view(), name="v1-thread"),
    path("threads/<str:thread_id>/messages", messages.MessagesView.as_view(), name="v1-messages"),
    path("threads/<str:thread_id>/messages/<str:message_id>", messages.MessageView.as_view(), name="v1-message"),
    path("threads/<str:thread_id>/runs", runs.RunsView.as_view(), name="v1-runs"),
    path("threads/<str:thread_id>/runs/<str:run_id>", runs.RunView.as_view(), name="v1-run"),
    path("threads/<str:thread_id>/runs/<str:run_id>/cancel", runs.RunCancelView.as_view(), name="v1-run-cancel"),
    path(
        "threads/<str:thread_id>/runs/<str:run_id>/submit_tool_outputs",
        runs.SubmitToolOutputsView.as_view(),
        name="v1-run-submit-tool-outputs",
    ),
    path("threads/<str:thread_id>/runs/<str:run_id>/steps", runs.StepsView.as_view(), name="v1-run-steps"),
    path(
        "threads/<str:thread_id>/runs/<str:run_id>/steps/<str:step_id>",
        runs.StepView.as_view(),
        name="v1-run-step",
    ),
    re_path(r"^(?P<path>.*)$", unknown_endpoint, name="v1-unknown"),
]
