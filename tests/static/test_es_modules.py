"""The ES modules of the widget and the console, as the static file server serves them.

Both entry points are walked through their imports (no build step: what the files say is what the
browser fetches). The widget's modules load on a shop's page from another origin, as CORS requests:
each must come with Access-Control-Allow-Origin and a JavaScript type, or the widget never starts.
The widget and the console draw messages with one renderer and talk over one socket client.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urljoin

from django.test import Client

from tests.test_settings import PRODUCTION, manage

WIDGET_ENTRY = "/static/widget/concierge-widget.js"
CONSOLE_ENTRY = "/static/console/console.js"
SHARED = {"/static/shared/dom.js", "/static/shared/markdown.js", "/static/shared/socket.js"}
# `import ... from "./x.js"`, `export ... from "./x.js"`, and the entry's `new URL("x.js", script.src)`.
IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(\s*|new URL\(\s*)["']([^"']+\.js)["']""")
HTML_SINKS = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "DOMParser")
LONGEST_MODULE_LINES = 400


def fetch(path: str, **headers: str):
    response = Client().get(path, **headers)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def module_graph(entry: str) -> dict[str, bytes]:
    """Every script `entry` loads, by path, with its body."""
    found: dict[str, bytes] = {}
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in found:
            continue
        response, body = fetch(path)
        assert response.status_code == 200, f"{path}: {response.status_code}"
        found[path] = body
        todo.extend(urljoin(path, spec) for spec in IMPORT.findall(body.decode()))
    return found


def test_the_widgets_modules_come_as_javascript_any_origin_may_load():
    graph = module_graph(WIDGET_ENTRY)
    assert len(graph) > 5, sorted(graph)
    for path in graph:
        response, _ = fetch(path, HTTP_ORIGIN="https://shop.example.com")
        assert response["Content-Type"].split(";")[0] in ("text/javascript", "application/javascript"), path
        assert response["Access-Control-Allow-Origin"] == "*", path


def test_the_widget_and_the_console_share_the_renderer_and_the_socket():
    widget, console = module_graph(WIDGET_ENTRY), module_graph(CONSOLE_ENTRY)
    assert widget.keys() & console.keys() >= SHARED
    for graph in (widget, console):
        scripts = b"\n".join(graph.values()).decode()
        assert scripts.count("new WebSocket(") == 1  # the shared socket's: nobody opens one of their own
        assert scripts.count("function renderMarkdown(") == 1  # the shared renderer, imported


def test_no_module_parses_markup():
    """Message text reaches the page only as text nodes: no HTML-parsing sink appears in any script."""
    for path, body in {**module_graph(WIDGET_ENTRY), **module_graph(CONSOLE_ENTRY)}.items():
        for sink in HTML_SINKS:
            assert sink not in body.decode(), f"{sink} in {path}"


def test_the_widgets_files_are_ascii_and_small():
    """ASCII works even where a proxy or CDN serves a file without a charset; each module is one concern."""
    for path, body in module_graph(WIDGET_ENTRY).items():
        assert body.isascii(), path
        assert body.count(b"\n") < LONGEST_MODULE_LINES, path


def test_a_deployed_console_imports_the_hashed_shared_modules(tmp_path):
    """After collectstatic (DEBUG off), console.<hash>.js names shared/*.<hash>.js: a page never runs
    new code against a shared module cached from before a deploy."""
    done = manage("collectstatic", "--noinput", "-v0", STATIC_ROOT=str(tmp_path), **PRODUCTION)
    assert done.returncode == 0, done.stderr

    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    console = (tmp_path / manifest["console/console.js"]).read_text()
    for shared in ("shared/markdown.js", "shared/socket.js", "shared/dom.js"):
        hashed = manifest[shared].removeprefix("shared/")
        assert hashed != shared.removeprefix("shared/") and hashed in console, shared
