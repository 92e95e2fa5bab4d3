# The API with its in-process worker: applies migrations, then serves on port 8000.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATABASE_URL=sqlite+aiosqlite:////data/crm.db \
    LOG_FORMAT=json

WORKDIR /srv
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install . && useradd --system --uid 10001 --home-dir /srv crm && mkdir /data && chown crm /data
COPY alembic.ini ./
COPY migrations ./migrations

USER crm
VOLUME ["/data"]
EXPOSE 8000 9464
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/readyz')"
# `serve` applies pending migrations (under an advisory lock on PostgreSQL), then starts uvicorn.
CMD ["python", "-m", "app", "serve"]
