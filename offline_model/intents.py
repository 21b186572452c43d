"""What a customer's message asks for, read from its words.

Each intent is a handful of patterns; a message may carry several (a greeting and an order question).
"""

from __future__ import annotations

import re
from enum import StrEnum


class Intent(StrEnum):
    GREETING = "greeting"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    STATUS = "status"
    TRACKING = "tracking"
    RETURN = "return"
    CANCEL = "cancel"
    LIST_ORDERS = "list_orders"
    HUMAN = "human"
    FRUSTRATION = "frustration"
    CONFUSION = "confusion"
    POLICY_QUESTION = "policy_question"
    YES = "yes"
    NO = "no"
    WITHDRAW = "withdraw"  # a request that waits for a colleague's approval, no longer wanted


# The tasks the assistant can carry out, most specific first: "return the mug from my order"
# is a return, "when will my order arrive" is tracking.
TASKS = (Intent.RETURN, Intent.CANCEL, Intent.TRACKING, Intent.LIST_ORDERS, Intent.STATUS)

PATTERNS: dict[Intent, tuple[str, ...]] = {
    Intent.GREETING: (
        r"^\W*(hi|hello|hey|hiya|howdy|greetings|yo|hallo|bonjour|hola)\b",
        r"^\W*good (morning|afternoon|evening|day)\b",
    ),
    Intent.THANKS: (r"\b(thanks|thank (you|u)|thx|ty|cheers|appreciate[sd]?|much appreciated)\b",),
    Intent.GOODBYE: (
        r"\b(bye|goodbye|see (you|ya)|that'?s all|that is all|nothing else)\b",
        r"\bhave a (nice|good|great) (day|one|evening|weekend)\b",
    ),
    Intent.STATUS: (
        r"\bstatus\b",
        r"\b(check|look ?up|find|see|update on|news on|info on|details of)\b.{0,20}\border\b",
        r"\border\b.{0,30}\b(shipped|dispatched|sent out|processed|ready|confirmed|placed|going|happening)\b",
        r"\b(where'?s|where is|what'?s happening with|what happened to)\b.{0,12}\border\b",
        r"\bmy order\b",
    ),
    Intent.TRACKING: (
        r"\btrack(ing|ed)?\b",
        r"\b(parcel|package|shipment|courier|carrier)\b",
        r"\bdeliver(y|ed|ing)?\b",
        r"\barriv(e|ed|al|es|ing)\b",
        r"\bwhen (will|do|does|should|can)\b.{0,30}\b(get|come|receive|be here|reach)\b",
        r"\b(hasn'?t|has not|haven'?t|have not|never|still not|not yet)\b.{0,15}"
        r"\b(come|arrived|received|got|shown up)\b",
    ),
    Intent.RETURN: (
        r"\breturn(s|ing|ed)?\b",
        r"\bsend(ing)? (it|them|this|these|that|those|\w+)? ?back\b",
        r"\brefund",
        r"\b(broken|damaged|defective|faulty|cracked|smashed|shattered)\b",
        r"\b(doesn'?t|does not|don'?t|do not|isn'?t|is not) (work|fit)\b|\bnot working\b|\bstopped working\b",
        r"\bwrong (size|item|colou?r|product|one|thing)\b",
        r"\btoo (big|small|large|tight|loose|short|long)\b",
        r"\bexchange\b",
    ),
    # A bare "cancel" answers a question (NO); cancelling an order names the order.
    Intent.CANCEL: (
        r"\bcancel\w*\b.{0,25}\b(order|purchase)\b",
        r"\b(order|purchase)\b.{0,25}\bcancel\w*",
        r"\bcancel (it|that|this)\b",
    ),
    Intent.LIST_ORDERS: (
        r"\b(my|all|recent|past|previous|last|open) orders\b",
        r"\border history\b",
        r"\blist\b.{0,20}\borders\b",
        r"\bwhat (did|have) i (order|ordered|bought|buy)\b",
        r"\bwhich orders\b",
    ),
    Intent.HUMAN: (
        r"\b(talk|speak|chat|connect|transfer|put)\b.{0,25}\b(person|human|agent|someone|somebody|representative|rep|"
        r"operator|staff|manager|team|people)\b",
        r"\b(real|actual|live) (person|human|agent|people)\b",
        r"\bhuman\b",
        r"\b(agent|representative|operator|supervisor)\b",
    ),
    Intent.FRUSTRATION: (
        r"\b(useless|ridiculous|stupid|terrible|awful|horrible|worst|pathetic|absurd|unacceptable|annoying|annoyed|"
        r"frustrat\w*|angry|furious|fed up|waste of (my )?time|not helpful|unhelpful|joke|wtf|damn|hate|rubbish|"
        r"garbage|nonsense|incompetent)\b",
        r"!{2,}",
        r"\?{3,}",
        r"\bnot (listening|understanding)\b",
    ),
    Intent.CONFUSION: (
        r"\b(confus\w*|don'?t understand|do not understand|what do you mean|makes no sense|huh)\b",
        r"^\W*\?+\W*$",
    ),
    Intent.POLICY_QUESTION: (
        r"\b(polic(y|ies)|warranty|guarantee|terms and conditions|how long do i have|how many days|do you ship|"
        r"ship(ping)? (to|abroad|internationally|costs?|fees?|times?|options)|international(ly)?|opening hours|"
        r"payment methods?|gift ?cards?|price match)\b",
    ),
    Intent.YES: (
        r"^\W*(yes|yeah|yep|yup|ya|sure|ok|okay|alright|please do|go ahead|do it|confirm(ed)?|correct|absolutely|"
        r"definitely|of course|sounds good|y|please|that'?s right|right|affirmative|fine)\b",
    ),
    Intent.NO: (r"^\W*(no|nope|nah|not now|never ?mind|don'?t|do not|cancel|stop|not really)\b",),
    # Acted on only while a request of the customer's waits for approval (task_steps.Tasks.withdraw).
    Intent.WITHDRAW: (
        r"\bwithdraw\w*\b",
        r"\b(cancel\w*|drop|scrap|call off|forget( about)?)\b.{0,30}\b(request|approval|return|refund)\b",
        r"\b(never ?mind|don'?t want|do not want|no longer (want|need))\b.{0,30}\b(request|return|refund)\b",
    ),
}

COMPILED = {intent: tuple(re.compile(p, re.IGNORECASE) for p in patterns) for intent, patterns in PATTERNS.items()}
SHOUTED_WORD_RE = re.compile(r"\b[A-Za-z]{2,}\b")
QUESTION_RE = re.compile(r"\?|^\s*(how|what|when|where|why|can|could|do|does|is|are|which|who|will|would)\b", re.I)
QUESTION_START_RE = re.compile(
    r"^\W*(how|what|what'?s|when|where|why|can|could|do|does|did|is|are|which|who|will|would|should|may)\b", re.I
)
WORD_RE = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
# The subjects of a shop's help articles and policies, one word at a time.
HELP_TOPIC_RE = re.compile(
    r"polic(y|ies)|returns?|returning|refunds?|refunded|exchanges?|ship(s|ped|ping)?|shipments?|deliver(y|ies|s)?|"
    r"postage|couriers?|customs|duties|duty|imports?|tax(es)?|vat|abroad|international(ly)?|countries|worldwide|"
    r"overseas|warrant(y|ies)|guarantees?|pay|payments?|paypal|klarna|afterpay|cards?|cash|invoices?|"
    r"instal?lments?|privacy|data|cookies|gdpr|open|opening|hours|closed|holidays?|stores?|showroom|locations?|"
    r"phone|contact|sizes?|sizing|gifts?|wrap(ping)?|discounts?|coupons?|promo|vouchers?|sales?|prices?|pricing|"
    r"costs?|fees?|free|newsletter|accounts?|loyalty|points|rewards?|students?|wholesale|bulk|stock|restock(ing)?|"
    r"pre-?orders?|sustainab\w*|materials?|care|cancellations?",
    re.IGNORECASE,
)
# What makes a message about the customer's own order rather than about how the shop works: their
# order ("my parcel", but not "my data"), a thing already named ("return it", "cancel the order"),
# a parcel on its way ("when will it arrive"), a request to act, a purchase made.
OWN_ORDER_RE = re.compile(
    r"\b(my|mine)\b(?!\s+(personal\s+)?(data|information|info|details|privacy|account|password|newsletter)\b)"
    r"|\b(return|send|cancel|exchange|track|refund)\s+(it|them|this|that|these|those|the)\b"
    r"|\b(where'?s|where is|when will|when does|when is|has|hasn'?t|have|haven'?t|did|didn'?t|will|won'?t|is|isn'?t)"
    r"\s+(it|they)\s+(arriv\w*|com\w*|get|be here|be delivered|be shipped|ship\w*|reach\w*|turn\w* up|show\w* up)\b"
    r"|\b(i want|i wanna|i'?d like|i would like|i need|please|can you|could you|would you|help me)\b(\s+to)?"
    r"(\s+(a|an|my))?\s+(return|cancel|track|refund|exchange|send|check|look)\b"
    r"|\bi\s+(have\s+|'ve\s+)?(ordered|bought|purchased|received|paid)\b",
    re.IGNORECASE,
)


def is_shouting(text: str) -> bool:
    """Three or more words, (nearly) all in capitals: "WHERE IS MY ORDER"."""
    text = re.sub(r"\S+@\S+", " ", text)  # an email address is typed in lower case even when shouting
    words = SHOUTED_WORD_RE.findall(text)
    if len(words) < 3:
        return False
    shouted = sum(1 for word in words if word.isupper())
    return shouted / len(words) >= 0.8


def detect(text: str) -> set[Intent]:
    intents = {intent for intent, patterns in COMPILED.items() if any(p.search(text) for p in patterns)}
    if is_shouting(text):
        intents.add(Intent.FRUSTRATION)
    # "I do not want to talk to a human" is no request for one; "no, I want a human" is.
    if Intent.HUMAN in intents and re.search(
        r"\b(don'?t|do not|no need)\b.{0,20}\b(talk|speak|need|want)\b", text, re.I
    ):
        intents.discard(Intent.HUMAN)
    return intents


def task_of(intents: set[Intent]) -> Intent | None:
    return next((task for task in TASKS if task in intents), None)


SMALL_TALK = {Intent.GREETING, Intent.THANKS, Intent.GOODBYE}


def names_help_topic(text: str) -> bool:
    """Whether `text` names a subject of the shop's help articles (returns, shipping, payments, hours…)."""
    return any(HELP_TOPIC_RE.fullmatch(word) for word in WORD_RE.findall(text))


def is_general_question(text: str, intents: set[Intent], *, answering: bool = False) -> bool:
    """A question about how the shop works ("how long do refunds take?"), not about an order of the customer's.

    Order lookups and requests to act on an order are not ("when will my parcel arrive?", "can you
    cancel it?"). While the customer is answering a question of ours, only a message that opens like a
    question counts ("do you ship to Canada?", not "the gift card?").
    """
    if intents & {Intent.STATUS, Intent.LIST_ORDERS, Intent.HUMAN}:
        return False
    if not names_help_topic(text) or OWN_ORDER_RE.search(text):
        return False
    return bool((QUESTION_START_RE if answering else QUESTION_RE).search(text))


# A bare yes or no, and nothing more: "Yes, please go ahead", "sure, do it", "ok go ahead", "no thanks".
BARE_ANSWER_RE = re.compile(
    r"^(\W*\b(yes|yeah|yep|yup|ya|y|sure|ok|okay|k|alright|all right|please|pls|go ahead|do it|do that|"
    r"that'?s (right|fine|correct)|so|then|proceed|confirm(ed)?|correct|absolutely|definitely|of course|"
    r"sounds good|great|perfect|fine|right|affirmative|thanks|thank you|cheers|exactly|indeed|"
    r"no|nope|nah|not now|don'?t|never ?mind|stop)\b)+\W*$",
    re.IGNORECASE,
)


def is_bare_answer(text: str) -> bool:
    """A yes or a no and nothing more: it answers a confirmation, and is never a fact asked for (a
    reason, an item) however the question it follows was worded."""
    return bool(BARE_ANSWER_RE.match(text.replace("\N{RIGHT SINGLE QUOTATION MARK}", "'")))
