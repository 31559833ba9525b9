# One image for every dronefleet service: compose.yaml picks the console script per
# container (dronefleet-projections sink, dronefleet-streams worker, dronefleet-api serve,
# dronefleet-simulator run, dronefleet-dashboard), the same commands the native
# `dronefleet` stack runs.
# Every dependency ships a manylinux wheel for CPython 3.11, so no compiler is needed.
# The API's OpenAPI document, from which the live map's TypeScript types are generated
# (`dronefleet-api openapi` builds the app and connects to nothing).
FROM python:3.11-slim AS openapi
WORKDIR /src
COPY . .
RUN pip install --no-cache-dir . && dronefleet-api openapi /openapi.json

# The live map page's bundle (api/web -> api/static), built with the locked npm packages.
FROM node:20-slim AS web
WORKDIR /web
COPY api/web/package.json api/web/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY api/web/ ./
COPY --from=openapi /openapi.json ./openapi.json
RUN npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 dronefleet \
    && useradd --system --uid 10001 --gid dronefleet --no-create-home \
        --home-dir /var/lib/dronefleet --shell /usr/sbin/nologin dronefleet

WORKDIR /src
COPY . .
COPY --from=web /static api/static
RUN pip install . \
    && cd / && rm -rf /src \
    && mkdir -p /var/lib/dronefleet/streams \
    && chown -R dronefleet:dronefleet /var/lib/dronefleet

# Faust's table stores live here (DRONEFLEET_STREAMS_DATA_DIR); a named volume mounted on
# it inherits the dronefleet user's ownership.
WORKDIR /var/lib/dronefleet
USER dronefleet

CMD ["dronefleet-api", "serve"]
