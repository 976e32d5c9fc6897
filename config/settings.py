"""Warden settings. Everything that differs between machines comes from the environment.

Where DATABASE_URL / REDIS_URL are unset, the embedded PostgreSQL and Redis under var/ are
started (config/embedded.py) and used; SECRET_KEY and WARDEN_MASTER_KEY are then generated
once into var/secrets/.
"""

import os
from pathlib import Path

import dj_database_url

from config import embedded
from config.secrets import load_or_create, new_master_key, new_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


_embedded_urls = embedded.ensure_running(embedded.services_needed()) if embedded.services_needed() else {}

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or load_or_create(VAR_DIR / "secrets" / "secret_key", new_secret_key)
# 32 random bytes, base64: the AES-GCM key that encrypts AccessKey secrets and data source passwords.
WARDEN_MASTER_KEY = os.environ.get("WARDEN_MASTER_KEY") or load_or_create(
    VAR_DIR / "secrets" / "master_key", new_master_key
)
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

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
    "guardian",
    "apps.core",
    "apps.audit",
    "apps.accounts",
    "apps.tenancy",
    "apps.catalog",
    "apps.permissions",
    "apps.masking",
    "apps.gateway",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.tenancy.middleware.CurrentProjectMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "apps.tenancy.context_processors.switcher",
            ],
        },
    },
]

# --- databases ---------------------------------------------------------------------------

if os.environ.get("DATABASE_URL"):
    _default_db = dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)
else:
    _default_db = dj_database_url.parse(f"{_embedded_urls['postgres']}/warden", conn_max_age=60)

if os.environ.get("WAREHOUSE_URL"):
    _warehouse_db = dj_database_url.parse(os.environ["WAREHOUSE_URL"], conn_max_age=60)
else:
    # By default the warehouse is a second database in the same server.
    _warehouse_db = dict(_default_db, NAME=f"{_default_db['NAME']}_warehouse")

DATABASES = {"default": _default_db, "warehouse": _warehouse_db}
DATABASE_ROUTERS = ["config.routers.WarehouseRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery ----------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL") or f"{_embedded_urls['redis']}/0"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": os.environ.get("WARDEN_CACHE_PREFIX", "warden"),
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    # Seals audit events whose writer committed but never ran its sealing step (a process
    # died in between). Expires so a backlog of these never piles up while no worker runs.
    "audit-seal-pending": {
        "task": "apps.audit.tasks.seal_pending",
        "schedule": 5.0,
        "options": {"expires": 10},
    },
    # Queues the harvests of data sources whose harvest schedule says they are due.
    "catalog-harvest-due": {
        "task": "apps.catalog.tasks.harvest_due",
        "schedule": 300.0,
        "options": {"expires": 240},
    },
    # Ends the masking jobs whose worker died or never came, freeing their target names.
    "masking-jobs-abandoned": {
        "task": "apps.masking.tasks.masking_jobs_abandoned",
        "schedule": 300.0,
        "options": {"expires": 240},
    },
}

# --- accounts ----------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "tenancy:project-list"
LOGOUT_REDIRECT_URL = "accounts:login"

WARDEN_SIGNUP_ENABLED = env_bool("WARDEN_SIGNUP_ENABLED", True)
# Failed logins per username and per source address before a lock-out of LOGIN_LOCKOUT_SECONDS.
WARDEN_LOGIN_MAX_FAILURES = env_int("WARDEN_LOGIN_MAX_FAILURES", 5)
WARDEN_LOGIN_LOCKOUT_SECONDS = env_int("WARDEN_LOGIN_LOCKOUT_SECONDS", 900)
# Signed requests: allowed clock skew, and how long a nonce is remembered (longer than the skew window).
WARDEN_SIGNATURE_MAX_SKEW_SECONDS = env_int("WARDEN_SIGNATURE_MAX_SKEW_SECONDS", 300)
WARDEN_NONCE_TTL_SECONDS = env_int("WARDEN_NONCE_TTL_SECONDS", 900)
WARDEN_MAX_BODY_BYTES = env_int("WARDEN_MAX_BODY_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = WARDEN_MAX_BODY_BYTES

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- gateway -----------------------------------------------------------------------------

# The database role warehouse statements run as (created on first use; Warden's own
# connection user must be allowed to create it or already be a member of it).
GATEWAY_DB_ROLE = os.environ.get("GATEWAY_DB_ROLE", "warden_gateway")
GATEWAY_STATEMENT_TIMEOUT_MS = env_int("GATEWAY_STATEMENT_TIMEOUT_MS", 30_000)
# Rows a query returns: the caller's "limit", at most GATEWAY_MAX_ROWS.
GATEWAY_DEFAULT_ROWS = env_int("GATEWAY_DEFAULT_ROWS", 1_000)
GATEWAY_MAX_ROWS = env_int("GATEWAY_MAX_ROWS", 10_000)
GATEWAY_EXPORT_MAX_ROWS = env_int("GATEWAY_EXPORT_MAX_ROWS", 100_000)
GATEWAY_MAX_SQL_CHARS = env_int("GATEWAY_MAX_SQL_CHARS", 100_000)
GATEWAY_UPLOAD_MAX_ROWS = env_int("GATEWAY_UPLOAD_MAX_ROWS", 100_000)
GATEWAY_UPLOAD_MAX_BYTES = env_int("GATEWAY_UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
# Resource isolation: queries running at once, and rows returned per minute, per tenant and
# per user (0: no limit).
GATEWAY_TENANT_CONCURRENT_QUERIES = env_int("GATEWAY_TENANT_CONCURRENT_QUERIES", 16)
GATEWAY_USER_CONCURRENT_QUERIES = env_int("GATEWAY_USER_CONCURRENT_QUERIES", 4)
GATEWAY_TENANT_ROWS_PER_MINUTE = env_int("GATEWAY_TENANT_ROWS_PER_MINUTE", 5_000_000)
GATEWAY_USER_ROWS_PER_MINUTE = env_int("GATEWAY_USER_ROWS_PER_MINUTE", 1_000_000)

# --- API ---------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.SignatureAuthentication",
        "apps.accounts.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Warden API",
    "DESCRIPTION": "Data security center: accounts, projects, permissions, masking, audit.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from our own static files: the portal must work without internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- i18n, static ------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# collectstatic fills it (run_portal, the Dockerfile); whitenoise warns on every request until it exists.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Request logs would carry query strings and headers; keep them at warnings.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        # sqlglot warns with the text of statements it cannot fully parse: users' SQL holds data.
        "sqlglot": {"level": "ERROR"},
    },
}
