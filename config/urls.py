from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config.api_docs import api_docs
from widget.demo import demo_home
from widget.views import widget_attachment, widget_attachment_upload, widget_catalogue, widget_session


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """/favicon.ico, which browsers ask for on pages that name no icon (the admin's): our icon."""
    return HttpResponseRedirect(static("shared/favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    path("", demo_home, name="demo-home"),
    path("admin/", admin.site.urls),
    path("console/", include("agents.urls")),
    path("chat/session/", widget_session, name="widget-session"),
    path("chat/i18n/", widget_catalogue, name="widget-catalogue"),
    path("chat/attachments/", widget_attachment_upload, name="widget-attachment-upload"),
    path("chat/attachments/<str:file_id>/", widget_attachment, name="widget-attachment"),
    path("help/", include("knowledge.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("api/", include("orders.api.urls")),
    path("v1/", include("knowledge.api.urls")),  # before the runtime's, whose catch-all answers the rest
    path("v1/", include("runtime.api.urls")),
]

handler400 = "config.errors.bad_request"
handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
