"""Settings, all from the environment with embedded defaults (PROTOCOL.md section 6).

With nothing set you get SQLite (WAL mode) in ``db.sqlite3``, the in-memory
channel layer and a local-memory cache: one process, no services. Two URLs
scale it out::

    DATABASE_URL=postgres://127.0.0.1:5432/collab REDIS_URL=redis://127.0.0.1:6379/0 \\
        daphne project.asgi:application
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import dj_database_url

from collab.conf import DEFAULTS as COLLAB_DEFAULTS

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


DEBUG = env_bool("DJANGO_DEBUG", False)
_DEV_SECRET = "collab-insecure-development-key-set-DJANGO_SECRET_KEY-in-production"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _DEV_SECRET
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",  # first: its runserver serves HTTP and WebSockets on one port
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from here, not a CDN
    "collab",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- database -------------------------------------------------------------
DATABASES: dict[str, dj_database_url.DBConfig] = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # persistent connections: reopening one (and re-running the SQLite PRAGMAs)
        # around every commit cost ~9% of the server's time under load (bench/)
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at
    # BEGIN so two committers never deadlock upgrading a read lock.
    # synchronous=NORMAL survives a killed server process (the contract of an
    # ack); use PostgreSQL where power loss must not lose the last commits.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    # Tests get a file of their own (one per process), not Django's shared-cache
    # in-memory database: there a second writer fails at once with "database
    # table is locked" instead of waiting for the lock as it does on a file.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"collab-test-{os.getpid()}.sqlite3")
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- channel layer and cache (shared state) --------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "capacity": env_int("COLLAB_LAYER_CAPACITY", 1000),
                "prefix": os.environ.get("COLLAB_REDIS_PREFIX", "collab"),
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("COLLAB_REDIS_PREFIX", "collab"),
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": env_int("COLLAB_LAYER_CAPACITY", 1000)},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- auth, i18n, static -----------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("COLLAB_MAX_REQUEST_BYTES", 4 * 1024 * 1024)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)
    CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)

# --- REST API ---------------------------------------------------------------
# None: collab's views set their own DRF classes (collab/api/base.py) and schema settings
# (collab/api/schema_views.py), as they do in any host project. The whole-project schema that
# drf-spectacular's deploy check builds names collab's role enums as collab's own schema does.
SPECTACULAR_SETTINGS = {
    "ENUM_NAME_OVERRIDES": {
        "PublicRoleEnum": "collab.api.schema_views.PUBLIC_ROLE_VALUES",
        "MemberRoleEnum": "collab.api.schema_views.MEMBER_ROLE_VALUES",
    }
}

# --- collab -----------------------------------------------------------------
# The app's defaults live in collab/conf.py (docs/integration.md has the table); this project
# changes a setting X only when the environment sets COLLAB_X.
COLLAB: dict[str, Any] = {
    name: (
        env_bool(f"COLLAB_{name}", default)
        if isinstance(default, bool)
        else int(raw)
        if isinstance(default, int)
        else float(raw)
        if isinstance(default, float)
        else raw
    )
    for name, default in COLLAB_DEFAULTS.items()
    if name != "REDIS_URL" and (raw := os.environ.get(f"COLLAB_{name}", ""))
}

# Credentials never reach a log: the filter redacts token=, ticket=, session cookies and
# Authorization values; collab.log_redaction.install() adds it to the servers' own handlers.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "collab.log_redaction.RedactSecrets"}},
    # COLLAB_LOG_FORMAT=json: one JSON object per line (collab.log_format), structured fields included
    "formatters": {"json": {"()": "collab.log_format.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["redact_secrets"],
            **({"formatter": "json"} if os.environ.get("COLLAB_LOG_FORMAT", "").lower() == "json" else {}),
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        "daphne": {"level": "WARNING"},
        # runserver's request log has its own handler; do not print each line twice
        "django.channels.server": {"handlers": ["console"], "propagate": False},
    },
}
