"""The offline model in the customer's language: German, French and Spanish, as far as its rules go.

A real model is told the customer's language by a line of its system prompt ("Customer's language:
German (de). Always answer in German, …", written by the widget app); the offline model reads the
same line. It then reads the customer's common words as English (`gloss`: "Wo ist meine Bestellung
A1001?" is read as "where is my order A1001?") and words its answer's fixed phrases in that language
(`translate`). What it cannot word there (a tool's own message, a shop's function's result) stays in
English, and the answer says so in the customer's language and offers a person. Other languages are
answered in English: the model has no phrases for them.
"""

from __future__ import annotations

import re
from functools import cache

from offline_model import phrasebook

LANGUAGE_LINE_RE = re.compile(r"Customer's language: [^\n(]{1,40}\((?P<code>[a-z]{2,3})\)")
# What a translated part of an answer is wrapped in while the rest is worded: later patterns don't
# touch it, and what stays outside it is what could only be said in English.
START, END = "\x02", "\x03"
DONE_RE = re.compile(f"{START}[^{END}]*{END}")
# What is no English sentence left over: bold values, list lines of items, numbers, punctuation.
ENGLISH_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
VERBATIM_RE = re.compile(r"(\S+@\S+|https?://\S+)")
NOT_PROSE_RE = re.compile(r"^[ \t]*- .*$|\*\*[^*\n]*\*\*|[^\w\n]+|[\d_]+", re.MULTILINE)


def language_in(system: str) -> str:
    """The customer's language the system prompt names, if the model speaks it; else "en"."""
    match = LANGUAGE_LINE_RE.search(system)
    code = match.group("code") if match else "en"
    return code if code in phrasebook.LANGUAGES else "en"


@cache
def _compiled(table: tuple[tuple[str, str], ...]) -> list[tuple[re.Pattern, str]]:
    return [(re.compile(pattern, re.IGNORECASE), english) for pattern, english in table]


def gloss(text: str, language: str) -> str:
    """The customer's `text` with the words the model understands in `language` read as English.
    E-mail addresses and links are left as they are ("mein.name@example.de")."""
    table = _compiled(tuple(phrasebook.GLOSSES.get(language, ())))
    if not table:
        return text
    parts = VERBATIM_RE.split(text)
    for index in range(0, len(parts), 2):  # the odd ones are what VERBATIM_RE matched
        for pattern, english in table:
            if index == 0 or not pattern.pattern.startswith("^"):  # "^ja" is only the message's start
                parts[index] = pattern.sub(english, parts[index])
    return "".join(parts)


@cache
def _sentences() -> list[tuple[re.Pattern, dict[str, str]]]:
    return [(re.compile(pattern), wordings) for pattern, wordings in phrasebook.SENTENCES]


@cache
def _fragments() -> list[tuple[re.Pattern, dict[str, str]]]:
    return [(re.compile(pattern, re.IGNORECASE), wordings) for pattern, wordings in phrasebook.FRAGMENTS]


def fragment(value: str, language: str) -> str:
    """A value inside a sentence (a purpose, "order **A1001**", a status, a reason) in `language`."""
    for pattern, wordings in _fragments():
        value = pattern.sub(wordings[language], value)
    return value


def local_date(value: str, language: str) -> str:
    """'28 Nov 2026' with the month's name in `language`."""
    months = dict(zip(ENGLISH_MONTHS, phrasebook.MONTHS[language].split(), strict=True))
    return re.sub(r"\b[A-Z][a-z]{2}\b", lambda m: months.get(m.group(), m.group()), value)


def _worded(match: re.Match, wordings: dict[str, str], language: str) -> str:
    values = {name: fragment(value, language) for name, value in match.groupdict(default="").items()}
    for name in ("date", "eta"):
        if values.get(name):
            values[name] = local_date(values[name], language)
    around = phrasebook.AROUND
    values["total"] = around["total"][language].format(**values) if values.get("total") else ""
    values["placed"] = around["placed"][language].format(**values) if values.get("date") else ""
    values["on"] = around["on"][language].format(**values) if values.get("date") else ""
    values["tracking_note"] = around["tracking_note"][language].format(**values) if values.get("tracking") else ""
    values["eta_note"] = around["eta_note"][language].format(**values) if values.get("eta") else ""
    values["reason"] = around["reason"][language].format(**values) if values.get("reason") else ""
    return START + wordings[language].format(**values) + END


def translate(text: str, language: str) -> str:
    """The model's English answer `text` with its fixed phrases in `language`; a note at the end
    (offering a person) when some of it could only stay English."""
    if language not in phrasebook.LANGUAGES or not text:
        return text
    for pattern, wordings in _sentences():
        text = pattern.sub(lambda match, w=wordings: _worded(match, w, language), text)
    leftover = NOT_PROSE_RE.sub(" ", DONE_RE.sub(" ", text))
    worded = text.replace(START, "").replace(END, "")
    if re.search(r"[A-Za-z]{3,}", leftover) and phrasebook.ONLY_ENGLISH[language] not in worded:
        worded += "\n\n" + phrasebook.ONLY_ENGLISH[language]
    return worded


def asked_markers() -> dict[str, str]:
    """The question markers of `phrasebook`, for `phrasing.asked_in` to read its questions in every language."""
    return phrasebook.ASKED_MARKERS


def fallback_markers() -> tuple[str, ...]:
    """How the fallback answer ("I didn't quite catch that") reads in every language (lower case)."""
    return phrasebook.FALLBACK_MARKERS
