"""Patron settings: one file, driven by the environment, SQLite by default.

Every knob a deployment may turn is read from an environment variable here and
documented in the README ("Settings").
"""

import os
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PATRON_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "patron-insecure-development-key-change-me")
# Keys that seal stored secrets (patron/lib/sealed.py), newest first; see README.
SEALING_KEYS = env_list("SEALING_KEYS", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "phonenumber_field",
    "django_tasks_db",
    # Only for its bundled Swagger UI files: the CDN page it serves otherwise runs an
    # inline script that our content security policy refuses.
    "ninja",
    "patron.tenants",
    "patron.contacts",
    "patron.loyalty",
    "patron.rewards",
    "patron.coupons",
    "patron.automations",
    "patron.messaging",
    "patron.portal",
    "patron.integrations",
    "patron.reports",
    "patron.api",
    "patron.audit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Resolves the merchant (API key or staff session) and activates the tenant scope;
    # everything below it runs inside that scope.
    "patron.tenants.middleware.TenantMiddleware",
    # Per-API-key request budget (429 + Retry-After), counted outside the write transaction.
    "patron.audit.ratelimit.RateLimitMiddleware",
    # API writes: one transaction per request and Idempotency-Key replay.
    "patron.api.idempotency.IdempotencyMiddleware",
]

ROOT_URLCONF = "patron.urls"
WSGI_APPLICATION = "patron.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "patron" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "patron.tenants.context_processors.tenant",
            ],
        },
    },
]

# Database: DATABASE_URL, or a SQLite file under var/.
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'patron.sqlite3'}")
# Connections are kept between requests on either database (a new SQLite connection
# opens the file and reads the whole schema again before its first query).
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60"))
    )
}
VAR_DIR.mkdir(parents=True, exist_ok=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue for SQLite's one write lock instead of sleeping for it
    # (patron/lib/sqlite/base.py).
    DATABASES["default"]["ENGINE"] = "patron.lib.sqlite"
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock when a transaction starts, so two writers queue
        # on busy_timeout instead of one failing with "database is locked" at its first
        # write (SQLite cannot upgrade a read transaction that another writer raced).
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
    }
    # One test database file per process, so parallel test runs never share one.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    # PostgreSQL through Django's backend, with a health check that reads the socket
    # instead of asking the server (patron/lib/postgresql/base.py).
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "patron.lib.postgresql"
    # A look at a kept connection's socket before its first use in a request (README,
    # "Running at scale"): off, a restart costs each stale connection a 503.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = (
        os.environ.get("DATABASE_CONN_HEALTH_CHECKS", "1") == "1"
    )
    # Prepared statements (README, "Running at scale"): a statement run a fifth time on a
    # connection is planned once and kept, which saves PostgreSQL planning it again on
    # every write. Off (0) behind a pooler that cannot keep them, PgBouncer before 1.21
    # in transaction mode; on, values travel apart from the SQL (server-side binding).
    if os.environ.get("DATABASE_PREPARED_STATEMENTS", "1") == "1":
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=5
        )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "tenants.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "contacts:list"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Background work through Django's task framework. The embedded default keeps jobs in
# our database; TASKS_BACKEND=rq moves them to RQ on Redis with no change to the code.
TASKS_BACKEND = os.environ.get("TASKS_BACKEND", "database")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
if TASKS_BACKEND == "rq":
    INSTALLED_APPS += ["django_rq", "django_tasks", "django_tasks_rq"]
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": REDIS_URL}}
    # rqworker must build jobs with django-tasks-rq's Job class, which knows how to call
    # a django.tasks Task; RQ's own Job tries to call the Task object and fails.
    RQ = {"JOB_CLASS": "django_tasks_rq.backend.Job"}
elif TASKS_BACKEND == "immediate":
    TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Internationalisation: the staff app and the customer page ship in English and
# Vietnamese.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("vi", _("Vietnamese"))]
LOCALE_PATHS = [BASE_DIR / "patron" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
PHONENUMBER_DEFAULT_FORMAT = "E164"

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "patron" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Static files are served by WhiteNoise straight from the finder in development and
# tests, from STATIC_ROOT (after collectstatic) in production.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Web security. HTTPS=true is the production switch: secure cookies, a redirect to
# HTTPS and HSTS; each can still be turned on its own (README, "Settings").
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
# Behind a proxy that terminates TLS, trust its X-Forwarded-Proto (only set this when
# the proxy overwrites the header from clients).
if env_bool("SECURE_PROXY_SSL", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Django's own Content-Security-Policy header on every response. Scripts and styles come
# from our static files only: no inline <script>, no onclick="..." (behaviours are data-
# attributes handled in patron/static/patron/app.js). A page that truly needs an inline
# script gives it nonce="{{ csp_nonce }}". Style attributes stay allowed because chips
# and charts take their merchant-chosen colour from a CSS custom property
# (style="--chip: #hex"), which cannot run code. A view with other needs (the embeddable
# widget) relaxes it with django.views.decorators.csp.csp_override.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "style-src-attr": [CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

MAILERS = {
    "default": {
        "BACKEND": os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Patron <noreply@localhost>")

# API keys are looked up by hash; the last-used time is written at most this often.
API_KEY_TOUCH_SECONDS = 60
# A process keeps a key it has read this long before reading it again, so a key revoked
# in one process stops working in the others within this many seconds (0: read every time).
API_KEY_CACHE_SECONDS = float(os.environ.get("API_KEY_CACHE_SECONDS", "5"))
# Stored Idempotency-Key answers are kept this long.
IDEMPOTENCY_TTL_HOURS = 24
# Each API key may make API_RATE_LIMIT requests per API_RATE_LIMIT_WINDOW seconds
# (0 turns the limit off); more answer 429 with Retry-After.
API_RATE_LIMIT = int(os.environ.get("API_RATE_LIMIT", "1200"))
API_RATE_LIMIT_WINDOW = int(os.environ.get("API_RATE_LIMIT_WINDOW", "60"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
PATRON_PERIODIC_TASKS: list[tuple[str, int]] = []
PATRON_PERIODIC_TASKS += [
    ("patron.loyalty.tasks.lots_activate_due", 300),
    ("patron.loyalty.tasks.lots_expire_due", 300),
    ("patron.loyalty.tasks.tiers_evaluate", 86400),
    ("patron.loyalty.tasks.birthday_bonuses_give", 3600),
]
PATRON_PERIODIC_TASKS += [("patron.messaging.tasks.messages_deliver_due", 60)]
PATRON_PERIODIC_TASKS += [("patron.coupons.tasks.coupons_expire_due", 300)]
PATRON_PERIODIC_TASKS += [("patron.portal.tasks.codes_purge", 3600)]
PATRON_PERIODIC_TASKS += [
    ("patron.integrations.tasks.webhooks_retry_due", 30),
    ("patron.integrations.tasks.imports_resume", 60),
    ("patron.integrations.tasks.coupon_syncs_due", 30),
]
PATRON_PERIODIC_TASKS += [("patron.audit.tasks.ratelimit_windows_prune", 3600)]
PATRON_PERIODIC_TASKS += [("patron.reports.tasks.rank_bands_compact", 60)]
PATRON_PERIODIC_TASKS += [
    ("patron.automations.tasks.run_due_steps", 1),
    ("patron.automations.tasks.run_date_triggers", 300),
]

# Automations engine: how long a worker holds a claimed step before another may take it
# over, how often a failing step is tried, and the first retry delay (doubling after).
AUTOMATIONS_LEASE_SECONDS = int(os.environ.get("AUTOMATIONS_LEASE_SECONDS", "60"))
AUTOMATIONS_MAX_ATTEMPTS = int(os.environ.get("AUTOMATIONS_MAX_ATTEMPTS", "5"))
AUTOMATIONS_RETRY_BASE_SECONDS = int(os.environ.get("AUTOMATIONS_RETRY_BASE_SECONDS", "30"))
