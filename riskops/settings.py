"""RiskOps settings: one file, two profiles, everything from environment variables.

RISKOPS_PROFILE=embedded (default): SQLite file, Celery on kombu's filesystem transport (a real
worker with no broker server), local-memory cache. Nothing else to install.
RISKOPS_PROFILE=production: PostgreSQL from DATABASE_URL, Redis from REDIS_URL for the Celery
broker and the cache, SECRET_KEY required. A missing value stops the process at import time.
Every variable is listed in .env.example.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from accounts.request_log import request_log_without_query_strings

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in the production profile.")
    return value


def env_secret(name: str) -> str:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/K8s secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return env_required(name)


# Keys that appear in docs, CI scripts and examples: whoever reads those could sign sessions.
WEAK_SECRET_KEYS = frozenset(
    {"ci", "change-me", "changeme", "secret", "secret-key", "test-secret", "bench", "dev"}
    | {"django-insecure", "insecure", "password", "embedded-profile-only-not-a-secret"}
)
SECRET_KEY_MIN_LENGTH = 32


def refuse_weak_secret_key(key: str) -> str:
    """The production SECRET_KEY, if it is long, varied and not a published value.

    It signs sessions, password-reset links and CSRF tokens; a guessable one gives any login.
    Generate one: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'.
    """
    if (
        len(key) < SECRET_KEY_MIN_LENGTH
        or len(set(key)) < 5
        or key.lower() in WEAK_SECRET_KEYS
        or key.startswith("django-insecure")
    ):
        raise ImproperlyConfigured(
            f"SECRET_KEY is too weak for the production profile: use at least "
            f"{SECRET_KEY_MIN_LENGTH} random characters, e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'."
        )
    return key


PROFILE = env_str("RISKOPS_PROFILE", "embedded")
if PROFILE not in {"embedded", "production"}:
    raise ImproperlyConfigured("RISKOPS_PROFILE must be 'embedded' or 'production'.")
# Under pytest: tasks run eagerly, static files need no collectstatic. (pytest-django imports
# settings before any conftest runs, so the environment cannot be set from there.)
TESTING = "pytest" in sys.modules or env_bool("RISKOPS_TESTING")

# Where the embedded profile keeps its SQLite file, broker folders and beat schedule.
VAR_DIR = Path(env_str("RISKOPS_VAR_DIR", str(BASE_DIR / "var")))

if PROFILE == "production":
    import dj_database_url

    SECRET_KEY = refuse_weak_secret_key(env_secret("SECRET_KEY"))
    DATABASES: dict[str, Any] = {
        "default": dj_database_url.parse(env_required("DATABASE_URL"), conn_max_age=60)
    }
    REDIS_URL = env_required("REDIS_URL")
    CELERY_BROKER_URL = REDIS_URL
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    CELERY_TASK_ALWAYS_EAGER = env_bool("RISKOPS_CELERY_EAGER", TESTING)
else:
    SECRET_KEY = env_str("SECRET_KEY", "embedded-profile-only-not-a-secret")
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("RISKOPS_SQLITE_PATH", str(VAR_DIR / "riskops.sqlite3")),
            # select_for_update() is a no-op on SQLite; IMMEDIATE transactions serialize writers
            # instead, and busy_timeout makes a second writer wait rather than fail at once.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;"
                # A test database is thrown away: no fsync per commit.
                + (" PRAGMA synchronous = OFF;" if TESTING else ""),
            },
            # The test database is a file, never Django's shared in-memory one: with an in-memory
            # database the live server thread of the browser tests borrows the test thread's own
            # connection, so a page polling every 2 s while the test writes ran inside the
            # test's transaction ("A durable atomic block cannot be nested"), or hung the
            # suite. A file gives each thread its own connection (one per test process).
            "TEST": {
                "NAME": env_str(
                    "RISKOPS_SQLITE_TEST_PATH",
                    str(VAR_DIR / f"test-{os.getpid()}.sqlite3"),
                )
            },
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # A real worker on the filesystem transport by default; eager where no worker runs (tests).
    CELERY_TASK_ALWAYS_EAGER = env_bool("RISKOPS_CELERY_EAGER", TESTING)
    CELERY_BROKER_URL = "filesystem://"
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # (platform) kombu's exchange tables; its default is ./control in the current directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }

# Off in both profiles: Django's debug pages list every URL and setting to whoever mistypes an
# address. RISKOPS_DEBUG=1 turns it on, by choice, on a developer's machine.
DEBUG = env_bool("RISKOPS_DEBUG", False)

ALLOWED_HOSTS = [h for h in env_str("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env_str("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    # First: its changepassword command (through accounts.services, audited) must win over
    # django.contrib.auth's, and the first app to name a command wins.
    "accounts",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "template_partials",
    "axes",
    "core",
    "lending",
    "decisions",
    "monitoring",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "accounts.middleware.ContentSecurityPolicyMiddleware",  # django-csp, plus the Swagger page
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: pages for a signed-in person and the API are never cached.
    "accounts.middleware.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.AuditContextMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "riskops.urls"
WSGI_APPLICATION = "riskops.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.navigation",
            ],
        },
    }
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first, so a locked-out user is refused before checking
    "accounts.backends.PasswordBackend",  # Django's ModelBackend; no password sign-in for machines
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Sessions end after 8 idle hours (one working day), and when the browser closes.
SESSION_COOKIE_AGE = env_int("RISKOPS_SESSION_SECONDS", 8 * 60 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PROFILE == "production" and not env_bool("RISKOPS_INSECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Security headers (SecurityMiddleware; accounts.middleware for CSP and Cache-Control).
# HSTS in production: browsers then refuse plain HTTP to this host for a year. Django sends it
# only on HTTPS requests; behind a TLS-terminating proxy set RISKOPS_PROXY_SSL_HEADER=1 so
# Django believes the proxy's X-Forwarded-Proto (only if the proxy always sets it).
SECURE_HSTS_SECONDS = (
    env_int("RISKOPS_HSTS_SECONDS", 365 * 24 * 60 * 60) if PROFILE == "production" else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("RISKOPS_HSTS_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = False  # preloading is a commitment browsers ship; decide it deliberately
if env_bool("RISKOPS_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("RISKOPS_SSL_REDIRECT", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
# Full URLs (search terms included) go only to this site, never to another one.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# django-csp: scripts, styles, images, fonts and requests from this site only; no inline
# script or style, no plugin, no framing, forms post only here. The pages hold to it (STYLE
# §10: no inline scripts, htmx told not to inject its indicator style). The Swagger UI at
# /api/docs/ gets its own, looser policy (accounts.middleware.SWAGGER_UI_POLICY).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# django-axes: 5 failed logins for one username from one address lock it for 30 minutes.
AXES_FAILURE_LIMIT = env_int("RISKOPS_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 0.5  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("简体中文"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
CURRENCY = "CNY"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
# WhiteNoise warns about a missing root until collectstatic has run once.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Manifest storage in production; plain storage in the embedded profile and tests, which
# would otherwise need collectstatic before any template renders.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PROFILE == "production" and not TESTING
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    # JSON in and out, strictly: a depth limit, no lone surrogates, no NaN, numbers as Decimal,
    # the size limit below enforced (DRF's own parser reads past it). Errors come back in one
    # JSON shape (core.api), never as the browsable API's or Django's HTML.
    "DEFAULT_PARSER_CLASSES": ["core.api.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "COERCE_DECIMAL_TO_STRING": True,
}
# The largest body a request may have: Django's default (2.5 MiB), written out because the API
# relies on it (core.api.StrictJSONParser answers 413 above it). The largest valid event batch,
# 1,000 events with every field at its longest, \u-escaped and indented, is about 1.7 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
SPECTACULAR_SETTINGS = {
    "TITLE": "RiskOps API",
    "DESCRIPTION": "Events from the lending core, and the risk-operations API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from drf-spectacular-sidecar, served by us: the doc page works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A case's status in answers, named apart from the case list's ?status= (which adds "active").
    "ENUM_NAME_OVERRIDES": {"CaseStatusEnum": "monitoring.choices.CaseStatus"},
}

# Celery: JSON only, a time limit on every task, results not stored (no task here needs one).
CELERY_TIMEZONE = TIME_ZONE
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # Every minute: the home page's headline figures, recomputed into the cache, so no request
    # waits for the aggregate over the whole book.
    "lending-book-summary": {
        "task": "lending.tasks.book_summary_refresh_task",
        "schedule": 60.0,
    },
    # Every day at 00:05 Shanghai time: close the day that has just ended (penalty booked
    # through it, delinquency transitions recorded, loans at the write-off threshold written
    # off), and any earlier day a missed night left open, in order. Before the snapshot below.
    "lending-day-close": {
        "task": "lending.tasks.day_close_task",
        "schedule": crontab(hour=0, minute=5),
    },
    # Every day at 00:10 Shanghai time: store yesterday's closing book figures (balance by
    # delinquency bucket), the series the trend charts read.
    "lending-book-snapshot": {
        "task": "lending.tasks.book_snapshot_task",
        "schedule": crontab(hour=0, minute=10),
    },
    # Every day at 02:00 Shanghai time, after the day close: re-score the whole book by the
    # champion (and challenger) and review every line by the active limit policy, in chunks
    # of RISKOPS_SCORING_CHUNK borrowers that run as independent tasks.
    "decisions-book-rescore": {
        "task": "decisions.tasks.book_rescore_task",
        "schedule": crontab(hour=2, minute=0),
    },
    # Every day at 03:00 Shanghai time, after the re-scoring: find rings of borrowers linked by
    # shared devices, networks, addresses or contacts, book-wide, and alert their members.
    "monitoring-linked-identities": {
        "task": "monitoring.tasks.linked_identities_check_task",
        "schedule": crontab(hour=3, minute=0),
    },
    # Every day at 03:30 Shanghai time, after the ring check: each active rule version's lift
    # since it went live (30+ DPD within 90 days, alerted vs judged), read by the rules list.
    "monitoring-rule-live-lift": {
        "task": "monitoring.tasks.rule_live_lift_task",
        "schedule": crontab(hour=3, minute=30),
    },
    # Every 5 minutes: alerts left without a case (a grouping that failed after the rules
    # raised them) are grouped into cases.
    "monitoring-alerts-group-pending": {
        "task": "monitoring.tasks.alerts_group_pending_task",
        "schedule": crontab(minute="*/5"),
    },
    # Every 15 minutes: expire override proposals left waiting past
    # RISKOPS_OVERRIDE_EXPIRY_HOURS, so a stale proposal is never approved on old facts.
    "decisions-overrides-expire": {
        "task": "decisions.tasks.overrides_expire_task",
        "schedule": crontab(minute="*/15"),
    },
    # Every day at 00:20 Shanghai time, after the day close: temporary limits whose last day
    # was yesterday return to the limit before them.
    "decisions-temporary-limits-revert": {
        "task": "decisions.tasks.temporary_limits_revert_task",
        "schedule": crontab(hour=0, minute=20),
    },
    # Every minute, only when RISKOPS_DEMO_FEED is on (make run): a few synthetic lending-core
    # events through the real ingestion service, so the demo book keeps moving.
    "demo-event-feed": {
        "task": "demo.tasks.demo_event_feed_task",
        "schedule": crontab(minute="*"),
    },
}
# Borrowers per chunk of the nightly re-scoring (one task each), and the share of the book
# the challenger scorecard acts for (a stable hash of the borrower decides who).
RISKOPS_SCORING_CHUNK = env_int("RISKOPS_SCORING_CHUNK", 20_000)
RISKOPS_CHALLENGER_SHARE = float(env_str("RISKOPS_CHALLENGER_SHARE", "0.1"))
# The key of the keyed hash by which staff search a full national ID (lending.search_keys):
# its own secret so rotating SECRET_KEY does not silently break the search; changing it needs
# the digests recomputed (the lending migration that added them shows how).
RISKOPS_PII_SEARCH_KEY = env_str("RISKOPS_PII_SEARCH_KEY", "")
# Limit overrides (decisions.services.overrides): a proposal waits this long for a decision
# before it expires; an approved change holds the line from the automatic policy this long;
# the approvers' queue marks what waited longer than the SLA; evidence files up to this size.
RISKOPS_OVERRIDE_EXPIRY_HOURS = env_int("RISKOPS_OVERRIDE_EXPIRY_HOURS", 72)
RISKOPS_OVERRIDE_LOCK_DAYS = env_int("RISKOPS_OVERRIDE_LOCK_DAYS", 90)
RISKOPS_OVERRIDE_SLA_HOURS = env_int("RISKOPS_OVERRIDE_SLA_HOURS", 24)
RISKOPS_OVERRIDE_EVIDENCE_MAX_BYTES = env_int("RISKOPS_OVERRIDE_EVIDENCE_MAX_BYTES", 5_242_880)
RISKOPS_OVERRIDE_EVIDENCE_DIR = VAR_DIR / "override-evidence"  # outside the web root
# Synthetic events for the demo (see the beat entry above); never on in production.
RISKOPS_DEMO_FEED = env_bool("RISKOPS_DEMO_FEED", False) and PROFILE != "production"


def _traceback_only_for_server_errors(record: Any) -> bool:
    """Log a refused request (403, 400) on one line; a 500 keeps its traceback.

    django.request logs every PermissionDenied at WARNING with the exception attached, and
    django.security every SuspiciousOperation: a traceback per refusal buried the real errors.
    Records without a status code (a task's logger.exception) keep theirs.
    """
    if getattr(record, "status_code", 500) < 500:
        record.exc_info = None
        record.exc_text = None
    return True


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "traceback_only_for_server_errors": {
            "()": "django.utils.log.CallbackFilter",
            "callback": _traceback_only_for_server_errors,
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["traceback_only_for_server_errors"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("RISKOPS_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
# Request logs keep no query strings: staff search terms (names, last-4 digits) travel in ?q=.
# runserver's request lines are filtered here; gunicorn's access log format is
# accounts.request_log.GUNICORN_ACCESS_LOG_FORMAT (scripts/run).
LOGGING = request_log_without_query_strings(LOGGING)

# Business constants, explained where they are defined.
# Staff roles that may reveal a borrower's full personal data, with a stated reason.
RISKOPS_PII_REVEAL_ROLES = ("senior_analyst", "manager", "head_of_risk", "admin")
# The largest batch POST /api/v1/events/ accepts in one request.
RISKOPS_EVENT_BATCH_MAX = 1000

# Product caps and rates, and the event API's plausible-date window: lending.caps holds each
# default, written once; set one of these variables to change it (validated where it is read).
for _cap in (
    "RISKOPS_APR_CEILING",
    "RISKOPS_PENALTY_RATE_FACTOR",
    "RISKOPS_PRODUCT_LIMIT_CAP",
    "RISKOPS_WRITE_OFF_DPD",
    "RISKOPS_EVENT_BACKDATE_DAYS",
    "RISKOPS_EVENT_CLOCK_SKEW_SECONDS",
):
    if env_str(_cap):
        globals()[_cap] = env_str(_cap)
