"""Customers' photos in the console: shown in the conversation, served to support agents only
(/console/images/<file_id>/), and only customers' photos (no other file, whoever asks)."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from PIL import Image

from knowledge import images, services
from knowledge.models import File
from runtime import runs
from tests.agents.conftest import console_url, signed_in, staff_member
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 10), (1, 2, 3)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def photo(thread) -> File:
    """A photo the customer of `thread` attached to a message."""
    file = images.customer_image_create(thread_public_id=thread.public_id, data=png())
    runs.customer_message_create(thread=thread, text="The label is wrong", image_file_ids=(file.public_id,))
    return file


def image_url(file: File) -> str:
    return f"/console/images/{file.public_id}/"


def test_an_agent_sees_the_photo_in_the_conversation_and_gets_it_full_size(agent_client, thread, photo):
    page = agent_client.get(console_url(thread)).content.decode()
    assert f'<img src="{image_url(photo)}" alt="Photo the customer attached"' in page
    assert f'<a href="{image_url(photo)}" target="_blank"' in page

    response = agent_client.get(image_url(photo))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == photo.content.open("rb").read()


def test_anyone_but_an_agent_is_refused(photo):
    assert Client().get(image_url(photo)).status_code == 302  # to the console's login
    customer = UserFactory(username="shopper")
    customer.save()
    assert signed_in(customer).get(image_url(photo)).status_code == 403  # a signed-in non-staff user
    staff_not_agent = staff_member("ops", group=None)
    assert signed_in(staff_not_agent).get(image_url(photo)).status_code == 403


def test_only_customers_photos_are_served_here(agent_client, thread):
    owner = UserFactory(username="acme")
    owner.save()
    api_file = services.output_file_create(owner=owner, filename="chart.png", data=png(), content_type="image/png")
    analyst_chart = services.output_file_create(owner=None, filename="chart.png", data=png(), content_type="image/png")
    help_page = File.objects.create(
        filename="returns.md", purpose="assistants", bytes=3, content_type="text/markdown", sha256="x", help_slug="r"
    )
    help_page.content.save("returns.md", ContentFile(b"abc"))
    for file in (api_file, analyst_chart, help_page):
        assert agent_client.get(image_url(file)).status_code == 404
    assert agent_client.get("/console/images/file-doesnotexist/").status_code == 404
