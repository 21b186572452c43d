"""The help centre's public pages: /help/ (the articles), /help/<slug>/ (one article), and
/help/files/<file_id>/ (where an answer's citation of a file leads: its article, if it is one).

Only the shop's own files marked as help articles are ever shown here; a file uploaded through /v1
(a key owner's) never is, whatever its id.
"""

from __future__ import annotations

import nh3
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET
from markdown_it import MarkdownIt

from knowledge.models import File

_markdown = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def articles():
    return File.objects.filter(owner=None, help_slug__isnull=False).order_by("title", "filename")


@require_GET
def help_index(request: HttpRequest) -> HttpResponse:
    return render(request, "help/index.html", {"articles": articles()})


@require_GET
def help_article(request: HttpRequest, slug: str) -> HttpResponse:
    article = get_object_or_404(articles(), help_slug=slug)
    with article.content.open("rb") as handle:
        text = handle.read().decode("utf-8", "replace")
    # Markdown without raw HTML, then cleaned again: an article is staff's text, shown to anyone.
    html = nh3.clean(_markdown.render(text), link_rel="noopener noreferrer nofollow")
    return render(request, "help/article.html", {"article": article, "html": mark_safe(html), "others": articles()})


@require_GET
def help_source(request: HttpRequest, file_id: str) -> HttpResponse:
    article = articles().filter(public_id=file_id).first()
    if article is None:
        raise Http404("No help article is that file.")
    return redirect("help-article", slug=article.help_slug)
