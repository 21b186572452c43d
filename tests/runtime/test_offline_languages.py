"""The offline model in the customer's language, through the real path: the thread's language (as the
widget app notes it), the prompt fact that names it, the engine, the offline model over the openai
SDK, the shop's tools. German, French and Spanish for its fixed phrases; an honest note where not.
"""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from PIL import Image

from agents.models import Escalation
from knowledge import images
from offline_model import phrasing
from offline_model.languages import gloss, language_in, translate
from orders.assistant.persona import ensure_demo_assistant
from orders.models import Return
from runtime import runs
from runtime.models import Message, Run, Thread
from tests.factories import ProductFactory, delivered_order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def a1001(alice, mug):
    napkins = ProductFactory(sku="NAP-4", name="Linen Napkins", price=Decimal("9.00"))
    return delivered_order(customer=alice, number="A1001", items=[(2, mug), (1, napkins)])


def chat(language: str) -> Thread:
    """An anonymous visitor's widget conversation whose language the widget app noted."""
    assistant, _ = ensure_demo_assistant()
    return Thread.objects.create(assistant=assistant, metadata={"channel": "widget", "language": language})


def says(thread: Thread, text: str) -> str:
    runs.message_create(thread=thread, role="user", content=text, author=Message.Author.CUSTOMER)
    run = runs.run_create(thread=thread, assistant=thread.assistant)
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED, run.last_error
    return thread.messages.filter(role=Message.Role.ASSISTANT).order_by("id").last().text


ONLY_ENGLISH_NOTE = "nur auf Englisch"


def test_a_german_greeting_is_answered_in_german(a1001):
    answer = says(chat("de"), "Hallo")

    assert answer.startswith("Hallo! Ich bin der virtuelle Assistent des Shops.")
    assert "Wie kann ich Ihnen heute helfen?" in answer
    assert "How can I help" not in answer


def test_a_german_order_question_is_answered_in_german(a1001):
    answer = says(chat("de"), "Wo ist meine Bestellung A1001? Meine E-Mail ist alice@example.com")

    assert answer.startswith("Bestellung **A1001**: **zugestellt**")
    assert "- 2 × Ceramic Mug" in answer  # the shop's product names stay as they are
    assert ONLY_ENGLISH_NOTE not in answer


def test_a_german_order_question_without_the_email_asks_for_it_in_german_and_goes_on(a1001):
    thread = chat("de")

    asked = says(thread, "Wo ist meine Bestellung A1001?")
    answer = says(thread, "alice@example.com")

    assert "Welche E-Mail-Adresse" in asked
    assert answer.startswith("Bestellung **A1001**: **zugestellt**")


def test_a_german_return_goes_through_in_german(a1001):
    thread = chat("de")

    reason = says(
        thread, "Ich möchte die Linen Napkins aus Bestellung A1001 zurückgeben. Meine E-Mail ist alice@example.com"
    )
    confirm = says(thread, "Sie sind beschädigt")
    done = says(thread, "Ja, bitte")

    assert "Was ist der Grund für die Rücksendung von Linen Napkins?" in reason
    assert (
        confirm
        == "Soll ich eine Rücksendung für **1 × Linen Napkins** aus Bestellung **A1001** (Grund: defekt) anlegen?"
    )
    assert done.startswith("Erledigt! Ich habe die Rücksendung **#")
    returned = Return.objects.get()
    assert (returned.item.name, returned.reason) == ("Linen Napkins", "defective")


def test_a_german_request_for_a_person_hands_the_conversation_over(a1001):
    thread = chat("de")

    answer = says(thread, "Ich möchte mit einem Menschen sprechen")

    assert answer == "Gleich meldet sich hier jemand aus unserem Support-Team."
    # The person who takes over reads what the customer wrote, not the words the model read it as.
    assert "Ich möchte mit einem Menschen sprechen" in Escalation.objects.get(thread=thread).reason


def test_what_it_cannot_understand_in_german_it_says_so_in_german_and_offers_a_person(a1001):
    thread = chat("de")

    answer = says(thread, "Das Wetter ist heute wirklich schön, oder?")
    accepted = says(thread, "Ja")

    assert "Auf Deutsch verstehe ich nur einfache Anliegen" in answer
    assert answer.endswith("Möchten Sie, dass ich Sie mit einer Person aus unserem Team verbinde?")
    assert accepted == "Gleich meldet sich hier jemand aus unserem Support-Team."
    assert Escalation.objects.filter(thread=thread).exists()


@pytest.mark.parametrize(
    ("language", "hello", "greeting", "question", "status"),
    [
        (
            "fr",
            "Bonjour",
            "Bonjour ! Je suis l'assistant virtuel",
            "Où est ma commande A1001 ?",
            "Commande **A1001** : **livrée**",
        ),
        (
            "es",
            "Hola",
            "¡Hola! Soy el asistente virtual",
            "¿Dónde está mi pedido A1001?",
            "Pedido **A1001**: **entregado**",
        ),
    ],
)
def test_french_and_spanish_customers_get_its_phrases_in_their_language(
    a1001, language, hello, greeting, question, status
):
    thread = chat(language)

    assert says(thread, hello).startswith(greeting)
    asked = says(thread, question)
    answer = says(thread, "alice@example.com")

    assert "e-mail" in asked or "correo electrónico" in asked
    assert answer.startswith(status)


def test_a_language_it_has_no_phrases_for_is_answered_in_english(a1001):
    assert says(chat("it"), "Hello").startswith("Hi there! I'm the shop's virtual assistant.")


# --- the pieces ---------------------------------------------------------------------------------


def test_it_reads_the_language_from_the_system_prompts_line():
    line = "Customer's language: German (de). Always answer in German, whatever the language of these instructions."

    assert language_in(f"You help customers.\n\n{line}") == "de"
    assert language_in("You help customers.") == "en"
    assert language_in("Customer's language: Italian (it). Always answer in Italian.") == "en"


def test_reading_german_words_as_english_leaves_email_addresses_alone():
    read = gloss("Hallo, wo ist meine Bestellung A1001? Meine E-Mail ist mein.name@example.de", "de")

    assert read.startswith("hello, where is my order A1001?")
    assert read.endswith("mein.name@example.de")


def test_a_part_it_can_only_say_in_english_gets_a_note_offering_a_person():
    tool_message = "No order A9999 was found for that email address. "
    answer = translate(
        tool_message + "Could you double-check the order number? It's in your order confirmation email.", "de"
    )

    assert answer.startswith("No order A9999 was found for that email address. Könnten Sie die Bestellnummer")
    assert answer.endswith("Möchten Sie, dass ich Sie mit einer Person aus unserem Team verbinde?")
    assert "offer_human" in phrasing.asked_in(answer)


@pytest.mark.parametrize("language", ["de", "fr", "es"])
def test_its_translated_questions_are_read_back_as_the_questions_they_are(language):
    questions = {
        "email": phrasing.ask_for(["email"], "A1001"),
        "order_number": phrasing.ask_for(["order_number"], None),
        "item": phrasing.ask_item([], "A1001"),
        "reason": phrasing.ask_reason("Linen Napkins"),
        "confirm_return": phrasing.confirm_return(1, "Linen Napkins", "A1001", "defective"),
        "confirm_cancel": phrasing.confirm_cancel("A1001"),
        "offer_human": phrasing.apology_with_offer(),
    }
    for slot, english in questions.items():
        worded = translate(english, language)
        assert worded != english, slot
        assert slot in phrasing.asked_in(worded), (slot, worded)
    assert phrasing.is_fallback(translate(phrasing.FALLBACK, language))


def test_a_photo_is_acknowledged_in_the_customers_language(a1001):
    thread = chat("de")
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 60, 50)).save(buffer, format="PNG")
    photo = images.customer_image_create(thread_public_id=thread.public_id, data=buffer.getvalue())
    runs.customer_message_create(thread=thread, text="", image_file_ids=(photo.public_id,))

    answer = thread.messages.filter(role=Message.Role.ASSISTANT).get().text

    assert answer.startswith("Danke für das Foto: Ich habe es diesem Gespräch hinzugefügt")
    assert "kann sich eine Person aus unserem Team darum kümmern" in answer
    assert "Thanks for the photo" not in answer and ONLY_ENGLISH_NOTE not in answer
