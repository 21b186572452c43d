"""HTML to sections: the visible text, split at headings, with scripts, styles and menus dropped.

Markdown is rendered to HTML and read here too, so both formats split at headings the same way.
The standard library's parser never raises on malformed markup; what it cannot make sense of is
read as text, and only ever as text: no tag or attribute reaches a section.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from knowledge.sections import Section, clean_text, heading_text

# Elements whose content is not the page's text: code, styling, fallbacks and navigation menus.
HIDDEN = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object", "canvas", "nav"})
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
PARAGRAPHS = frozenset(
    {
        "address", "article", "aside", "blockquote", "details", "dialog", "div", "dl", "fieldset",
        "figure", "footer", "form", "header", "hr", "main", "ol", "p", "pre", "section", "table", "ul",
    }
)  # fmt: skip
LINES = frozenset({"li", "tr", "dt", "dd", "caption", "summary", "figcaption", "br", "option"})
CELLS = frozenset({"td", "th"})
BREAKS = PARAGRAPHS | LINES
_SPACES = re.compile(r"\s+")


class _SectionBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self.title = ""
        self._parts: list[str] = []  # the current section's text so far
        self._heading: str | None = None
        self._has_body = False  # whether the current section has text beyond its headings
        self._hidden = 0  # depth inside HIDDEN elements
        self._in_title = False
        self._in_pre = 0
        self._heading_parts: list[str] | None = None  # collecting a heading's text
        self._heading_has_text = False

    # The parser's callbacks.
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <title> holds only text: any tag means it was left open.
        self._in_title = tag == "title" and not self._hidden
        if tag in HIDDEN:
            self._hidden += 1
        if self._hidden:
            return
        if self._heading_parts is not None and tag in BREAKS and self._heading_has_text:
            self._end_heading()  # a heading left open: what follows is the section's text
        if tag in HEADINGS:
            self._start_heading()
        elif tag in PARAGRAPHS:
            self._break("\n\n")
            if tag == "pre":
                self._in_pre += 1
        elif tag in LINES:
            self._break("\n")
            if tag == "li":
                self._write("- ")
        elif tag in CELLS and not self._at_line_start():
            self._parts[-1] = self._parts[-1].rstrip(" ")
            self._write(" | ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/>, <svg/>: an element with no content, so nothing to hide or close.
        if not self._hidden and tag in BREAKS:
            self._break("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in HIDDEN:
            self._hidden = max(0, self._hidden - 1)
            return
        if self._hidden:
            return
        if tag in HEADINGS:
            self._end_heading()
        elif tag in PARAGRAPHS:
            self._break("\n\n")
            if tag == "pre":
                self._in_pre = max(0, self._in_pre - 1)
        elif tag in LINES:
            self._break("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = self.title or heading_text(data)
            return
        if self._hidden:
            return
        if self._heading_parts is not None:
            self._heading_parts.append(data)
            self._heading_has_text = self._heading_has_text or bool(data.strip())
            return
        if not self._in_pre:
            data = _SPACES.sub(" ", data)
            if self._at_line_start():
                data = data.lstrip()
        if data.strip():
            self._has_body = True
        self._write(data)

    # Building sections.
    def _write(self, text: str) -> None:
        if text:
            self._parts.append(text)

    def _at_line_start(self) -> bool:
        for part in reversed(self._parts):
            if part:
                return part.endswith("\n")
        return True

    def _break(self, separator: str) -> None:
        """End the line ("\n") or the paragraph ("\n\n"), unless the text already does."""
        missing = len(separator) - self._trailing_newlines()
        if self._parts and missing > 0:
            self._parts.append("\n" * missing)

    def _trailing_newlines(self) -> int:
        # Only the end of the text counts; a surplus newline is harmless (clean_text collapses it).
        tail = "".join(part[-8:] for part in self._parts[-4:]).rstrip(" \t")
        return len(tail) - len(tail.rstrip("\n"))

    def _start_heading(self) -> None:
        if self._heading_parts is not None:  # a heading inside a heading: read as one
            return
        # A heading with nothing under it yet stays in its section, so the heading that follows
        # takes it along: "Shipping" then "Abroad" becomes one section headed "Abroad".
        if self._has_body:
            self.flush()
        self._heading_parts, self._heading_has_text = [], False

    def _end_heading(self) -> None:
        if self._heading_parts is None:
            return
        text = _SPACES.sub(" ", "".join(self._heading_parts)).strip()
        self._heading_parts = None
        if text:
            self._heading = heading_text(text)
            self._break("\n\n")
            self._write(text + "\n\n")

    def flush(self) -> None:
        if self._heading_parts is not None:
            self._end_heading()
        text = clean_text("".join(self._parts))
        if text:
            self.sections.append(Section(text=text, heading=self._heading))
        self._parts, self._has_body = [], False


def html_sections(html: str) -> list[Section]:
    """The text of `html` in sections, one per heading (the text before the first heading is headed
    by the page's <title>, if it has one)."""
    builder = _SectionBuilder()
    builder.feed(html)
    builder.close()
    builder.flush()
    sections = builder.sections
    if sections and sections[0].heading is None and builder.title:
        first = sections[0]
        sections[0] = Section(text=f"{builder.title}\n\n{first.text}", heading=builder.title)
    return sections
