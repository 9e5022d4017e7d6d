"""Settings, all overridable from the environment.

Embedded default: SQLite and local media under var/, jobs in the foreground.
Scale-out: DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis), S3 media.
"""
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.secret_key import secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("NEURONEVAL_VAR_DIR", BASE_DIR / "var"))
# SQLite, media and caches live here; a fresh clone must not fail on its absence.
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name, default=""):
    """A comma-separated environment variable as a list, blanks left out."""
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


# --- Debug, secret key, hosts, HTTPS (issue 11) -----------------------------------------------
# DEBUG only when asked for: a 500 with DEBUG on shows settings and source to anyone.
DEBUG = env_bool("DJANGO_DEBUG", False)
# DJANGO_SECRET_KEY, or a key generated once and kept in the var dir (config/secret_key.py says why).
SECRET_KEY = secret_key(os.environ.get("DJANGO_SECRET_KEY", ""), VAR_DIR, DEBUG)
SITE_URL = os.environ.get("NEURONEVAL_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
_site = urlsplit(SITE_URL)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
if _site.hostname and _site.hostname not in ALLOWED_HOSTS:
    ALLOWED_HOSTS.append(_site.hostname)
# Behind a TLS proxy the browser's Origin is the site URL's: form POSTs are refused unless it is trusted.
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
if f"{_site.scheme}://{_site.netloc}" not in CSRF_TRUSTED_ORIGINS:
    CSRF_TRUSTED_ORIGINS.append(f"{_site.scheme}://{_site.netloc}")
if _site.scheme == "https":
    # The site is public over TLS, terminated by the reverse proxy (docker-compose.yml's), which sets
    # X-Forwarded-Proto on every request it passes on (clients cannot reach gunicorn directly).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("NEURONEVAL_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("NEURONEVAL_HSTS_SECONDS", 365 * 24 * 3600)
    # Set both to 0 when other (sub)domains of the site's host are not served over HTTPS.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("NEURONEVAL_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("NEURONEVAL_HSTS_PRELOAD", True)
# ------------------------------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    "explain",
    "evaluation",
    "mturk",
    "analysis",
    "scoring",
    "demo",
    "api",
]

MIDDLEWARE = [
    # First: a body over the cap is refused before anything reads (or spools) it.
    "config.request_size.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "evaluation.middleware.HostileInputMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

_database = dj_database_url.config(
    default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
    conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
)
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent raters on the embedded default: wait for the write lock
    # instead of failing, and take it at BEGIN so a claim cannot be upgraded
    # from a read into a deadlock.
    # Write-ahead log: a commit appends to one file instead of rewriting a rollback journal (several fsyncs), and
    # readers never wait for the writer; benchmarks/load.py measured the rating cycle at a third of its time.
    # Set NEURONEVAL_SQLITE_JOURNAL_MODE=delete where the var dir is on a network filesystem (WAL needs shared memory).
    _database["OPTIONS"] = {
        **_database.get("OPTIONS", {}),
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": f"PRAGMA journal_mode={os.environ.get('NEURONEVAL_SQLITE_JOURNAL_MODE', 'wal')}",
    }
DATABASES = {"default": _database}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Passwords and request sizes (issue 11) ------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes): after NEURONEVAL_LOGIN_FAILURE_LIMIT failed sign-ins for one username from one
# client address (evaluation.client_address, behind NEURONEVAL_TRUSTED_PROXIES), that pair is refused for
# NEURONEVAL_LOGIN_LOCKOUT_MINUTES (429, registration/locked_out.html). Per username *and* address: a guesser
# cannot lock a researcher out from everywhere, and one address cannot try many passwords for one account.
# Unlock early: `python manage.py axes_reset_username NAME` (or axes_reset for everyone). Every authenticate()
# must pass the request (Django's login view and the admin do; the API signs in by token or session only).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("NEURONEVAL_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("NEURONEVAL_LOGIN_LOCKOUT_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "evaluation.client_address.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Form fields and JSON bodies are held in memory up to this size; larger bodies get 400. Uploaded files
# above FILE_UPLOAD_MAX_MEMORY_SIZE go to a temporary file (FILE_UPLOAD_TEMP_DIR, the system's by default).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("NEURONEVAL_MAX_FORM_BYTES", 2_621_440)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("NEURONEVAL_FILE_UPLOAD_MEMORY_BYTES", 2_621_440)
FILE_UPLOAD_TEMP_DIR = os.environ.get("NEURONEVAL_FILE_UPLOAD_TEMP_DIR") or None
# The whole request body, refused with 413 before anything reads it (config/request_size.py); the routes that
# take files (explanation files, ratings and study imports, 50 MiB a file) have the larger cap. The reverse
# proxy (deploy/nginx.conf, client_max_body_size 64m) caps it again in front.
MAX_REQUEST_BYTES = env_int("NEURONEVAL_MAX_REQUEST_BYTES", 10 * 1024 * 1024)
MAX_UPLOAD_REQUEST_BYTES = env_int("NEURONEVAL_MAX_UPLOAD_REQUEST_BYTES", 64 * 1024 * 1024)
# ------------------------------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = os.environ.get("DJANGO_MEDIA_URL", "/media/")
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", VAR_DIR / "media"))

# Where uploaded / generated images live. "local" serves them from this site;
# "s3" uses django-storages so MTurk workers can load them from anywhere.
MEDIA_STORAGE = os.environ.get("NEURONEVAL_MEDIA_STORAGE", "local")
_S3_MEDIA = {
    "BACKEND": "storages.backends.s3.S3Storage",
    "OPTIONS": {
        "bucket_name": os.environ.get("AWS_STORAGE_BUCKET_NAME", ""),
        "region_name": os.environ.get("AWS_S3_REGION_NAME", "us-east-1"),
        "querystring_auth": env_bool("AWS_QUERYSTRING_AUTH", True),
        # Presigned image URLs must outlive the longest HIT (default 7 days).
        "querystring_expire": env_int("AWS_QUERYSTRING_EXPIRE", 7 * 24 * 3600),
        "default_acl": os.environ.get("AWS_DEFAULT_ACL") or None,
        "file_overwrite": False,
    },
}
STORAGES = {
    "default": _S3_MEDIA if MEDIA_STORAGE == "s3" else {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Content security policy (issue 11) ------------------------------------------------------------
# Scripts and styles come from this site's static files; the few inline ones carry the request's nonce
# ({{ request.csp_nonce }}). No page may be framed, except the MTurk task, which MTurk's sites frame
# (mturk/providers/mturk/views.py widens frame-ancestors and form-action for that view only). Images may also
# come from the media host when media is served from elsewhere (S3, or an absolute DJANGO_MEDIA_URL), plus
# NEURONEVAL_CSP_IMG_SOURCES (space-separated sources).
_media_origin = urlsplit(MEDIA_URL)
_image_sources = [SELF, "data:"]
if _media_origin.scheme in ("http", "https"):
    _image_sources.append(f"{_media_origin.scheme}://{_media_origin.netloc}")
if MEDIA_STORAGE == "s3":
    _image_sources.append(f"https://{os.environ['AWS_S3_CUSTOM_DOMAIN']}" if os.environ.get("AWS_S3_CUSTOM_DOMAIN")
                          else "https://*.amazonaws.com")
_image_sources += os.environ.get("NEURONEVAL_CSP_IMG_SOURCES", "").split()
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": _image_sources,
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# ------------------------------------------------------------------------------------------------

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/studies/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# The REST API (api/): personal tokens or the session, cursor pages, problem-details errors.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.ApiCursorPagination",
    # The standard parsers, refusing a NUL anywhere in the parsed body (api/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser", "api.parsers.FormParser", "api.parsers.MultiPartParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.ProblemAutoSchema",
    "EXCEPTION_HANDLER": "api.problems.problem_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer", "api.renderers.PolicyBrowsableAPIRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "neuroneval API",
    "DESCRIPTION": "Networks, explanations, explain jobs, rating studies, ratings and their analysis.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files come with drf-spectacular-sidecar and are served from this site (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "StudyStatusEnum": "evaluation.models.Study.Status",
        "JobStatusEnum": "explain.models.Job.Status",
        "ResponseSourceEnum": "evaluation.models.Response.Source",
        # Several models have a `kind`: each enum gets its own name (check --deploy warns otherwise).
        "StudyKindEnum": "evaluation.models.Study.Kind",
        "RaterKindEnum": "evaluation.models.Rater.Kind",
        "ProbeDatasetKindEnum": "explain.models.ProbeDataset.Kind",
        "MethodKindEnum": "explain.models.Method.Kind",
    },
}
# Server folders the API may import probing sets from (":"-separated); nothing else on the server is read.
API_SERVER_FOLDERS = [
    folder for folder in os.environ.get("NEURONEVAL_API_SERVER_FOLDERS", str(VAR_DIR / "server-folders")).split(":") if folder
]

# --- Client address and the shared cache (issue 11) ------------------------------------------------
# Reverse proxies in front of the app that append the client's address to X-Forwarded-For (compose's nginx:
# 1). 0 (the default) ignores the header: the client is the connection's address (evaluation/client_address.py).
TRUSTED_PROXY_COUNT = env_int("NEURONEVAL_TRUSTED_PROXIES", 0)
# Per-address limits and login lockouts are counted in this cache, so every server process must share it:
# by default files under the var dir (shared by every gunicorn worker of one host, no server needed); with
# NEURONEVAL_CACHE_URL=redis://host:6379/1 Redis (compose does this), which also counts atomically and is shared
# between hosts.
CACHE_URL = os.environ.get("NEURONEVAL_CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL,
                          "KEY_PREFIX": "neuroneval"}}
elif CACHE_URL:
    raise ImproperlyConfigured(f"NEURONEVAL_CACHE_URL must be a redis:// URL, not {CACHE_URL!r}")
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(VAR_DIR / "cache"), "OPTIONS": {"MAX_ENTRIES": 100_000}}}
# ------------------------------------------------------------------------------------------------

# Rater task reservations go back to the pool after this many seconds.
RESERVATION_TIMEOUT_SECONDS = env_int("NEURONEVAL_RESERVATION_TIMEOUT", 30 * 60)
# New raters one client address may start per window on the anonymous entry points (open link,
# Prolific start, MTurk task): enough for a lab sharing one address, too few to reserve a study away.
NEW_RATERS_PER_CLIENT = env_int("NEURONEVAL_NEW_RATERS_PER_CLIENT", 20)
NEW_RATERS_WINDOW_SECONDS = env_int("NEURONEVAL_NEW_RATERS_WINDOW", 3600)

# Foundation models, by public id, and their knobs; loaded lazily by the `foundation` package.
FOUNDATION = {
    "captioner": os.environ.get("NEURONEVAL_CAPTIONER", "Salesforce/blip-image-captioning-base"),
    "clip_model": os.environ.get("NEURONEVAL_CLIP_MODEL", "ViT-B-16"),
    "clip_pretrained": os.environ.get("NEURONEVAL_CLIP_PRETRAINED", "openai"),
    "text_to_image": os.environ.get("NEURONEVAL_TEXT_TO_IMAGE", "CompVis/stable-diffusion-v1-4"),
    "llm_model": os.environ.get("NEURONEVAL_LLM_MODEL", "gpt-4o-mini"),
    "llm_base_url": os.environ.get("NEURONEVAL_LLM_BASE_URL") or os.environ.get("OPENAI_BASE_URL") or None,
    "text_embedder": os.environ.get("NEURONEVAL_TEXT_EMBEDDER", "sentence-transformers/all-mpnet-base-v2"),
    "device": os.environ.get("NEURONEVAL_DEVICE", "auto"),
    "llm_api_key": os.environ.get("NEURONEVAL_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY") or None,
    "llm_timeout": float(os.environ.get("NEURONEVAL_LLM_TIMEOUT", 60)),
    "llm_max_retries": env_int("NEURONEVAL_LLM_MAX_RETRIES", 5),
    "llm_concurrency": env_int("NEURONEVAL_LLM_CONCURRENCY", 8),
    "llm_cache_dir": os.environ.get("NEURONEVAL_LLM_CACHE_DIR") or str(VAR_DIR / "llm-cache"),
    "sd_scheduler": os.environ.get("NEURONEVAL_SD_SCHEDULER", "DPMSolverMultistepScheduler"),
    "sd_steps": env_int("NEURONEVAL_SD_STEPS", 50),
    "sd_batch_size": env_int("NEURONEVAL_SD_BATCH_SIZE", 16),
    "captioner_batch_size": env_int("NEURONEVAL_CAPTIONER_BATCH_SIZE", 32),
    "clip_batch_size": env_int("NEURONEVAL_CLIP_BATCH_SIZE", 256),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
}

# Celery: with no broker configured, jobs run in process (the embedded default).
# Networks run on GPU workers (`celery -A config worker -Q gpu`): the explain job and the
# chunked generation jobs (explain.distributed) go to the `gpu` queue, the rest to `default`.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_IMPORTS = ["explain.distributed_tasks"]  # not a tasks.py module, so autodiscovery misses it
CELERY_TASK_ROUTES = {
    "explain.run_explain_task": {"queue": "gpu"},
    "explain.run_explain_chunk": {"queue": "gpu"},
    "explain.prepare_chunked_job": {"queue": "gpu"},
}
# A chunk a dead worker held goes back to the queue after this many seconds: set it above the
# longest chunk's run time (a rerun is harmless, only wasted work).
# Workers look for such messages every restore interval times the throttle (kombu: 10 s x 10).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
    "unacked_restore_throttle": env_int("CELERY_UNACKED_RESTORE_THROTTLE", 10),
}
