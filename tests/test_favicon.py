"""Every page has the icon, and /favicon.ico (which browsers ask for on pages that name none, like
the admin's) is not a 404."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_favicon_ico_leads_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("shared/favicon.svg")
    assert finders.find("shared/favicon.svg")


@pytest.mark.parametrize("path", ["/console/login/", "/help/"])
def test_pages_name_the_icon(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert b'rel="icon" href="/static/shared/favicon.svg"' in response.content
