# Pinpoint as a service: webhook mode, behind the TLS-terminating proxy of compose.yaml.
FROM python:3.11-slim

# libzbar0: the QR reader's native library (pyzbar loads it at run time)
RUN apt-get update \
    && apt-get install -y --no-install-recommends libzbar0 \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# The pinned, hashed dependencies first (a layer that changes only with them), then the
# project itself without resolving anything again.
COPY requirements/run.txt requirements/run.txt
RUN pip install --require-hashes -r requirements/run.txt
COPY pyproject.toml README.md ./
COPY bot bot
COPY handlers handlers
COPY data data
RUN pip install --no-deps . && rm -rf build *.egg-info

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin pinpoint
USER pinpoint

# Settings come from the environment (see .env.example): DATABASE_URL, TELEGRAM_TOKEN,
# WEBHOOK_URL, WEBHOOK_SECRET; the webhook server listens on every interface of the
# container, on WEBHOOK_PORT.
ENV WEBHOOK_LISTEN=0.0.0.0 WEBHOOK_PORT=8443 LOG_FORMAT=json
EXPOSE 8443
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('WEBHOOK_PORT', '8443') + '/healthz', timeout=4)"]
CMD ["python", "-m", "bot", "run"]
