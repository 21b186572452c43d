"""The widget's own strings, translated: the `djangojs` gettext domain under settings.LOCALE_PATHS.

The widget (static/widget/*.js) marks each of its strings with t("..."), English being the msgid;
`make messages` extracts them into locale/<code>/LC_MESSAGES/djangojs.po, whose compiled .mo files
are committed. The catalogue is a plain {English: translation} object: no plural formulas, which
would need eval() on the shops' pages (their CSP forbids it); a count picks its own msgid.
"""

from __future__ import annotations

import gettext
from functools import cache

from django.conf import settings

DOMAIN = "djangojs"


@cache
def widget_strings(language: str) -> dict[str, str]:
    """{English: translation} for `language` (one of settings.LANGUAGES); {} for English."""
    found: dict[str, str] = {}
    for directory in settings.LOCALE_PATHS:
        translation = gettext.translation(DOMAIN, localedir=str(directory), languages=[language], fallback=True)
        catalog = getattr(translation, "_catalog", {})
        found.update({key: value for key, value in catalog.items() if isinstance(key, str) and key and value})
    return found
