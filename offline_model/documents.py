"""Questions for the shop's documents: the words a search can use, and answers quoted from its passages.

A document search (the Assistants API's file_search) returns passages, best first, each with a
marker like 【0:1†returns.md】. The answer quotes the sentences of the first passage that share the
most words with the question (never its title or heading lines), and a second passage's when it is
about the same thing and adds to it, each followed by its marker verbatim. Nothing is said that the
passages do not say: when nothing was found, the answer says so plainly and offers a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from offline_model import phrasing
from offline_model.intents import HELP_TOPIC_RE, WORD_RE, names_help_topic

# Words that carry no meaning for a search ("What is your return policy?" → "return policy").
_FILLER_WORDS = (
    "a about all also am an and any anything are as at be been but by can could did didn do does doesn don for "
    "from get got had has have hello hey hi how i if in is isn it its just know let like me my need of on or our "
    "please should so some take takes tell than thanks that the their them then there these they this to us want "
    "was we were what when where which who why will with won would you your"
)
FILLER = frozenset(_FILLER_WORDS.split())
# "how long", "how much": the question's point, kept whole in a query.
HOW_WORDS = frozenset({"long", "much", "many", "soon", "often"})
MAX_QUERY_WORDS = 8
# What a passage says when it answers "how long" or "how much" without repeating those words.
ASPECTS = {
    "long": {"day", "week", "hour", "month", "time", "within", "until"},
    "soon": {"day", "week", "hour", "time", "within", "until"},
    "much": {"cost", "price", "fee", "free", "charge"},
    "cost": {"price", "fee", "free", "charge"},
}
FOLLOW_UP_RE = re.compile(r"^\W*(and|or|also|what about|how about|what if|same for)\b", re.IGNORECASE)
SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+")
BULLET_RE = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
HEADING_WORDS = 12  # a line this short, unpunctuated, opening a passage is its title or heading
# A second passage is quoted only when the search scored it close to the first one. On
# bench/search_quality.py's questions (all-MiniLM-L6-v2, threshold 0.40), 0.8 quoted a second passage
# in 48 of 143 answers, 12 times the right one when the first was not; 0.9 in 29, 10 times.
SECOND_PASSAGE_SCORE = 0.9
QUOTE_LIMIT = 400
LEAD = "Here's what our help articles say:"


def search_words(text: str) -> str:
    """The words of a question a search can use, in a few words: "Do you ship to Canada?" → "ship canada"."""
    words = [word.lower() for word in WORD_RE.findall(text)]
    kept = [
        word
        for index, word in enumerate(words)
        if (word not in FILLER and len(word) > 1)
        or word.isdigit()
        or (word == "how" and index + 1 < len(words) and words[index + 1] in HOW_WORDS)
    ]
    return " ".join(list(dict.fromkeys(kept))[:MAX_QUERY_WORDS])


def follow_up_words(text: str, earlier_query: str) -> str | None:
    """The search for a short follow-up to an earlier search ("and for Canada?" after "ship united
    states"): the earlier query's topic words, then the follow-up's own. None when the message names a
    topic of its own, or is not a follow-up at all."""
    own = search_words(text).split()
    if not own or len(own) > 4 or names_help_topic(text):
        return None
    if not (FOLLOW_UP_RE.search(text) or (len(own) <= 2 and "?" in text)):
        return None
    topics = [word for word in search_words(earlier_query).split() if HELP_TOPIC_RE.fullmatch(word)]
    return " ".join(dict.fromkeys(topics + own)) if topics else None


def searched_text(arguments: dict[str, Any]) -> str:
    """What a search call looked for: its string arguments."""
    return " ".join(str(value) for value in arguments.values() if isinstance(value, str))


# --- answers ---------------------------------------------------------------------------------------


def stem(word: str) -> str:
    """A crude stem, the same for "shipping", "shipped" and "ships", or "policy" and "policies"."""
    word = word.lower()
    for suffix, replacement in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]
    return word[:-1] if len(word) > 3 and word.endswith("y") else word


def stems(text: str) -> set[str]:
    return {stem(word) for word in WORD_RE.findall(text) if word.lower() not in FILLER or word.isdigit()}


@dataclass(frozen=True)
class Quote:
    """The sentences quoted from one passage, and which of the question's words they share."""

    sentences: tuple[str, ...]
    matched: frozenset[str]
    marker: str
    score: float | None

    @property
    def cited(self) -> str:
        return phrasing.shorten(" ".join(self.sentences), QUOTE_LIMIT) + self.marker


def cites_passages(output: Any) -> bool:
    """Whether a tool result is a document search's passages (file_search's shape: markers, `covered`)."""
    if not isinstance(output, dict) or not isinstance(output.get("results"), list):
        return False
    return "covered" in output or any(isinstance(row, dict) and row.get("marker") for row in output["results"])


def answer_from_passages(output: dict[str, Any], question: str) -> str:
    """The answer to `question` quoted from a document search's passages, or the plain "not covered"."""
    rows = [row for row in output.get("results") or () if isinstance(row, dict) and str(row.get("text") or "").strip()]
    if output.get("covered") is False or not rows:
        return phrasing.not_covered()
    wanted = {stem(word) for word in search_words(question).split() if word != "how"}
    # The search's order: which passage answers is decided there, by the rankings that
    # bench/search_quality.py measures, and not again here by shared words (the passage that answers
    # a question put in other words shares none).
    quotes = [quote_of(row, wanted) for row in rows]
    best = quotes[0]
    second = next((quote for quote in quotes[1:] if adds_to(best, quote)), None)
    if second is None:
        return f"{LEAD} {best.cited}"
    return f"{LEAD}\n\n- {best.cited}\n- {second.cited}"


def quote_of(row: dict[str, Any], wanted: set[str]) -> Quote:
    """The sentence of a passage sharing the most words with the question (its first, if none does).

    A second sentence sharing as many is quoted too when they share two words or more: one word in
    common ("ship") is too little to tell the relevant sentences from the rest.
    """
    sentences = sentences_of(str(row["text"]))
    matches = [matched(sentence, wanted) for sentence in sentences]
    top = max((len(found) for found in matches), default=0)
    best = [index for index, found in enumerate(matches) if top and len(found) == top]
    chosen = best[: 2 if top >= 2 else 1] or [0]
    # A short line ("Shipping to Canada:") says little without the sentence after it.
    if len(chosen) == 1 and len(sentences[chosen[0]].split()) < 6 and chosen[0] + 1 < len(sentences):
        chosen.append(chosen[0] + 1)
    score = row.get("score")
    return Quote(
        sentences=tuple(sentences[index] for index in chosen),
        matched=frozenset().union(*(matches[index] for index in chosen)),
        marker=str(row.get("marker") or ""),
        score=float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None,
    )


def sentences_of(text: str) -> list[str]:
    """The sentences of a passage, list bullets taken off and headings left out: Markdown's, and the
    short unpunctuated lines a passage opens with (its document's title and its section's heading,
    which ingestion puts there so that a search finds their words)."""
    sentences: list[str] = []
    opening = True
    for line in text.splitlines():
        bare = BULLET_RE.sub("", line).strip()
        if not bare or bare.startswith("#"):
            continue
        if opening and bare == line.strip() and is_heading(bare):
            continue
        opening = False
        sentences += [part for part in SENTENCE_END_RE.split(bare) if part]
    return sentences or [" ".join(text.split())]


def is_heading(line: str) -> bool:
    """Whether a line reads as a heading: a few words, not ended as a sentence or a lead-in is."""
    return len(line.split()) <= HEADING_WORDS and not line.endswith((".", "!", "?", ":", ";", "…"))


def matched(sentence: str, wanted: set[str]) -> set[str]:
    """The question's words (by stem) that `sentence` says, "how long" answered by days or weeks."""
    said = stems(sentence)
    return {word for word in wanted if word in said or ASPECTS.get(word, set()) & said}


def adds_to(best: Quote, other: Quote) -> bool:
    """Whether a second passage is about the same thing as the best one (shares a word of the question
    with it, not just "how long") and says something more."""
    if not (other.matched & best.matched) - ASPECTS.keys() or set(other.sentences) <= set(best.sentences):
        return False
    if best.score is not None and other.score is not None:
        return other.score >= SECOND_PASSAGE_SCORE * best.score
    return True
