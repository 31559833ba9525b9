"""The customer's live map page, at the tracking link `/track/{delivery_id}#token=...`.

The token is in the URL's fragment, which browsers never send, so it reaches no server
log; the page's script reads it and offers it as the websocket's `bearer.<token>`
subprotocol, exactly as any other client does. The script and stylesheet are built from
`api/web/` (Leaflet from npm, bundled by esbuild) into `api/static/` and served from
here: nothing is loaded from another origin, and the Content-Security-Policy says so.
The page also works with no map tiles at all (the default): the route and markers are
drawn on a plain background. A configured tile server is the one other origin allowed.
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from api.errors import UnavailableError
from api.settings import ApiSettings

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
BUNDLE = ("live-map.js", "live-map.css")

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Your delivery, live</title>
<link rel="stylesheet" href="/static/live-map.css">
</head>
<body data-tile-url="{tile_url}" data-tile-attribution="{tile_attribution}">
<div id="map" role="application" aria-label="Map of your delivery"></div>
<aside id="panel">
<h1>Your delivery</h1>
<dl>
<dt>State</dt><dd id="state">Connecting…</dd>
<dt>Arrives in</dt><dd id="eta">…</dd>
<dt>Distance left</dt><dd id="remaining">…</dd>
</dl>
<p id="detail" role="status"></p>
<p id="connection" role="status"></p>
</aside>
<script src="/static/live-map.js" defer></script>
</body>
</html>
"""


def tile_origin(tile_url: str) -> str | None:
    """The scheme://host[:port] of the tile URL template, or None without tiles."""
    if not tile_url:
        return None
    parts = urlsplit(tile_url.replace("{s}", "a"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"map_tile_url must be an http(s) URL template, not {tile_url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: ApiSettings) -> str:
    """Only this API (and the tile server, if any) may serve the page's resources.

    connect-src names the websocket origin of the configured `public_url` explicitly,
    since older browsers do not let 'self' cover ws:/wss:. It is built from the settings
    alone, never from the request: echoing the Host header let whoever controls that
    header (a cache poisoned by a forged Host, a misrouted proxy) widen the policy.
    """
    public = urlsplit(settings.public_url)
    websocket = ("wss" if public.scheme == "https" else "ws") + f"://{public.netloc}"
    tiles = tile_origin(settings.map_tile_url)
    if tiles is not None and "{s}" in settings.map_tile_url:
        tiles = f"{urlsplit(settings.map_tile_url).scheme}://*.{tiles.split('.', 1)[1]}"
    images = "'self'" + (f" {tiles}" if tiles else "")
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            f"connect-src 'self' {websocket}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


def mount(app: FastAPI, settings: ApiSettings) -> None:
    """Add the page and its static files to the app."""
    tile_origin(settings.map_tile_url)  # a bad tile URL fails at start, not in browsers
    page = PAGE.format(
        tile_url=html.escape(settings.map_tile_url, quote=True),
        tile_attribution=html.escape(settings.map_tile_attribution, quote=True),
    )

    policy = content_security_policy(settings)

    @app.get("/track/{delivery_id}", response_class=HTMLResponse, tags=["tracking"])
    async def live_map(delivery_id: str) -> HTMLResponse:
        """The live map of a delivery; its token comes in the link's fragment."""
        if not all((STATIC_DIR / name).is_file() for name in BUNDLE):
            raise UnavailableError(
                "the live map is not built: run `make install` (or `dronefleet-api openapi "
                "api/web/openapi.json`, then `npm ci && npm run build` in api/web)"
            )
        return HTMLResponse(
            page,
            headers={
                "Content-Security-Policy": policy,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store",
            },
        )

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        """No icon: an empty answer rather than a 404 in every browser's console."""
        return Response(status_code=204)

    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
