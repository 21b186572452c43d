"""The help centre's public pages (knowledge.views)."""

from django.urls import path

from knowledge import views

urlpatterns = [
    path("", views.help_index, name="help-index"),
    path("files/<str:file_id>/", views.help_source, name="help-source"),
    path("<slug:slug>/", views.help_article, name="help-article"),
]
