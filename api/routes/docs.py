"""`/docs`: Swagger UI served by the API itself, no CDN.

FastAPI's default page loads Swagger UI's script and stylesheet from a public CDN: a
browser opening the docs would run code from a third party on the API's origin. The
assets come instead from the `fastapi-offline` package (Swagger UI's release build,
shipped in the wheel), mounted under `/docs-assets`, and the page's
Content-Security-Policy allows this origin only, plus the page's one inline script by
its hash (computed from the page itself, so it stays right when FastAPI changes it).
ReDoc is not served (its standalone build needs workers from blob: URLs).
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_page(openapi_url: str, title: str) -> HTMLResponse:
    """Swagger UI over this API's document, with its CSP."""
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=title,
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
    )
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(page.body)
    )
    page.headers["Content-Security-Policy"] = "; ".join(
        (
            "default-src 'none'",
            f"script-src 'self' {hashes}",
            # Swagger UI sets style attributes on its elements at run time.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )
    page.headers["X-Content-Type-Options"] = "nosniff"
    return page


def mount(app: FastAPI) -> None:
    """Add `/docs` and its assets to an app built with `docs_url=None`."""
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return docs_page(openapi_url, f"{app.title} - docs")

    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
