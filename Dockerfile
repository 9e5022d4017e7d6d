# The platform's web image: same requirements as CI, gunicorn in front of Django.
# Embedded default: SQLite and media under /app/var (mount a volume there).
# Scale-out: set DATABASE_URL=postgres://..., CELERY_BROKER_URL=redis://..., NEURONEVAL_MEDIA_STORAGE=s3.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    NEURONEVAL_VAR_DIR=/app/var \
    DJANGO_DEBUG=0 \
    HF_HUB_OFFLINE=1

WORKDIR /app
# A web-only or CPU image can take torch's CPU wheels (same version, far smaller):
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cpu .
ARG TORCH_INDEX=""
COPY requirements.txt .
RUN pip install --upgrade pip && pip install -r requirements.txt ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"}

COPY . .
# collectstatic needs settings to load: a random throwaway key (a kept one would be baked into the image).
RUN DJANGO_SECRET_KEY=$(python -c "import secrets; print(secrets.token_urlsafe(64))") python manage.py collectstatic --noinput \
    && useradd --create-home --uid 1000 app && mkdir -p /app/var && chown -R app /app/var
USER app
VOLUME ["/app/var"]
EXPOSE 8000

# Static files are collected again at start so a reused volume never serves an older release's.
CMD ["sh", "-c", "python manage.py migrate --noinput && python manage.py collectstatic --noinput -v 0 && exec gunicorn config.wsgi:application --bind 0.0.0.0:8000 --worker-class gthread --workers ${GUNICORN_WORKERS:-3} --threads ${GUNICORN_THREADS:-4} --timeout ${GUNICORN_TIMEOUT:-120} --access-logfile -"]
