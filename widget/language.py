"""The customer's language: the widget's (its embed option or the browser's), then what they write.

The widget says which of settings.LANGUAGES it shows (stored on the thread as `widget_language`);
each customer message is read by py3langid (a naive Bayes classifier, deterministic, its model in
the wheel) and, when the text is long and clear enough to tell, that language wins: a customer who
writes French on a German shop page is answered in French. The result is the thread's
`metadata["language"]` (absent: English, so an English conversation costs no write), which the
console shows and every run's system prompt names (`answer_in_customer_language`).
"""

from __future__ import annotations

import re
import threading

from django.conf.locale import LANG_INFO
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext, gettext_noop
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from runtime.hooks import prompt_facts
from runtime.models import Message, Run, Thread
from runtime.tools.context import ToolContext

DEFAULT = "en"
# The languages py3langid may answer with: those of most shops' customers. A short text is told
# apart far better among these than among all 97 of its model (Luxembourgish for a German "Hallo").
CANDIDATES = (
    *("en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "cs", "sk", "hu", "ro"),
    *("bg", "hr", "sl", "el", "tr", "ru", "uk", "ja", "zh", "ko", "ar", "he", "hi", "id", "vi", "th"),
)
MIN_LETTERS = 12  # fewer letters than this ("ok", "A1001?") say nothing about a language
MIN_CONFIDENCE = 0.8  # measured: "Où est ma commande A1001 ?" is French at 0.85, "Hallo" anything at 0.1
# Order numbers, e-mail addresses, links and numbers are the same in every language.
NOT_WORDS_RE = re.compile(r"\S+@\S+|https?://\S+|\b[A-Za-z]*\d[\w-]*\b")
TAG_RE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}")  # a BCP 47 tag, whole (fullmatch)


def widget_language(value: object) -> str | None:
    """The supported language a widget asks for ("de-AT" is "de"); None for anything else."""
    if not isinstance(value, str) or not TAG_RE.fullmatch(value):
        return None
    try:
        code = translation.get_supported_language_variant(value.lower().replace("_", "-"))
    except LookupError:
        return None
    return code.split("-")[0]


def first_supported(values: list[object]) -> str:
    """The first of `values` (a browser's languages, best first) the widget speaks, else English."""
    return next((code for code in map(widget_language, values[:10]) if code), DEFAULT)


_detector: LanguageIdentifier | None = None
_detector_lock = threading.Lock()


def _identifier() -> LanguageIdentifier:
    """py3langid's model, loaded once per process, its probabilities normalized to 0..1."""
    global _detector
    with _detector_lock:
        if _detector is None:
            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(list(CANDIDATES))
            _detector = identifier
        return _detector


def load_detector_soon() -> None:
    """Load the model in the background, once per process: it takes about a second, which the first
    customer message would otherwise spend holding its thread's lock. The customer socket calls this
    on connect, before a message can come."""
    if _detector is None and not _detector_lock.locked():
        threading.Thread(target=_identifier, name="load-language-detector", daemon=True).start()


def detect(text: str) -> str | None:
    """The language `text` is written in, when it is clear enough to tell (an ISO 639-1 code)."""
    words = NOT_WORDS_RE.sub(" ", text[:2000])
    if sum(1 for c in words if c.isalpha()) < MIN_LETTERS:
        return None
    code, confidence = _identifier().classify(words)
    return code if confidence >= MIN_CONFIDENCE else None


def customer_language(text: str, *, hint: str | None, previous: str | None) -> str:
    """The language to answer `text` in: what it is clearly written in, else the conversation's so
    far, else the widget's, else English."""
    return detect(text) or previous or hint or DEFAULT


def name_of(code: str) -> str | None:
    """ "German" for "de"; None for a code that is no language Django knows."""
    info = LANG_INFO.get(code)
    return info["name"] if info and "name" in info else None


# The tools' activity lines ("Looking up order A1001…", written by the apps that own the tools, in
# English), as the widget shows them in its language: (the English line, its msgid).
ACTIVITIES = [
    (re.compile(r"^Looking up order (?P<order>\S{1,40})…$"), gettext_noop("Looking up order %(order)s…")),
    (
        re.compile(r"^Tracking the parcel for order (?P<order>\S{1,40})…$"),
        gettext_noop("Tracking the parcel for order %(order)s…"),
    ),
    (
        re.compile(r"^Opening a return on order (?P<order>\S{1,40})…$"),
        gettext_noop("Opening a return on order %(order)s…"),
    ),
    (re.compile(r"^Cancelling order (?P<order>\S{1,40})…$"), gettext_noop("Cancelling order %(order)s…")),
    (re.compile(r"^Looking up your orders…$"), gettext_noop("Looking up your orders…")),
    (re.compile(r"^Asking a person from our team to join…$"), gettext_noop("Asking a person from our team to join…")),
    (re.compile(r"^Searching our help articles…$"), gettext_noop("Searching our help articles…")),
]


def activity_label(label: str) -> str:
    """An activity line in the active language, when it is one of the known ones; else as it is."""
    for pattern, msgid in ACTIVITIES:
        match = pattern.match(label)
        if match:
            return gettext(msgid) % match.groupdict()
    return label


def remember_customer_language(sender, *, thread: Thread, message: Message, **kwargs) -> bool:
    """runtime.hooks.customer_message: the widget conversation's language, from this message (the
    thread is locked: the metadata is read and written whole). Never calls a person (False)."""
    metadata = thread.metadata or {}
    if metadata.get("channel") != "widget":
        return False
    previous = metadata.get("language")
    language = customer_language(message.text, hint=metadata.get("widget_language"), previous=previous)
    if language != (previous or DEFAULT) and name_of(language):
        thread.metadata = {**metadata, "language": language}
        Thread.objects.filter(pk=thread.pk).update(metadata=thread.metadata)
    return False


def set_widget_language(thread_id: str, language: str | None) -> None:
    """Note the language the customer's widget shows on their conversation (a hint for the
    assistant's first answer, before they have written enough to tell). No write when unchanged."""
    if not language:
        return
    with transaction.atomic():
        thread = Thread.objects.select_for_update().filter(public_id=thread_id).only("pk", "metadata").first()
        if thread is None or (thread.metadata or {}).get("widget_language") == language:
            return
        Thread.objects.filter(pk=thread.pk).update(metadata={**(thread.metadata or {}), "widget_language": language})


@prompt_facts
def answer_in_customer_language(run: Run, ctx: ToolContext) -> list[str]:
    """The line that tells the model which language to answer in, when the customer's is not English."""
    code = (run.thread.metadata or {}).get("language")
    name = name_of(code) if isinstance(code, str) else None
    if not name or code == DEFAULT:
        return []
    return [
        f"Customer's language: {name} ({code}). Always answer in {name}, whatever the language of these "
        "instructions; keep order numbers, e-mail addresses and product names as they are."
    ]
