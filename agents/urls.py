"""The agent console under /console/ (its live side is the /ws/console/ socket, agents.consumers)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from agents.views import actions, analyst, images, pages

app_name = "console"

urlpatterns = [
    path("", pages.queue, name="queue"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="console/login.html", next_page="console:queue"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
    path("metrics/", pages.metrics, name="metrics"),
    path("conversations/", pages.conversations, name="conversations"),
    path("conversations/<str:thread_id>/", pages.conversation, name="conversation"),
    path("conversations/<str:thread_id>/claim/", actions.claim, name="claim"),
    path("conversations/<str:thread_id>/assign/", actions.assign, name="assign"),
    path("conversations/<str:thread_id>/reply/", actions.reply, name="reply"),
    path("conversations/<str:thread_id>/suggest/", actions.suggest, name="suggest"),
    path("conversations/<str:thread_id>/notes/", actions.add_note, name="add-note"),
    path("conversations/<str:thread_id>/tags/", actions.add_tag, name="add-tag"),
    path("conversations/<str:thread_id>/tags/remove/", actions.remove_tag, name="remove-tag"),
    path("conversations/<str:thread_id>/hand-back/", actions.hand_back, name="hand-back"),
    path("conversations/<str:thread_id>/resolve/", actions.resolve, name="resolve"),
    path("conversations/<str:thread_id>/escalate/", actions.escalate, name="escalate"),
    path(
        "conversations/<str:thread_id>/returns/<int:return_id>/approve/",
        actions.decide_return,
        {"decision": "approve"},
        name="approve-return",
    ),
    path(
        "conversations/<str:thread_id>/returns/<int:return_id>/reject/",
        actions.decide_return,
        {"decision": "reject"},
        name="reject-return",
    ),
    path("approvals/<int:approval_id>/decide/", actions.decide_approval, name="decide-approval"),
    path("images/<str:file_id>/", images.customer_image, name="customer-image"),
    path("settings/", pages.assistant_settings, name="settings"),
    path("settings/assistant/", actions.save_assistant_settings, name="save-settings"),
    path("knowledge/", pages.knowledge, name="knowledge"),
    path("knowledge/files/", pages.knowledge_files, name="knowledge-files"),
    path("knowledge/upload/", actions.knowledge_upload, name="knowledge-upload"),
    path("knowledge/files/<str:file_id>/remove/", actions.knowledge_remove, name="knowledge-remove"),
    path("analyst/", analyst.page, name="analyst"),
    path("analyst/ask/", analyst.ask, name="analyst-ask"),
    path("analyst/runs/<str:run_id>/", analyst.run, name="analyst-run"),
    path("analyst/charts/<str:file_id>/", analyst.chart, name="analyst-chart"),
    path("analyst/files/<str:file_id>/", analyst.download, name="analyst-file"),
    path("analyst/start-over/", analyst.start_over, name="analyst-start-over"),
]
