"""The Swagger UI page at /api/docs/, under the site's Content-Security-Policy plus what it needs.

drf-spectacular's split view serves the UI's start-up script as a file (?script), not inline, so
script-src needs no 'unsafe-inline'. The UI's own files come from SWAGGER_UI_DIST: "SIDECAR", our own
static files at drf-spectacular-sidecar's pinned version, so the page needs no other origin. Its one
small inline <style> is allowed by its hash: tests/security/test_csp.py fails if a drf-spectacular
upgrade changes that block.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from csp.decorators import csp_update
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.views import SpectacularSwaggerSplitView

SWAGGER_UI_INLINE_STYLE_HASH = "'sha256-MMpT0iDxyjALd9PdfepImGX3DBfJPXZ4IlDWdPAgtn0='"


def _origins(*urls: str) -> list[str]:
    """The origins of absolute URLs; a relative one (self-hosted, "SIDECAR") is 'self' already."""
    parts = [urlsplit(url) for url in urls]
    return sorted({f"{part.scheme}://{part.netloc}" for part in parts if part.scheme and part.netloc})


SWAGGER_UI_ORIGINS = _origins(spectacular_settings.SWAGGER_UI_DIST, spectacular_settings.SWAGGER_UI_FAVICON_HREF)

api_docs = csp_update(
    {
        "script-src": SWAGGER_UI_ORIGINS,
        "style-src": [*SWAGGER_UI_ORIGINS, SWAGGER_UI_INLINE_STYLE_HASH],
        "img-src": SWAGGER_UI_ORIGINS,
    }
)(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))
