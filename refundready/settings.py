"""RefundReady settings. Every deployment difference is an environment variable (see README)."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from refundready.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off")
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # Kept installed only so that accounts' migration can read and empty its plaintext table (tokens are now
    # accounts.ApiToken, hashed); its admin is unregistered in accounts/admin.py.
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "entries",
    "cape",
    "ach",
    "protests",
    "portfolio",
]

MIDDLEWARE = [
    # First: an oversized body is refused before anything (the CSRF check) reads it (refundready/bodylimit.py).
    "refundready.bodylimit.RequestBodyLimitMiddleware",
    "refundready.health.HealthCheckMiddleware",
    "refundready.pacing.WebActivityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "refundready.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.middleware.ActiveOrganizationMiddleware",
]

ROOT_URLCONF = "portfolio.root_urls"
WSGI_APPLICATION = "refundready.wsgi.application"
ASGI_APPLICATION = "refundready.asgi.application"

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
                "accounts.context_processors.organization",
            ],
        },
    },
]

# DATABASE_URL selects the database: postgres://… for PostgreSQL, default SQLite in DATA_DIR.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'refundready.sqlite3'}")
if DATABASE_URL.split(":", 1)[0] not in {"sqlite", "postgres", "postgresql", "pgsql"}:
    raise ImproperlyConfigured(f"DATABASE_URL={DATABASE_URL!r}: only sqlite:// and postgres:// are supported")
# A persistent connection (DB_CONN_MAX_AGE > 0) is checked before each request reuses it, so a restarted
# database costs a reconnect, not a failed request.
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0, minimum=0), conn_health_checks=True
    )
}
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if IS_POSTGRES:
    DATABASES["default"].setdefault("OPTIONS", {})
else:
    # A file (not :memory:) so that a real Celery worker process can share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
# CBP dates (entry, liquidation, deadlines) are Eastern-time calendar dates.
TIME_ZONE = "America/New_York"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True

# Email: by default every message is written to DATA_DIR/mail and echoed to the console.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "refundready.mail.FolderAndConsoleEmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "RefundReady <no-reply@refundready.local>")


def _fernet_keys() -> list[str]:
    raw = env_list("FIELD_ENCRYPTION_KEY", [])
    if raw:
        for key in raw:
            try:
                if len(base64.urlsafe_b64decode(key.encode())) != 32:
                    raise ValueError
            except ValueError:
                raise ImproperlyConfigured(
                    "FIELD_ENCRYPTION_KEY must be comma-separated Fernet keys (32 url-safe base64 bytes); "
                    "generate one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
                ) from None
        return raw
    if not DEBUG:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is required when DEBUG is off")
    return [base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()]


# The first key encrypts; every key decrypts (key rotation: prepend the new key, run rotate_encryption_keys).
FIELD_ENCRYPTION_KEYS = _fernet_keys()

# Celery: Redis when REDIS_URL/CELERY_BROKER_URL is set, otherwise kombu's filesystem transport,
# an embedded broker that needs no server.
REDIS_URL = env_str("REDIS_URL")
# Cache (login throttling, rate limits, cached totals): Redis when configured, else per-process memory. Its own
# database may be given (REDIS_CACHE_URL): cache.clear() empties the whole Redis database, and in the broker's
# that deletes kombu's queue bindings, after which messages to those queues are silently dropped.
REDIS_CACHE_URL = env_str("REDIS_CACHE_URL", REDIS_URL)
# Without Redis, CACHE_DIR gives web and worker one cache in files (run_demo sets it): a per-process memory
# cache would never see the worker's "totals changed" bumps (cape.selectors.bump_totals_version).
CACHE_DIR = env_str("CACHE_DIR")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_CACHE_URL}
    if REDIS_CACHE_URL
    else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": CACHE_DIR}
    if CACHE_DIR
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "refundready"}
}
# How many reverse proxies (each appending to X-Forwarded-For) sit in front of the app. 0: REMOTE_ADDR is the client
# (X-Forwarded-For is ignored: anyone can send it). N: the client is the address N entries from the right of
# X-Forwarded-For (accounts.throttle.client_ip); it keys the log-in lock-out and the onboarding rate limits.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = DATA_DIR / "broker"
    (_broker_dir / "queue").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Redis redelivers an unacknowledged message after visibility_timeout (kombu's default: 1 hour). Ingest and
    # classification are acks_late, so a job still running when it expires would be started a second time by
    # another worker: keep it longer than the longest job (a 1,000,000-line ingest takes minutes, not hours).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 2 * 60 * 60, minimum=60)}
# Workers run their jobs (a million-entry ingest or classification) at a lower CPU priority than the web
# processes (os.nice, refundready.celery), so that pages stay fast while a job uses every core; 0 turns it off.
WORKER_NICE = env_int("WORKER_NICE", 10, minimum=0)
# The database work a job causes runs at the web's priority whatever the worker's: so while pages are being
# served (one within WEB_BUSY_SECONDS), bulk jobs pause between chunks for JOB_YIELD times the time their
# last chunk took (refundready.pacing); 0 never pauses. Web and workers must share the cache for it.
JOB_YIELD = env_float("JOB_YIELD", 3.0, minimum=0)
WEB_BUSY_SECONDS = env_float("WEB_BUSY_SECONDS", 2.0, minimum=0.1)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    # Deadlines move every day: reclassify every organisation each night, then send the digests (Eastern time,
    # CELERY_TIMEZONE), so that the morning's digest reads the night's classifications.
    "classify-all-nightly": {"task": "cape.tasks.classify_all_organizations", "schedule": crontab(hour=1, minute=30)},
    "deadline-digest-daily": {"task": "cape.tasks.send_deadline_digests", "schedule": crontab(hour=6, minute=0)},
    # Uploads whose worker died (SIGKILL, a lost machine) are re-queued or failed with a clear message.
    "recover-interrupted-work": {"task": "entries.tasks.recover_interrupted_work", "schedule": 60.0},
}
# An upload interrupted this many times is failed rather than retried again (entries/recovery.py).
UPLOAD_MAX_ATTEMPTS = env_int("UPLOAD_MAX_ATTEMPTS", 3, minimum=1)
# A running upload claimed more recently than this is left alone even when no worker's liveness lock is seen.
UPLOAD_RECOVERY_GRACE_SECONDS = env_int("UPLOAD_RECOVERY_GRACE_SECONDS", 120, minimum=10)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first so that an unauthenticated API call answers 401 with WWW-Authenticate.
        # API tokens are stored hashed, with an expiry and their last use (accounts.ApiToken).
        "accounts.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.IsOrganizationMember"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # A service's refusal (ServiceError) is a 400 with the validation-error body, from every endpoint.
    "EXCEPTION_HANDLER": "accounts.api_errors.exception_handler",
    # No API log-in endpoint exists (tokens are made on the API token page, behind the throttled log-in form),
    # so there is no DRF throttle rate: log-in throttling is LOGIN_FAILURE_LIMIT / LOGIN_LOCKOUT_SECONDS.
}
SPECTACULAR_SETTINGS = {
    "TITLE": "RefundReady API",
    "DESCRIPTION": "IEEPA tariff refunds: importers, ES-003 uploads, entries, CAPE declarations, ACH.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The schema and docs describe the API; they hold no tenant data.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
}

# Uploads: ES-003 files and other imports.
MAX_UPLOAD_SIZE = env_int("MAX_UPLOAD_SIZE", 200 * 1024 * 1024, minimum=1024)
# ES-003 guards (entries/ingest/source.py, entries/ingest/service.py): rows per file, XLSX expansion, stored error rows.
ES003_MAX_ROWS = env_int("ES003_MAX_ROWS", 5_000_000, minimum=1)
ES003_MAX_XLSX_UNCOMPRESSED = env_int("ES003_MAX_XLSX_UNCOMPRESSED", 2 * 1024**3, minimum=1024)
ES003_MAX_XLSX_RATIO = env_int("ES003_MAX_XLSX_RATIO", 100, minimum=1)
ES003_MAX_ERRORS = env_int("ES003_MAX_ERRORS", 100_000, minimum=1)
FORM5106_MAX_IMPORT_BYTES = env_int("FORM5106_MAX_IMPORT_BYTES", 5 * 1024 * 1024, minimum=1024)
ACH_EVIDENCE_MAX_SIZE = env_int("ACH_EVIDENCE_MAX_SIZE", 5 * 1024 * 1024, minimum=1024)
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

# Account application (accounts/onboarding): the 10-minute code window is CBP's (seed 001); the rest are ours.
ONBOARDING_CODE_VALID_MINUTES = env_int("ONBOARDING_CODE_VALID_MINUTES", 10, minimum=1)
ONBOARDING_MAX_WRONG_CODES = env_int("ONBOARDING_MAX_WRONG_CODES", 5, minimum=1)
ONBOARDING_CODES_PER_IR = env_int("ONBOARDING_CODES_PER_IR", 5, minimum=1)
ONBOARDING_CODES_PER_IP = env_int("ONBOARDING_CODES_PER_IP", 20, minimum=1)
ONBOARDING_CODE_WINDOW_MINUTES = env_int("ONBOARDING_CODE_WINDOW_MINUTES", 60, minimum=1)
ONBOARDING_STARTS_PER_IP = env_int("ONBOARDING_STARTS_PER_IP", 30, minimum=1)
ONBOARDING_DETAILS_MINUTES = env_int("ONBOARDING_DETAILS_MINUTES", 60, minimum=1)
READINESS_ES003_MAX_AGE_DAYS = env_int("READINESS_ES003_MAX_AGE_DAYS", 7, minimum=1)

DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# The body a route that takes no file accepts (refundready/bodylimit.py; upload routes have their file's limit).
# Below FILE_UPLOAD_MAX_MEMORY_SIZE, so no body sent to them is ever spooled to a temporary file.
REQUEST_MAX_BODY_SIZE = env_int("REQUEST_MAX_BODY_SIZE", 1024 * 1024, minimum=64 * 1024)

# Security (production: DEBUG off).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Only the app's own scripts and styles run (refundready/csp.py): no inline script, handler or style, no eval;
# data: images for the Swagger UI's icons; nothing may frame the pages or post forms elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "refundready.logging.RedactSensitiveFilter"},
        "no_client_error_tracebacks": {"()": "refundready.logging.NoTracebackForClientErrors"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["no_client_error_tracebacks", "redact"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
