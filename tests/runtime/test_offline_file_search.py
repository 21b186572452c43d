"""The offline model answering from the shop's documents through file_search, driven through the real openai SDK.

Like test_offline_model (whose client fixture, in-process and over loopback HTTP, and helpers these
tests reuse), with a tiny fake search over a few help articles that answers in file_search's shape:
passages with markers (【0:1†returns.md】), or no results and `covered: false`. The last tests ask
the demo help centre through the real file_search (its search and the offline model's embeddings).
"""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.management import call_command

from knowledge.help_centre import help_centre_store
from knowledge.models import UnansweredQuestion
from knowledge.tools import file_search
from offline_model import phrasing
from runtime.models import Thread
from runtime.tools.context import ToolContext
from tests.runtime import test_offline_model as sdk_tests
from tests.runtime.test_offline_model import CONCIERGE_TOOLS, MODEL, Chat, concierge_shop, stream

# The SDK client, in-process and over the loopback server, as test_offline_model drives it.
client = sdk_tests.client
loopback = sdk_tests.loopback

FILE_SEARCH = {
    "type": "function",
    "function": {
        "name": "file_search",
        "description": (
            "Search the shop's documents (help articles, policies) for passages that answer the customer's "
            "question. Answer from the passages found, quoting each passage's marker (like 【0:1†returns.md】) "
            "right after what it supports. If nothing relevant is found, say the documents don't cover it."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for, in a few words.", "maxLength": 1000}
            },
            "required": ["query"],
            "additionalProperties": False,
        },
    },
}
TOOLS = [FILE_SEARCH, *CONCIERGE_TOOLS]

# The shop's help articles, one passage each, with the words the fake search finds them by.
PASSAGES = [
    {
        "filename": "returns.md",
        "title": "Returns and refunds",
        "heading": "Return window",
        "topics": {"return", "returns", "policy"},
        "text": (
            "You can return most items within 30 days of delivery. Items must be unused and in their "
            "original packaging. Sale items are final and cannot be returned."
        ),
    },
    {
        "filename": "refunds.md",
        "title": "Refunds",
        "heading": "When you get your money back",
        "topics": {"refund", "refunds"},
        "text": (
            "Once your parcel reaches our warehouse, we check it within 2 business days. "
            "Refunds are issued to your original payment method within 5 business days of approval."
        ),
    },
    {
        "filename": "refunds.md",
        "title": "Refunds",
        "heading": "Gift cards and shipping costs",
        "topics": {"refunds"},
        "text": "Refunds for orders paid with a gift card go back to the gift card.",
    },
    {
        "filename": "shipping.md",
        "title": "Shipping",
        "heading": "Where we ship",
        "topics": {"ship", "shipping", "canada", "kingdom"},
        "text": (
            "## Where we ship\n"
            "We ship to the United States, Canada and the United Kingdom.\n"
            "Orders to Canada arrive in 5–8 business days. Shipping to the United Kingdom takes 7–10 business days.\n"
            "- Free shipping on orders over $50."
        ),
    },
    {
        "filename": "payments.md",
        "title": "Payments",
        "heading": "Ways to pay",
        "topics": {"payment", "paypal"},
        "text": "We accept Visa, Mastercard and PayPal. We do not accept cheques.",
    },
]


class Shop:
    """Concierge's order tools, and a file_search over PASSAGES numbering its markers per search."""

    def __init__(self):
        self.searches = 0

    def __call__(self, name: str, args: dict) -> dict:
        if name != "file_search":
            return concierge_shop(name, args)
        number, self.searches = self.searches, self.searches + 1
        words = set(args["query"].lower().split())
        found = sorted(
            (passage for passage in PASSAGES if passage["topics"] & words),
            key=lambda passage: -len(passage["topics"] & words),
        )
        results = [
            {
                "marker": f"【{number}:{index}†{passage['filename']}】",
                "file_id": "file-" + passage["filename"].removesuffix(".md"),
                "filename": passage["filename"],
                "title": passage["title"],
                "score": round(0.7 - 0.05 * index, 2),
                "page": None,
                "heading": passage["heading"],
                "text": passage["text"],
            }
            for index, passage in enumerate(found)
        ]
        return {
            "query": args["query"],
            "ranking_options": {"ranker": "auto", "score_threshold": 0.25},
            "results": results,
            "covered": bool(results),
        }


def shop_chat(client, tools=TOOLS, **options) -> Chat:
    return Chat(client, tools, Shop(), **options)


NOT_COVERED = phrasing.not_covered()
MARKER_RE = re.compile(r"【\d+:\d+†[^】]+】")


# --- when to search -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "query"),
    [
        ("What is your return policy?", "return policy"),
        ("Do you ship to Canada?", "ship canada"),
        ("How long do refunds take?", "how long refunds"),
        ("What payment methods do you accept?", "payment methods accept"),
        ("Do you accept PayPal?", "accept paypal"),
        ("How long does delivery take to the UK?", "how long delivery uk"),
        ("What are your opening hours?", "opening hours"),
    ],
)
def test_a_question_about_the_shop_searches_its_documents_in_a_few_words(client, question, query):
    said = shop_chat(client).say(question)

    assert said.calls == [("file_search", {"query": query})]


@pytest.mark.parametrize(
    "message",
    [
        "Where is my order A1001? alice@example.com",
        "When will my parcel arrive?",
        "I want to return the mug from A1001, it arrived broken. alice@example.com",
        "Can I return it?",
        "Please cancel order A1002, alice@example.com",
        "How long will my refund take?",
        "show me my orders",
    ],
)
def test_a_question_about_the_customers_order_goes_to_the_order_tools_as_before(client, message):
    with_search = shop_chat(client).say(message)
    without = shop_chat(client, tools=CONCIERGE_TOOLS).say(message)

    assert "file_search" not in [name for name, _ in with_search.calls]
    assert (with_search.calls, with_search.text) == (without.calls, without.text)


def test_an_order_lookup_still_calls_get_order_status(client):
    said = shop_chat(client).say("What's the status of order A1001? alice@example.com")

    assert said.calls == [("get_order_status", {"order_number": "A1001", "email": "alice@example.com"})]
    assert "**A1001** is **Delivered**" in said.text


@pytest.mark.parametrize(
    "message", ["Do you ship to Canada?", "What is your return policy?", "How long do refunds take?", "hours?"]
)
def test_without_file_search_the_model_answers_as_before(client, message):
    said = shop_chat(client, tools=CONCIERGE_TOOLS).say(message)

    assert said.calls == []
    assert "【" not in said.text
    if message == "Do you ship to Canada?":
        assert said.text == phrasing.unanswered()  # read, but nothing to answer it from: said so, a person offered
    if message == "How long do refunds take?":
        assert "order number" in said.text


# --- answers ---------------------------------------------------------------------------------------


def test_the_answer_quotes_the_passage_and_carries_its_marker_exactly(client):
    said = shop_chat(client).say("What is your return policy?")

    assert said.text == (
        "Here's what our help articles say: You can return most items within 30 days of delivery.【0:0†returns.md】"
    )


def test_only_the_sentences_sharing_the_most_words_with_the_question_are_quoted(client):
    said = shop_chat(client).say("Do you ship to Canada?")

    assert said.text == (
        "Here's what our help articles say: We ship to the United States, Canada and the United Kingdom."
        "【0:0†shipping.md】"
    )


def test_a_second_passage_about_the_same_thing_is_quoted_with_its_own_marker(client):
    said = shop_chat(client).say("How long do refunds take?")

    assert said.text == (
        "Here's what our help articles say:\n\n"
        "- Refunds are issued to your original payment method within 5 business days of approval.【0:0†refunds.md】\n"
        "- Refunds for orders paid with a gift card go back to the gift card.【0:1†refunds.md】"
    )


def test_every_quoted_sentence_is_in_the_passage_its_marker_names(client):
    chat = shop_chat(client)
    for question in ("What is your return policy?", "How long do refunds take?", "Do you accept PayPal?"):
        said = chat.say(question)
        results = json.loads(chat.messages[-2]["content"])["results"]
        texts = {result["marker"]: " ".join(result["text"].split()) for result in results}
        pieces = re.split(f"({MARKER_RE.pattern})", said.text.removeprefix("Here's what our help articles say:"))
        cited = list(zip(pieces[0::2], pieces[1::2], strict=False))
        assert cited
        for quote, marker in cited:
            sentences = re.split(r"(?<=[.!?])\s+", quote.strip().removeprefix("- "))
            assert all(sentence in texts[marker] for sentence in sentences), (quote, marker)


def test_nothing_found_says_the_documents_do_not_cover_it_and_yes_brings_a_person(client):
    chat = shop_chat(client)

    said = chat.say("Do you sell gift wrapping?")
    assert said.calls == [("file_search", {"query": "sell gift wrapping"})]
    assert said.text == NOT_COVERED
    assert "connect you with a person" in said.text

    escalated = chat.say("yes please")
    assert [name for name, _ in escalated.calls] == ["escalate_to_human"]
    assert "Do you sell gift wrapping?" in escalated.calls[0][1]["reason"]
    assert "will join" in escalated.text


def test_a_passage_that_does_not_answer_the_point_is_quoted_as_it_stands(client):
    said = shop_chat(client).say("Do you ship to Mars?")

    assert said.calls == [("file_search", {"query": "ship mars"})]
    assert said.text == (
        "Here's what our help articles say: We ship to the United States, Canada and the United Kingdom."
        "【0:0†shipping.md】"
    )


def test_a_question_the_model_cannot_place_tries_the_documents_then_says_honestly_they_do_not_cover_it(client):
    said = shop_chat(client).say("Can you recommend a good red wine?")

    assert said.calls == [("file_search", {"query": "recommend good red wine"})]
    assert said.text == NOT_COVERED


def test_a_follow_up_searches_again_with_the_topic_of_the_earlier_question(client):
    chat = shop_chat(client)
    chat.say("Do you ship to the United Kingdom?")

    said = chat.say("and for Canada?")

    assert said.calls == [("file_search", {"query": "ship canada"})]
    assert said.text.endswith("Canada and the United Kingdom.【1:0†shipping.md】")


def test_a_question_about_the_shop_while_a_return_waits_for_the_email_is_answered_then_the_return_goes_on(client):
    chat = shop_chat(client)
    assert "email address" in chat.say("I'd like to return something from order A1001").text

    answer = chat.say("How long do refunds take?")
    assert answer.calls == [("file_search", {"query": "how long refunds"})]
    assert "【0:0†refunds.md】" in answer.text

    back = chat.say("alice@example.com")
    assert back.calls == [("get_order_status", {"order_number": "A1001", "email": "alice@example.com"})]
    assert "Which item" in back.text


def test_a_question_about_the_shop_after_a_lookup_that_found_nothing_is_searched_not_looked_up_again(client):
    chat = shop_chat(client)
    assert "No order A1009 was found" in chat.say("Where is order A1009? alice@example.com").text

    said = chat.say("Do you sell gift wrapping?")

    assert said.calls == [("file_search", {"query": "sell gift wrapping"})]
    assert said.text == NOT_COVERED


def test_a_non_streamed_answer_carries_the_same_marker(client):
    messages = [
        {"role": "user", "content": "Do you accept PayPal?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "file_search", "arguments": '{"query": "accept paypal"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": json.dumps(Shop()("file_search", {"query": "paypal"}))},
    ]

    completion = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    streamed = stream(client, messages, tools=TOOLS)

    content = completion.choices[0].message.content
    assert content == "Here's what our help articles say: We accept Visa, Mastercard and PayPal.【0:0†payments.md】"
    assert streamed.text == content


def test_the_search_s_first_passage_is_quoted_even_when_another_shares_the_question_s_words(client):
    """The search ranks by meaning as well as words: its first passage is the answer it found, though
    a later one may share more of the question's words, or score higher."""
    refunds = "Refunds are issued to your original payment method within 5 business days of approval."
    gift_cards = "Gift cards cannot be exchanged for money, and you cannot get them back once used."
    results = [
        {"marker": "【0:0†refunds.md】", "filename": "refunds.md", "score": 0.44, "heading": None, "text": refunds},
        {"marker": "【0:1†payments.md】", "filename": "payments.md", "score": 0.5, "heading": None, "text": gift_cards},
    ]
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "file_search", "arguments": '{"query": "money back"}'},
    }
    messages = [
        {"role": "user", "content": "How do I get my money back?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": json.dumps({"results": results, "covered": True})},
    ]

    completion = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)

    assert completion.choices[0].message.content == f"Here's what our help articles say: {refunds}【0:0†refunds.md】"


# --- the demo help centre, through the real file_search --------------------------------------------


@pytest.fixture
def help_centre(transactional_db):
    """The shop's tools, with file_search searching the demo help centre as a widget's thread would."""
    call_command("seed_help_centre", "--force", stdout=io.StringIO())
    resources = {"file_search": {"vector_store_ids": [help_centre_store().public_id]}}
    context = ToolContext(thread=Thread.objects.create(tool_resources=resources))

    def shop(name: str, args: dict) -> dict:
        return file_search(context, args) if name == "file_search" else concierge_shop(name, args)

    return shop


def test_the_return_policy_is_answered_with_the_policy_s_sentence_not_its_headings(client, help_centre):
    said = Chat(client, TOOLS, help_centre).say("What is your return policy?")

    assert said.calls == [("file_search", {"query": "return policy"})]
    assert said.text == (
        "Here's what our help articles say: You can return most items within 30 days of delivery.【0:0†returns.md】"
    )


def test_a_question_in_other_words_than_the_articles_finds_the_sentence_that_answers(client, help_centre):
    said = Chat(client, TOOLS, help_centre).say("How do I get my money back?")

    assert said.calls == [("file_search", {"query": "money back"})]
    assert said.text == (
        "Here's what our help articles say: Once we receive your return, we refund the item's price to your "
        "original payment method within 5 business days.【0:0†returns.md】"
    )


def test_a_question_the_help_centre_does_not_cover_is_said_so_with_a_person_offered(client, help_centre):
    said = Chat(client, TOOLS, help_centre).say("Who won the football match last night?")

    assert said.calls == [("file_search", {"query": "football match last night"})]
    assert said.text == NOT_COVERED
    assert list(UnansweredQuestion.objects.values_list("question", "reason")) == [
        ("football match last night", UnansweredQuestion.Reason.NOTHING_FOUND)
    ]
