"""Images in messages reaching the model (runtime.engine.prompt through runtime.hooks.image_source,
answered by knowledge.images): as Chat Completions image parts when the model reads images, as a
note when it does not; and /v1 messages may name only their owner's files.

The model is the scripted provider on loopback (tests.runtime.scripted_model): it records the
request it got, the boundary where the engine's work shows."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from knowledge import images
from runtime import runs
from runtime.errors import UnknownFile
from runtime.models import Assistant, Message, Thread
from tests.api import key_client
from tests.knowledge.v1 import error_of, upload
from tests.runtime.scripted_model import ScriptedModel

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def scripted(settings):
    model = ScriptedModel().start()
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = model.base_url
    settings.MODEL_RETRY_BASE_SECONDS = 0.01
    yield model
    model.stop()


@pytest.fixture
def conversation(db) -> Thread:
    assistant = Assistant.objects.create(name="Support", model="gpt-4o-mini", instructions="Help.")
    return Thread.objects.create(assistant=assistant, metadata={"channel": "widget"})


def png(color=(200, 60, 50)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 12), color).save(out, format="PNG")
    return out.getvalue()


def customer_sends_photo(thread: Thread, text: str = "The mug is cracked") -> str:
    photo = images.customer_image_create(thread_public_id=thread.public_id, data=png())
    runs.customer_message_create(thread=thread, text=text, image_file_ids=(photo.public_id,))
    return photo.public_id


def last_user_content(model: ScriptedModel):
    return [m for m in model.requests[-1]["messages"] if m["role"] == "user"][-1]["content"]


def test_a_model_that_reads_images_gets_the_photo_as_an_image_url_part(scripted, conversation, settings):
    settings.MODEL_ACCEPTS_IMAGES = True
    scripted.text("I can see the crack.")

    file_id = customer_sends_photo(conversation)

    text_part, image_part = last_user_content(scripted)
    assert text_part == {"type": "text", "text": "The mug is cracked"}
    assert image_part["type"] == "image_url" and image_part["image_url"]["detail"] == "auto"
    prefix, encoded = image_part["image_url"]["url"].split(",", 1)
    assert prefix == "data:image/png;base64"
    stored = images.access_conversation_image(conversation.public_id, file_id)
    assert base64.b64decode(encoded) == stored.content.open("rb").read()
    assert conversation.messages.filter(role="assistant").get().text == "I can see the crack."


def test_a_model_that_does_not_read_images_gets_a_note_instead(scripted, conversation, settings):
    settings.MODEL_ACCEPTS_IMAGES = False
    scripted.text("Thanks.")

    customer_sends_photo(conversation)

    content = last_user_content(scripted)
    assert content == "The mug is cracked\n\n[Attached: 1 image, which this model cannot see.]"
    assert "base64" not in str(scripted.requests[-1])


def test_a_photo_that_is_gone_is_said_to_be(scripted, conversation, settings):
    settings.MODEL_ACCEPTS_IMAGES = True
    scripted.text("Noted.")
    scripted.text("Noted again.")
    file_id = customer_sends_photo(conversation)
    images.access_conversation_image(conversation.public_id, file_id).delete()
    Message.objects.filter(thread=conversation, role="assistant").delete()

    runs.run_create(thread=conversation, assistant=conversation.assistant)

    assert last_user_content(scripted)[0] == {"type": "text", "text": "[Attached: 1 image no longer available.]"}


def test_the_offline_model_acknowledges_a_photo(conversation, settings):
    settings.OPENAI_API_KEY = ""
    customer_sends_photo(conversation, text="")
    answer = conversation.messages.filter(role="assistant").get().text
    assert answer.startswith("Thanks for the photo")
    assert "Would you like me to connect you with a person" in answer


def test_a_customer_cannot_name_a_photo_of_another_conversation(conversation):
    other = Thread.objects.create(assistant=conversation.assistant, metadata={"channel": "widget"})
    theirs = images.customer_image_create(thread_public_id=other.public_id, data=png())
    with pytest.raises(UnknownFile) as refused:
        runs.customer_message_create(thread=conversation, text="mine?", image_file_ids=(theirs.public_id,))
    assert refused.value.http_status == 400
    assert not conversation.messages.exists()


# --- /v1 ------------------------------------------------------------------------------------------


@pytest.fixture
def acme():
    return key_client("acme")[1]


def image_message(client, thread_id: str, file_id):
    content = [{"type": "text", "text": "What is this?"}, {"type": "image_file", "image_file": {"file_id": file_id}}]
    return client.post(f"/v1/threads/{thread_id}/messages", {"role": "user", "content": content})


def test_v1_messages_may_name_only_their_owners_files(acme, conversation):
    thread_id = acme.post("/v1/threads", {}).json()["id"]
    own = upload(acme, "mug.png", png(), purpose="vision").json()["id"]
    globex = key_client("globex")[1]
    theirs = upload(globex, "mug.png", png(), purpose="vision").json()["id"]
    customers = images.customer_image_create(thread_public_id=conversation.public_id, data=png()).public_id

    assert image_message(acme, thread_id, own).status_code == 200
    for file_id in ("file-doesnotexist", theirs, customers):
        error = error_of(image_message(acme, thread_id, file_id), 400)
        assert error["param"] == "content[1].image_file.file_id"
        assert file_id in error["message"]
    for bad in (None, 42, "", "x" * 65):
        error_of(image_message(acme, thread_id, bad), 400)
    assert Message.objects.filter(thread__public_id=thread_id).count() == 1


def test_v1_a_new_thread_with_an_unknown_image_file_is_refused_whole(acme):
    content = [{"type": "image_file", "image_file": {"file_id": "file-doesnotexist"}}]
    response = acme.post("/v1/threads", {"messages": [{"role": "user", "content": content}]})
    error_of(response, 400)
    assert not Thread.objects.filter(owner__username="acme").exists()
