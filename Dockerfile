# syntax=docker/dockerfile:1
# Worker image: `pulse worker` (default), `pulse topics`, `pulse generate ...`.
# Build: docker build -t community-pulse .   (docker-compose.yml builds it too)

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
# Wheels for the project and every dependency; the runtime stage installs
# them offline, without build tools or sources.
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PULSE_DATA_DIR=/data \
    PULSE_WEB_HOST=0.0.0.0 \
    PULSE_WEB_PORT=6066
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels community-pulse \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin pulse \
    && mkdir -p /data \
    && chown pulse /data
# The worker applies the ClickHouse DDL (package data) at start-up.
WORKDIR /app
USER pulse
VOLUME ["/data"]
EXPOSE 6066
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=4 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PULSE_WEB_PORT', '6066'), timeout=4)"]
ENTRYPOINT ["pulse"]
CMD ["worker"]
